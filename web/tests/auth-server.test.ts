/**
 * The real Better Auth server config (lib/auth.ts) in-process, on a SQLite file that was
 * created before organizations and API keys existed: the migration adds their tables, the JWT
 * for the Tasks API carries the active organization and the member's role, the add-member
 * route lets only owners and admins in, and API keys get the tasks permissions and stop
 * working once revoked.
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { bearer, jwt } from "better-auth/plugins";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Auth } from "@/lib/auth";

const BASE_URL = "http://localhost:3999";
const PASSWORD = "correct-horse-battery-staple";

let dir: string;
let dbPath: string;
let auth: Auth;
let POST: (request: Request) => Promise<Response>;

/** The schema lib/auth.ts had before this change: email + password, jwt(), bearer(). */
async function createOldDatabase(file: string): Promise<void> {
  const database = new Database(file);
  const old = betterAuth({
    baseURL: BASE_URL,
    secret: "x".repeat(40),
    database,
    emailAndPassword: { enabled: true },
    plugins: [jwt(), bearer()],
  });
  const { runMigrations } = await getMigrations(old.options);
  await runMigrations();
  database.close();
}

function columns(table: string): string[] {
  const database = new Database(dbPath, { readonly: true });
  try {
    const rows = database.prepare(`PRAGMA table_info("${table}")`).all() as Array<{
      name: string;
    }>;
    return rows.map((row) => row.name);
  } finally {
    database.close();
  }
}

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** Signs a user up; their session token works as a bearer credential (bearer plugin). */
async function signUp(name: string) {
  const email = `${name}-${Math.random().toString(16).slice(2)}@example.com`;
  const result = await auth.api.signUpEmail({ body: { name, email, password: PASSWORD } });
  if (!result.token) throw new Error("sign-up returned no session token");
  const headers = new Headers({ authorization: `Bearer ${result.token}` });
  return { id: result.user.id, email, headers };
}

async function jwtClaims(headers: Headers): Promise<Record<string, unknown>> {
  const { token } = await auth.api.getToken({ headers });
  return claimsOf(token);
}

function addMemberRequest(headers: Headers, body: unknown, origin = BASE_URL): Request {
  const all = new Headers(headers);
  all.set("content-type", "application/json");
  all.set("origin", origin);
  return new Request(`${BASE_URL}/api/organization/members`, {
    method: "POST",
    headers: all,
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "authbridge-web-auth-"));
  dbPath = path.join(dir, "auth.db");
  await createOldDatabase(dbPath);
  process.env.AUTH_DB_PATH = dbPath;
  process.env.BETTER_AUTH_URL = BASE_URL;
  process.env.BETTER_AUTH_SECRET = "test-secret-".padEnd(48, "s");
  const { getAuth } = await import("@/lib/auth");
  auth = await getAuth();
  ({ POST } = await import("@/app/api/organization/members/route"));
}, 60_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("migrations on an existing database", () => {
  it("adds the organization and API key tables and the session's active organization", () => {
    expect(columns("organization")).toEqual(expect.arrayContaining(["id", "name", "slug"]));
    expect(columns("member")).toEqual(
      expect.arrayContaining(["organizationId", "userId", "role"]),
    );
    expect(columns("invitation")).toContain("organizationId");
    expect(columns("apikey")).toEqual(expect.arrayContaining(["referenceId", "permissions"]));
    expect(columns("session")).toContain("activeOrganizationId");
  });
});

describe("the JWT for the Tasks API", () => {
  it("is the user object alone while no organization is active", async () => {
    const alice = await signUp("alice");
    const claims = await jwtClaims(alice.headers);
    expect(claims).toMatchObject({ sub: alice.id, email: alice.email, name: "alice" });
    expect(claims).not.toHaveProperty("activeOrganizationId");
    expect(claims).not.toHaveProperty("organizationRole");
  });

  it("carries the active organization and the member's role, and follows a switch", async () => {
    const owner = await signUp("owner");
    const member = await signUp("member");
    const org = await auth.api.createOrganization({
      body: { name: "Acme", slug: `acme-${owner.id.slice(0, 8)}` },
      headers: owner.headers,
    });
    if (!org) throw new Error("no organization");
    // Creating an organization makes it the creator's active one.
    expect(await jwtClaims(owner.headers)).toMatchObject({
      sub: owner.id,
      activeOrganizationId: org.id,
      organizationRole: "owner",
    });

    const added = await POST(
      addMemberRequest(owner.headers, { organizationId: org.id, email: member.email }),
    );
    expect(added.status).toBe(201);
    expect(await added.json()).toEqual({ userId: member.id, email: member.email, role: "member" });

    await auth.api.setActiveOrganization({
      body: { organizationId: org.id },
      headers: member.headers,
    });
    expect(await jwtClaims(member.headers)).toMatchObject({
      sub: member.id,
      activeOrganizationId: org.id,
      organizationRole: "member",
    });

    await auth.api.setActiveOrganization({
      body: { organizationId: null },
      headers: member.headers,
    });
    expect(await jwtClaims(member.headers)).not.toHaveProperty("activeOrganizationId");
  });
});

