/** Runs once when the Next server starts: create or update the auth tables before traffic. */

export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getAuth } = await import("./lib/auth");
  await getAuth();
}
