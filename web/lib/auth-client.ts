/** Better Auth's browser client: JWTs (`token()`), organizations and API keys. */

import { apiKeyClient } from "@better-auth/api-key/client";
import { createAuthClient } from "better-auth/react";
import { jwtClient, organizationClient } from "better-auth/client/plugins";

// No baseURL: the client talks to /api/auth on the origin that served the page.
export const authClient = createAuthClient({
  plugins: [jwtClient(), organizationClient(), apiKeyClient()],
});
