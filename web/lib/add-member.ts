/**
 * "Add a member by e-mail": the rule behind POST /api/organization/members.
 *
 * Better Auth's `addMember` is a server-only call that trusts its caller, so this is where the
 * caller is checked: signed in, and owner or admin of the organization. The person added must
 * already have an account (no invitation e-mails). Storage and Better Auth are injected, so
 * every answer can be unit-tested; the route handler wires them.
 */

export const ASSIGNABLE_ROLES = ["member", "admin"] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

/** Roles allowed to add members. */
const MANAGER_ROLES = new Set(["owner", "admin"]);

export interface AddMemberDeps {
  /** The signed-in caller's user id, or null without a session. */
  callerId: string | null;
  /** The member's role (Better Auth stores several as "a,b"), or null if not a member. */
  memberRole(organizationId: string, userId: string): Promise<string | null>;
  findUserIdByEmail(email: string): Promise<string | null>;
  addMember(organizationId: string, userId: string, role: AssignableRole): Promise<void>;
}

export interface AddMemberResult {
  status: 201 | 401 | 403 | 404 | 409 | 422;
  body: Record<string, unknown>;
}

function problem(status: AddMemberResult["status"], code: string, detail: string) {
  return { status, body: { code, detail } };
}

/** True if any of the comma-separated roles may manage members. */
export function canManageMembers(role: string | null): boolean {
  return (role ?? "").split(",").some((one) => MANAGER_ROLES.has(one.trim()));
}

interface ValidInput {
  organizationId: string;
  email: string;
  role: AssignableRole;
}

/** The body's fields, or the 422 that names the first bad one. */
export function parseAddMemberBody(body: unknown): ValidInput | AddMemberResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return problem(422, "invalid_body", "The body must be a JSON object.");
  }
  const fields = body as Record<string, unknown>;
  const { organizationId, email } = fields;
  if (typeof organizationId !== "string" || organizationId.trim() === "") {
    return problem(
      422,
      "invalid_organizationId",
      "organizationId: a non-empty string is required.",
    );
  }
  if (typeof email !== "string" || !/^[^\s@]+@[^\s@]+$/.test(email.trim()) || email.length > 320) {
    return problem(422, "invalid_email", "email: an e-mail address is required.");
  }
  const role = fields.role ?? "member";
  if (typeof role !== "string" || !(ASSIGNABLE_ROLES as readonly string[]).includes(role)) {
    return problem(422, "invalid_role", `role: one of ${ASSIGNABLE_ROLES.join(", ")}.`);
  }
  return {
    organizationId: organizationId.trim(),
    // Better Auth stores e-mail addresses in lower case.
    email: email.trim().toLowerCase(),
    role: role as AssignableRole,
  };
}

export async function addMemberByEmail(
  deps: AddMemberDeps,
  body: unknown,
): Promise<AddMemberResult> {
  if (deps.callerId === null) return problem(401, "not_signed_in", "Sign in first.");
  const input = parseAddMemberBody(body);
  if ("status" in input) return input;
  const callerRole = await deps.memberRole(input.organizationId, deps.callerId);
  if (!canManageMembers(callerRole)) {
    // Same answer for "no such organization" and "not yours": never reveal which exist.
    return problem(403, "forbidden", "Only the organization's owners and admins can add members.");
  }
  const userId = await deps.findUserIdByEmail(input.email);
  if (userId === null) {
    return problem(404, "no_such_user", `Nobody has an account with ${input.email} yet.`);
  }
  if ((await deps.memberRole(input.organizationId, userId)) !== null) {
    return problem(409, "already_member", `${input.email} is already a member.`);
  }
  await deps.addMember(input.organizationId, userId, input.role);
  return { status: 201, body: { userId, email: input.email, role: input.role } };
}
