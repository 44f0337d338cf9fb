/** Better Auth client calls answer `{data, error}`; these turn that into values and throws. */

/** An error answer from a Better Auth endpoint, with its HTTP status. */
export class AuthCallError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "AuthCallError";
    this.status = status;
  }
}

interface CallResult<T> {
  data: T | null;
  error: { status: number; message?: string | undefined; statusText?: string } | null;
}

/** Throws `AuthCallError` for a failed call; for calls whose answer may be null. */
export function check<T>(result: CallResult<T>): T | null {
  if (result.error) {
    const { status, message, statusText } = result.error;
    throw new AuthCallError(status, message || statusText || `Request failed (HTTP ${status})`);
  }
  return result.data;
}

/** The data of a successful call; a failed or empty one throws `AuthCallError`. */
export function unwrap<T>(result: CallResult<T>): T {
  const data = check(result);
  if (data === null) throw new AuthCallError(0, "The auth server sent no answer.");
  return data;
}

/** A URL-safe slug for an organization name, with a random tail so names may repeat. */
export function organizationSlug(name: string, random: () => string = randomTail): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${base || "org"}-${random()}`;
}

function randomTail(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
