/** Better Auth's browser client, with the JWT plugin's `token()` call. */

import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

// No baseURL: the client talks to /api/auth on the origin that served the page.
export const authClient = createAuthClient({ plugins: [jwtClient()] });
