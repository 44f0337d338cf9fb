/**
 * POST /api/organization/members {organizationId, email, role?}: add someone who already has
 * an account to an organization. Only its owners and admins may (see lib/add-member.ts).
 */

import { addMemberByEmail } from "@/lib/add-member";
import { getAuth, memberRole } from "@/lib/auth";

export const dynamic = "force-dynamic";

function answer(status: number, code: string, detail: string): Response {
  return Response.json({ code, detail }, { status });
}

export async function POST(request: Request): Promise<Response> {
  const auth = await getAuth();
  const context = auth.$context;
  // A JSON content type makes a cross-site request preflight (which this route never grants),
  // and a browser's Origin must be one the auth server trusts: no cross-site form posts.
  const origin = request.headers.get("origin");
  if (origin !== null && !(await context).isTrustedOrigin(origin)) {
    return answer(403, "untrusted_origin", "This origin may not add members.");
  }
  if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
    return answer(415, "unsupported_media_type", "Send the body as application/json.");
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return answer(422, "invalid_json", "The body is not valid JSON.");
  }
  const session = await auth.api.getSession({ headers: request.headers });
  const result = await addMemberByEmail(
    {
      callerId: session?.user.id ?? null,
      memberRole: (organizationId, userId) => memberRole(context, organizationId, userId),
      findUserIdByEmail: async (email) => {
        const { adapter } = await context;
        const user = await adapter.findOne<{ id: string }>({
          model: "user",
          where: [{ field: "email", value: email }],
        });
        return user?.id ?? null;
      },
      addMember: async (organizationId, userId, role) => {
        await auth.api.addMember({ body: { organizationId, userId, role } });
      },
    },
    body,
  );
  return Response.json(result.body, { status: result.status });
}
