/**
 * The pure organization rules: the JWT's organization claims, who may add members, the
 * add-member body checks and answers, organization slugs, and Better Auth result unwrapping.
 */

import { describe, expect, it, vi } from "vitest";

import {
  addMemberByEmail,
  canManageMembers,
  parseAddMemberBody,
  type AddMemberDeps,
} from "@/lib/add-member";
import { AuthCallError, check, organizationSlug, unwrap } from "@/lib/auth-result";
import { organizationClaims } from "@/lib/org-claims";

describe("organizationClaims", () => {
  it("is empty without an active organization, and never looks a member up", async () => {
    const lookup = vi.fn(async () => "owner");
    expect(await organizationClaims(null, "u1", lookup)).toEqual({});
    expect(await organizationClaims(undefined, "u1", lookup)).toEqual({});
    expect(await organizationClaims("", "u1", lookup)).toEqual({});
    expect(lookup).not.toHaveBeenCalled();
  });

  it("names the organization and the caller's role in it", async () => {
    const lookup = vi.fn(async () => "admin");
    expect(await organizationClaims("org1", "u1", lookup)).toEqual({
      activeOrganizationId: "org1",
      organizationRole: "admin",
    });
    expect(lookup).toHaveBeenCalledWith("org1", "u1");
  });

  it("names no organization for a user who is no longer a member", async () => {
    expect(await organizationClaims("org1", "u1", async () => null)).toEqual({});
  });
});

describe("canManageMembers", () => {
  it("allows owners and admins, also among several roles", () => {
    expect(canManageMembers("owner")).toBe(true);
    expect(canManageMembers("admin")).toBe(true);
    expect(canManageMembers("member, admin")).toBe(true);
    expect(canManageMembers("member")).toBe(false);
    expect(canManageMembers("")).toBe(false);
    expect(canManageMembers(null)).toBe(false);
  });
});

describe("parseAddMemberBody", () => {
  it("normalises the e-mail and defaults the role to member", () => {
    expect(parseAddMemberBody({ organizationId: " o1 ", email: " Bob@Example.COM " })).toEqual({
      organizationId: "o1",
      email: "bob@example.com",
      role: "member",
    });
  });

  it.each([
    [null, "invalid_body"],
    [[], "invalid_body"],
    [{ email: "a@b.c" }, "invalid_organizationId"],
    [{ organizationId: "o1", email: "not an address" }, "invalid_email"],
    [{ organizationId: "o1", email: 42 }, "invalid_email"],
    [{ organizationId: "o1", email: "a@b.c", role: "owner" }, "invalid_role"],
  ])("answers 422 naming the field for %j", (body, code) => {
    expect(parseAddMemberBody(body)).toMatchObject({ status: 422, body: { code } });
  });
});

function deps(overrides: Partial<AddMemberDeps> = {}) {
  const roles: Record<string, string> = { "org1:owner": "owner", "org1:member": "member" };
  const added: string[] = [];
  const all: AddMemberDeps = {
    callerId: "owner",
    memberRole: async (org, user) => roles[`${org}:${user}`] ?? null,
    findUserIdByEmail: async (email) =>
      ({ "bob@example.com": "bob", "m@example.com": "member" })[email] ?? null,
    addMember: async (org, user, role) => {
      added.push(`${org}:${user}:${role}`);
    },
    ...overrides,
  };
  return { deps: all, added };
}

describe("addMemberByEmail", () => {
  it("adds an existing account when an owner asks", async () => {
    const { deps: d, added } = deps();
    const result = await addMemberByEmail(d, { organizationId: "org1", email: "bob@example.com" });
    expect(result).toEqual({
      status: 201,
      body: { userId: "bob", email: "bob@example.com", role: "member" },
    });
    expect(added).toEqual(["org1:bob:member"]);
  });

  it.each([
    ["no session", { callerId: null }, "bob@example.com", 401],
    ["a plain member", { callerId: "member" }, "bob@example.com", 403],
    ["a stranger", { callerId: "someone" }, "bob@example.com", 403],
    ["an unknown e-mail", {}, "nobody@example.com", 404],
    ["an existing member", {}, "m@example.com", 409],
  ] as const)("refuses %s", async (_label, override, email, status) => {
    const { deps: d, added } = deps(override);
    const result = await addMemberByEmail(d, { organizationId: "org1", email });
    expect(result.status).toBe(status);
    expect(added).toEqual([]);
  });

  it("checks the session before the body", async () => {
    const { deps: d } = deps({ callerId: null });
    expect((await addMemberByEmail(d, "garbage")).status).toBe(401);
  });
});

describe("organizationSlug", () => {
  it("keeps letters and digits, joins the rest with dashes and adds a random tail", () => {
    expect(organizationSlug("  Acme & Söns, Ltd. ", () => "abcd")).toBe("acme-sons-ltd-abcd");
    expect(organizationSlug("!!!", () => "abcd")).toBe("org-abcd");
    expect(organizationSlug("Acme")).toMatch(/^acme-[0-9a-f]{8}$/);
  });
});

describe("unwrap", () => {
  it("returns the data or throws the error with its status", () => {
    expect(unwrap({ data: { id: 1 }, error: null })).toEqual({ id: 1 });
    expect(() => unwrap({ data: null, error: { status: 403, message: "No" } })).toThrow(
      new AuthCallError(403, "No"),
    );
    try {
      unwrap({ data: null, error: { status: 500, statusText: "Server Error" } });
    } catch (error) {
      expect(error).toMatchObject({ status: 500, message: "Server Error" });
    }
    expect(() => unwrap({ data: null, error: null })).toThrow(AuthCallError);
  });

  it("check accepts a null answer (set-active to personal) but not an error", () => {
    expect(check({ data: null, error: null })).toBeNull();
    expect(() => check({ data: null, error: { status: 401 } })).toThrow(
      "Request failed (HTTP 401)",
    );
  });
});
