/** Server-side session lookup for pages: who is signed in, per the `session` table. */

import "server-only";

import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { getAuth } from "./auth";
import { signInUrl } from "./api";

export interface SignedInUser {
  id: string;
  email: string;
  name: string;
  /** The session's active organization (team tasks), or null for personal tasks. */
  activeOrganizationId: string | null;
}

export async function currentUser(): Promise<SignedInUser | null> {
  const auth = await getAuth();
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) return null;
  return {
    id: session.user.id,
    email: session.user.email,
    name: session.user.name,
    activeOrganizationId: session.session.activeOrganizationId ?? null,
  };
}

/** The signed-in user, or a redirect to `/sign-in?next=<returnTo>`. */
export async function requireUser(returnTo: string): Promise<SignedInUser> {
  const user = await currentUser();
  if (user === null) redirect(signInUrl(returnTo));
  return user;
}

/** The Tasks API base URL, read at request time so a built app can be pointed elsewhere. */
export function apiBaseUrl(): string {
  // Indexed access keeps Next from inlining the build-time value.
  const name = "NEXT_PUBLIC_API_URL";
  return process.env[name] || "http://localhost:8000";
}
