/** Better Auth's HTTP endpoints under /api/auth (sign-up, sign-in, token, jwks, ...). */

import { toNextJsHandler } from "better-auth/next-js";

import { getAuth } from "@/lib/auth";

export const dynamic = "force-dynamic";

async function handle(request: Request): Promise<Response> {
  const { GET } = toNextJsHandler(await getAuth());
  return GET(request);
}

export { handle as GET, handle as POST };