describe("a member removed while the organization is active", () => {
  it("gets a JWT naming no organization", async () => {
    const owner = await signUp("owner3");
    const member = await signUp("member3");
    const org = await auth.api.createOrganization({
      body: { name: "Initech", slug: `initech-${owner.id.slice(0, 8)}` },
      headers: owner.headers,
    });
    if (!org) throw new Error("no organization");
    await POST(addMemberRequest(owner.headers, { organizationId: org.id, email: member.email }));
    await auth.api.setActiveOrganization({
      body: { organizationId: org.id },
      headers: member.headers,
    });
    expect(await jwtClaims(member.headers)).toMatchObject({ activeOrganizationId: org.id });

    await auth.api.removeMember({
      body: { memberIdOrEmail: member.email, organizationId: org.id },
      headers: owner.headers,
    });
    const claims = await jwtClaims(member.headers);
    expect(claims).not.toHaveProperty("activeOrganizationId");
    expect(claims).not.toHaveProperty("organizationRole");
  });
});

describe("POST /api/organization/members", () => {
  it("refuses members, strangers, foreign origins, unknown e-mails and duplicates", async () => {
    const owner = await signUp("owner2");
    const member = await signUp("member2");
    const stranger = await signUp("stranger");
    const org = await auth.api.createOrganization({
      body: { name: "Globex", slug: `globex-${owner.id.slice(0, 8)}` },
      headers: owner.headers,
    });
    if (!org) throw new Error("no organization");
    const body = { organizationId: org.id, email: member.email };

    expect((await POST(addMemberRequest(owner.headers, body))).status).toBe(201);
    expect((await POST(addMemberRequest(owner.headers, body))).status).toBe(409);

    const byMember = await POST(
      addMemberRequest(member.headers, { organizationId: org.id, email: stranger.email }),
    );
    expect(byMember.status).toBe(403);
    const byStranger = await POST(
      addMemberRequest(stranger.headers, { organizationId: org.id, email: stranger.email }),
    );
    expect(byStranger.status).toBe(403);

    const foreign = await POST(addMemberRequest(owner.headers, body, "https://evil.example"));
    expect(foreign.status).toBe(403);
    const anonymous = await POST(addMemberRequest(new Headers(), body));
    expect(anonymous.status).toBe(401);
    const unknown = await POST(
      addMemberRequest(owner.headers, { organizationId: org.id, email: "nobody@example.com" }),
    );
    expect(unknown.status).toBe(404);
    const bad = await POST(addMemberRequest(owner.headers, { organizationId: org.id }));
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ code: "invalid_email" });
  });
});

describe("API keys", () => {
  it("get the tasks permissions, act as their owner, and stop working when revoked", async () => {
    const owner = await signUp("scripter");
    const created = await auth.api.createApiKey({ body: { name: "cli" }, headers: owner.headers });
    expect(created.permissions).toEqual({ tasks: ["read", "write"] });

    // With enableSessionForAPIKeys, get-session answers for the key's owner.
    const keyHeaders = new Headers({ "x-api-key": created.key });
    const session = await auth.api.getSession({ headers: keyHeaders });
    expect(session?.user.id).toBe(owner.id);

    await auth.api.deleteApiKey({ body: { keyId: created.id }, headers: owner.headers });
    await expect(auth.api.getSession({ headers: keyHeaders })).rejects.toMatchObject({
      statusCode: 401,
    });
  });
});

describe("Better Auth's per-address rate limit", () => {
  it("gives get-session with an API key (the Tasks API's checks) a larger bucket", async () => {
    const { RATE_LIMIT_RULES } = await import("@/lib/auth");
    const current = { window: 10, max: 100 };
    const keyed = new Request(`${BASE_URL}/api/auth/get-session`, {
      headers: { "x-api-key": "k".repeat(64) },
    });
    const plain = new Request(`${BASE_URL}/api/auth/get-session`);
    expect(RATE_LIMIT_RULES["/get-session"](keyed, current)).toEqual({ window: 10, max: 1000 });
    expect(RATE_LIMIT_RULES["/get-session"](plain, current)).toBe(current);
  });
});
