/**
 * The API client's token handling: caching until exp-30s, single-flight refresh, one
 * refresh-and-retry on 401, and sign-out + redirect when the retry is refused too.
 */

import { describe, expect, it, vi } from "vitest";

import {
  ApiError,
  createApiClient,
  safeNextPath,
  SIGNED_OUT_CODE,
  type ApiClientDeps,
} from "@/lib/api";
import { NotSignedInError, readTokenExpiry } from "@/lib/token-cache";

const BASE = "http://api.test";
const T0 = 1_800_000_000_000; // ms; a fixed "now"

/** An unsigned JWT-shaped string with the given claims (the client never verifies). */
function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "EdDSA", kid: "k1" })}.${encode(claims)}.c2ln`;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

interface Harness {
  deps: ApiClientDeps;
  clock: { now: number };
  getToken: ReturnType<typeof vi.fn<() => Promise<string>>>;
  fetch: ReturnType<typeof vi.fn<typeof fetch>>;
  signOut: ReturnType<typeof vi.fn<() => Promise<void>>>;
  navigate: ReturnType<typeof vi.fn<(url: string) => void>>;
  issued: string[];
}

/** Token source minting distinct tokens that expire `lifetimeS` seconds after "now". */
function harness(respond: (token: string, url: string) => Response, lifetimeS = 900): Harness {
  const clock = { now: T0 };
  const issued: string[] = [];
  const getToken = vi.fn(async () => {
    const iat = Math.floor(clock.now / 1000);
    const token = fakeJwt({ sub: "u1", iat, exp: iat + lifetimeS, n: issued.length });
    issued.push(token);
    return token;
  });
  const fetchMock = vi.fn<typeof fetch>(async (input, init) => {
    const auth = new Headers(init?.headers).get("authorization") ?? "";
    return respond(auth.replace(/^Bearer /, ""), String(input));
  });
  const signOut = vi.fn(async () => {});
  const navigate = vi.fn<(url: string) => void>();
  const deps: ApiClientDeps = {
    baseUrl: BASE,
    getToken,
    fetch: fetchMock,
    signOut,
    navigate,
    currentPath: () => "/tasks?view=open",
    now: () => clock.now,
  };
  return { deps, clock, getToken, fetch: fetchMock, signOut, navigate, issued };
}

const ok = () => json(200, { items: [], next_cursor: null });

describe("token caching", () => {
  it("reuses the token until 30 s before exp, then fetches a new one", async () => {
    const h = harness(ok);
    const api = createApiClient(h.deps);

    await api.request("/api/tasks");
    h.clock.now = T0 + (900 - 31) * 1000; // 31 s before exp: still fresh
    await api.request("/api/tasks");
    expect(h.getToken).toHaveBeenCalledTimes(1);

    h.clock.now = T0 + (900 - 30) * 1000; // inside the 30 s margin
    await api.request("/api/tasks");
    expect(h.getToken).toHaveBeenCalledTimes(2);

    const sent = h.fetch.mock.calls.map(([, init]) =>
      new Headers(init?.headers).get("authorization"),
    );
    expect(sent).toEqual([
      `Bearer ${h.issued[0]}`,
      `Bearer ${h.issued[0]}`,
      `Bearer ${h.issued[1]}`,
    ]);
  });

  it("shares one token request among concurrent callers (single flight)", async () => {
    const h = harness(ok);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const minted = h.getToken.getMockImplementation()!;
    h.getToken.mockImplementation(async () => {
      await gate;
      return minted();
    });
    const api = createApiClient(h.deps);

    const calls = Array.from({ length: 10 }, () => api.request("/api/tasks"));
    release();
    await Promise.all(calls);

    expect(h.getToken).toHaveBeenCalledTimes(1);
    expect(h.fetch).toHaveBeenCalledTimes(10);
  });

  it("does not cache a token without a readable exp", async () => {
    const h = harness(ok);
    h.getToken.mockImplementation(async () => "not-a-jwt");
    const api = createApiClient(h.deps);
    await api.request("/a");
    await api.request("/b");
    expect(h.getToken).toHaveBeenCalledTimes(2);
  });

  it("reads exp from a base64url payload", () => {
    expect(readTokenExpiry(fakeJwt({ exp: 1234, name: "Zoë ✓" }))).toBe(1234);
    expect(readTokenExpiry("a.%%%.c")).toBeNull();
    expect(readTokenExpiry(fakeJwt({ exp: "soon" }))).toBeNull();
  });
});

describe("401 handling", () => {
  it("refreshes the token once and retries after a 401", async () => {
    let first = true;
    const h = harness((token) => {
      if (first) {
        first = false;
        return json(
          401,
          { detail: "Token expired", code: "token_expired" },
          {
            "www-authenticate": 'Bearer error="invalid_token"',
          },
        );
      }
      return json(200, { id: "t1", token_seen: token });
    });
    const api = createApiClient(h.deps);

    const result = await api.request<{ token_seen: string }>("/api/tasks/t1");

    expect(h.getToken).toHaveBeenCalledTimes(2);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(result.token_seen).toBe(h.issued[1]);
    expect(h.issued[1]).not.toBe(h.issued[0]);
    expect(h.signOut).not.toHaveBeenCalled();
    expect(h.navigate).not.toHaveBeenCalled();
  });

  it("concurrent 401s on the same token share one refresh", async () => {
    const h = harness((token) =>
      token === h.issued[0] ? json(401, { detail: "no", code: "invalid_token" }) : ok(),
    );
    const api = createApiClient(h.deps);

    await Promise.all(Array.from({ length: 5 }, () => api.request("/api/tasks")));

    expect(h.getToken).toHaveBeenCalledTimes(2); // the first token, then one shared refresh
    expect(h.fetch).toHaveBeenCalledTimes(10); // each call: one refused try, one retry
    expect(h.navigate).not.toHaveBeenCalled();
  });

  it("signs out and redirects to sign-in with next after a second 401", async () => {
    const h = harness(() => json(401, { detail: "Session revoked", code: "invalid_token" }));
    const api = createApiClient(h.deps);

    const error = await api.request("/api/tasks").catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).code).toBe(SIGNED_OUT_CODE);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(h.getToken).toHaveBeenCalledTimes(2);
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledExactlyOnceWith(
      `/sign-in?next=${encodeURIComponent("/tasks?view=open")}`,
    );
  });

  it("redirects when there is no session to mint a token from", async () => {
    const h = harness(ok);
    h.getToken.mockRejectedValue(new NotSignedInError());
    const api = createApiClient(h.deps);

    await expect(api.request("/api/tasks")).rejects.toMatchObject({ status: 401 });
    expect(h.fetch).not.toHaveBeenCalled();
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledExactlyOnceWith("/sign-in?next=%2Ftasks%3Fview%3Dopen");
  });

  it("redirects only once when many requests fail together", async () => {
    const h = harness(() => json(401, { detail: "nope", code: "invalid_token" }));
    const api = createApiClient(h.deps);
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => api.request("/api/tasks")),
    );
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledTimes(1);
  });

  it("a request refused while the user signs out joins that exit, with no second navigation", async () => {
    // The session ends while a list request is still waiting for its token: the token call
    // is refused, which on its own would navigate to /sign-in?next=... over the sign-out.
    let endSession!: () => void;
    const h = harness(ok);
    h.signOut.mockImplementation(() => new Promise<void>((resolve) => (endSession = resolve)));
    h.getToken.mockRejectedValue(new NotSignedInError());
    const api = createApiClient(h.deps);

    const signingOut = api.signOut();
    // The expectation is attached at once: the request rejects while the test awaits.
    const refused = expect(api.request("/api/tasks")).rejects.toMatchObject({
      status: 401,
      code: SIGNED_OUT_CODE,
    });
    endSession();
    await signingOut;
    await refused;
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledExactlyOnceWith("/sign-in");
  });

  it("signing out after a refused request joins the exit already under way", async () => {
    const h = harness(() => json(401, { detail: "nope", code: "invalid_token" }));
    const api = createApiClient(h.deps);
    const refused = expect(api.request("/api/tasks")).rejects.toMatchObject({
      code: SIGNED_OUT_CODE,
    });
    await vi.waitFor(() => expect(h.signOut).toHaveBeenCalled());
    await api.signOut();
    await refused;
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledExactlyOnceWith("/sign-in?next=%2Ftasks%3Fview%3Dopen");
  });

  it("a deliberate sign-out drops the cached token and ends the session once", async () => {
    const h = harness(ok);
    const api = createApiClient(h.deps);
    await api.request("/api/tasks");
    await Promise.all([api.signOut(), api.signOut()]);
    expect(h.signOut).toHaveBeenCalledTimes(1);
    expect(h.navigate).toHaveBeenCalledExactlyOnceWith("/sign-in");
    // A later request needs a new token: the old one went with the session.
    await api.request("/api/tasks");
    expect(h.getToken).toHaveBeenCalledTimes(2);
  });
});

describe("requests and errors", () => {
  it("sends JSON with the bearer token and builds the query string", async () => {
    const h = harness(() => json(201, { id: "t9" }));
    const api = createApiClient(h.deps);
    await api.request("/api/tasks", {
      method: "POST",
      body: { title: "Write tests" },
      query: { limit: 20, cursor: null, completed: false, q: "" },
    });
    const [url, init] = h.fetch.mock.calls[0]!;
    expect(url).toBe(`${BASE}/api/tasks?limit=20&completed=false`);
    expect(init?.method).toBe("POST");
    expect(init?.body).toBe('{"title":"Write tests"}');
    const headers = new Headers(init?.headers);
    expect(headers.get("content-type")).toBe("application/json");
    expect(headers.get("authorization")).toBe(`Bearer ${h.issued[0]}`);
  });

  it("surfaces the API's detail and code as a typed ApiError", async () => {
    const h = harness(() => json(404, { detail: "Task not found", code: "not_found" }));
    const api = createApiClient(h.deps);
    const error = await api.request("/api/tasks/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "not_found", detail: "Task not found" });
    expect((error as ApiError).message).toBe("Task not found");
    expect(h.navigate).not.toHaveBeenCalled();
  });

  it("turns validation details and non-JSON bodies into readable errors", async () => {
    let body: string | null = JSON.stringify({
      detail: [{ loc: ["body", "title"], msg: "Field required", type: "missing" }],
      code: "validation_error",
    });
    const h = harness(() => new Response(body, { status: body?.startsWith("{") ? 422 : 502 }));
    const api = createApiClient(h.deps);
    await expect(api.request("/api/tasks")).rejects.toMatchObject({
      status: 422,
      code: "validation_error",
      message: "Field required",
    });
    body = "<html>Bad gateway</html>";
    await expect(api.request("/api/tasks")).rejects.toMatchObject({
      status: 502,
      code: "http_502",
      detail: null,
    });
  });

  it("returns undefined for 204 and maps network failures to ApiError", async () => {
    const h = harness(() => new Response(null, { status: 204 }));
    const api = createApiClient(h.deps);
    await expect(api.request("/api/tasks/t1", { method: "DELETE" })).resolves.toBeUndefined();
    h.fetch.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    await expect(api.request("/api/tasks")).rejects.toMatchObject({
      code: "network_error",
      status: 0,
    });
  });

  it("keeps `next` on this site", () => {
    expect(safeNextPath("/tasks?x=1")).toBe("/tasks?x=1");
    expect(safeNextPath("//evil.example/x")).toBe("/tasks");
    expect(safeNextPath("https://evil.example")).toBe("/tasks");
    expect(safeNextPath("/\\evil.example")).toBe("/tasks");
    expect(safeNextPath(null)).toBe("/tasks");
  });
});
