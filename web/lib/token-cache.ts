/**
 * In-memory cache for the short-lived JWT that the Tasks API accepts.
 *
 * A token is reused until 30 seconds before its `exp`; concurrent callers that need a new
 * token share one in-flight request (single flight), so a burst of API calls costs one
 * `/api/auth/token` round trip.
 */

/** Seconds before `exp` at which a cached token is treated as expired. */
export const EXPIRY_MARGIN_SECONDS = 30;

/** Returns a fresh JWT for the signed-in user, or throws (e.g. `NotSignedInError`). */
export type TokenGetter = () => Promise<string>;

/** Thrown by a token getter when there is no valid session to mint a token from. */
export class NotSignedInError extends Error {
  constructor() {
    super("Not signed in");
    this.name = "NotSignedInError";
  }
}

/** Reads `exp` (seconds since the epoch) from a compact JWS without verifying it. */
export function readTokenExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (payload === undefined || payload === "") return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const claims: unknown = JSON.parse(decodeBase64(padded));
    if (typeof claims !== "object" || claims === null) return null;
    const exp = (claims as Record<string, unknown>).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

function decodeBase64(value: string): string {
  const binary = atob(value);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export interface TokenCache {
  /** A token valid for at least the margin, from the cache or a (shared) fresh request. */
  get(): Promise<string>;
  /**
   * A token other than `rejected` (which the API refused). Callers that saw the same
   * rejected token share one refresh; a newer cached token is returned as is.
   */
  refresh(rejected: string): Promise<string>;
  /** Forget the cached token (on sign-out). */
  clear(): void;
}

export function createTokenCache(getToken: TokenGetter, now: () => number = Date.now): TokenCache {
  let cached: { token: string; freshUntilMs: number } | null = null;
  let inFlight: Promise<string> | null = null;
  // Bumped by clear(), so a request started before sign-out cannot refill the cache.
  let generation = 0;

  function fetchShared(): Promise<string> {
    if (inFlight !== null) return inFlight;
    const startedIn = generation;
    const request: Promise<string> = Promise.resolve()
      .then(getToken)
      .then((token) => {
        const exp = readTokenExpiry(token);
        if (startedIn === generation && exp !== null) {
          cached = { token, freshUntilMs: (exp - EXPIRY_MARGIN_SECONDS) * 1000 };
        }
        return token;
      })
      .finally(() => {
        if (inFlight === request) inFlight = null;
      });
    inFlight = request;
    return request;
  }

  function fresh(): string | null {
    return cached !== null && now() < cached.freshUntilMs ? cached.token : null;
  }

  return {
    get() {
      const token = fresh();
      return token !== null ? Promise.resolve(token) : fetchShared();
    },
    refresh(rejected) {
      if (inFlight !== null) return inFlight;
      const token = fresh();
      if (token !== null && token !== rejected) return Promise.resolve(token);
      cached = null;
      return fetchShared();
    },
    clear() {
      cached = null;
      inFlight = null;
      generation += 1;
    },
  };
}
