/** Wires the API client to the browser: Better Auth tokens, window.fetch and navigation. */

import { createApiClient, type ApiClient } from "./api";
import { authClient } from "./auth-client";
import { NotSignedInError } from "./token-cache";

// --8<-- [start:fetch-jwt]
async function fetchJwt(): Promise<string> {
  const { data, error } = await authClient.token();
  if (error) {
    if (error.status === 401) throw new NotSignedInError();
    throw new Error(`token request failed (HTTP ${error.status})`);
  }
  if (!data?.token) throw new Error("token response had no token");
  return data.token;
}
// --8<-- [end:fetch-jwt]

export function createBrowserApiClient(baseUrl: string): ApiClient {
  return createApiClient({
    baseUrl,
    getToken: fetchJwt,
    fetch: (input, init) => window.fetch(input, init),
    signOut: async () => {
      await authClient.signOut();
    },
    navigate: (url) => window.location.assign(url),
    currentPath: () => window.location.pathname + window.location.search,
  });
}
