/**
 * Authenticated fetch wrapper for the Tasks API.
 *
 * Every request carries `Authorization: Bearer <jwt>` from the token cache. A 401 gets one
 * refresh-and-retry; a second 401 (or no session at all) signs the user out and sends them
 * to `/sign-in?next=<current path>`. Failures surface as `ApiError` with the API's `code`.
 * The client has one exit: a deliberate sign-out and a refused request share it, so a request
 * that meets the ended session while the user signs out cannot start a second navigation.
 * All side effects (token source, fetch, sign-out, navigation) are injected for testing.
 */

import {
  createTokenCache,
  NotSignedInError,
  type TokenCache,
  type TokenGetter,
} from "./token-cache";

/** An error answer from the Tasks API (`{"detail": ..., "code": ...}`) or the network. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;

  constructor(status: number, code: string, detail: unknown, message?: string) {
    super(message ?? describeDetail(status, detail));
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function describeDetail(status: number, detail: unknown): string {
  if (typeof detail === "string" && detail !== "") return detail;
  if (Array.isArray(detail)) {
    // FastAPI validation errors: [{loc, msg, type}, ...]
    const messages = detail
      .map((item: unknown) =>
        typeof item === "object" && item !== null && "msg" in item ? String(item.msg) : null,
      )
      .filter((msg): msg is string => msg !== null);
    if (messages.length > 0) return messages.join("; ");
  }
  return `Request failed (HTTP ${status})`;
}

export interface ApiClientDeps {
  /** Base URL of the Tasks API, e.g. http://localhost:8000 (no trailing slash needed). */
  baseUrl: string;
  /** Mints a fresh JWT; throws `NotSignedInError` when there is no session. */
  getToken: TokenGetter;
  fetch: typeof fetch;
  signOut: () => Promise<void>;
  navigate: (url: string) => void;
  /** Path (with query) to come back to after signing in again. */
  currentPath: () => string;
  /** Clock in milliseconds; injectable for the token-expiry tests. */
  now?: () => number;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Serialised as JSON. */
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiClient {
  request<T>(path: string, options?: RequestOptions): Promise<T>;
  /** Drop the cached token (call when the organization changes). */
  clearToken(): void;
  /**
   * Signs out on purpose and goes to `/sign-in`. Requests that fail meanwhile join this exit
   * rather than starting their own; if a refused request started one first, this joins it.
   */
  signOut(): Promise<void>;
}

/** Code of the `ApiError` raised after the user has been sent to the sign-in page. */
export const SIGNED_OUT_CODE = "signed_out";

/** `/sign-in?next=...` for a path inside this app; anything else falls back to `/tasks`. */
export function signInUrl(nextPath: string): string {
  return `/sign-in?next=${encodeURIComponent(safeNextPath(nextPath))}`;
}

/** Accepts only same-origin absolute paths, so `next` can never redirect off-site. */
export function safeNextPath(candidate: string | null | undefined): string {
  if (!candidate || !candidate.startsWith("/") || candidate.startsWith("//")) return "/tasks";
  if (candidate.includes("\\") || /[\u0000-\u001f]/.test(candidate)) return "/tasks";
  return candidate;
}

export function createApiClient(deps: ApiClientDeps): ApiClient {
  const tokens: TokenCache = createTokenCache(deps.getToken, deps.now);

  function buildUrl(path: string, query: RequestOptions["query"]): string {
    const url = new URL(path, deps.baseUrl.endsWith("/") ? deps.baseUrl : `${deps.baseUrl}/`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") {
        url.searchParams.set(key, String(value));
      }
    }
    return url.toString();
  }

  let leaving: Promise<void> | null = null;

  /** Clears the token, ends the session and navigates to `target`, once: later callers join. */
  function leave(target: string): Promise<void> {
    leaving ??= (async () => {
      tokens.clear();
      try {
        await deps.signOut();
      } catch {
        // The session may already be gone on the server; leaving is what matters.
      }
      deps.navigate(target);
    })();
    return leaving;
  }

  /** Leaves for sign-in, coming back here afterwards; concurrent failures share the exit. */
  async function sendToSignIn(): Promise<never> {
    await leave(signInUrl(deps.currentPath()));
    throw new ApiError(401, SIGNED_OUT_CODE, "Your session has ended. Please sign in again.");
  }

  async function tokenOrSignIn(fetchToken: () => Promise<string>): Promise<string> {
    try {
      return await fetchToken();
    } catch (error) {
      if (error instanceof NotSignedInError) return sendToSignIn();
      throw new ApiError(0, "token_unavailable", "Could not get an access token.");
    }
  }

  async function send(url: string, token: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: "application/json",
      ...options.headers,
      Authorization: `Bearer ${token}`,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    try {
      return await deps.fetch(url, {
        method: options.method ?? "GET",
        headers,
        body,
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", "Could not reach the Tasks API.");
    }
  }

  async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const url = buildUrl(path, options.query);
    let token = await tokenOrSignIn(() => tokens.get());
    let response = await send(url, token, options);
    if (response.status === 401) {
      token = await tokenOrSignIn(() => tokens.refresh(token));
      response = await send(url, token, options);
      if (response.status === 401) return sendToSignIn();
    }
    return parseResponse<T>(response);
  }

  return { request, clearToken: () => tokens.clear(), signOut: () => leave("/sign-in") };
}

async function parseResponse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let payload: unknown = undefined;
  if (text !== "") {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined;
    }
  }
  if (!response.ok) {
    const body =
      typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>) : {};
    const code = typeof body.code === "string" ? body.code : `http_${response.status}`;
    throw new ApiError(response.status, code, body.detail ?? null);
  }
  return payload as T;
}
