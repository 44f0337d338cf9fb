/**
 * The organization claims of the JWT the web app hands the Tasks API.
 *
 * authbridge reads `activeOrganizationId` and `organizationRole` (its default claim names) into
 * the Principal, and the Tasks API's team routes use them. Both are left out when the session
 * has no active organization, so a personal token looks exactly as before organizations, and
 * when the user is no longer a member of it.
 * Kept free of Better Auth imports so the rule can be unit-tested with a fake member lookup.
 */

export interface OrganizationClaims {
  activeOrganizationId?: string;
  organizationRole?: string;
}

/** The member row's role for (organizationId, userId), or null when not a member. */
export type MemberRoleLookup = (organizationId: string, userId: string) => Promise<string | null>;

/** `activeOrganizationId` is the session's (unknown: Better Auth types extra fields as any). */
export async function organizationClaims(
  activeOrganizationId: unknown,
  userId: string,
  lookupRole: MemberRoleLookup,
): Promise<OrganizationClaims> {
  if (typeof activeOrganizationId !== "string" || activeOrganizationId === "") return {};
  const organizationId = activeOrganizationId;
  const role = await lookupRole(organizationId, userId);
  // A session can still point at an organization the user has been removed from. Naming it
  // would let the token read that organization's tasks (the API lets any member list them),
  // so a non-member's token carries no organization at all.
  return role ? { activeOrganizationId: organizationId, organizationRole: role } : {};
}
