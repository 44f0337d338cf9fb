/**
 * Better Auth on the server: email + password, the JWT plugin (tokens for the Tasks API,
 * JWKS at /api/auth/jwks) and the bearer plugin, stored in SQLite via better-sqlite3.
 *
 * The instance is built lazily on first use, so `next build` never opens the database or
 * demands a secret, and all settings are read at runtime.
 */

import "server-only";

import fs from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { bearer, jwt } from "better-auth/plugins";

const DEFAULT_DB_PATH = "./data/auth.db";

function buildAuth() {
  // Runtime path from the environment: tell the bundler not to trace it.
  const dbPath = path.resolve(
    /*turbopackIgnore: true*/ process.env.AUTH_DB_PATH || DEFAULT_DB_PATH,
  );
  fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  const baseURL = process.env.BETTER_AUTH_URL || "http://localhost:3000";
  return betterAuth({
    appName: "authbridge tasks",
    baseURL,
    secret: process.env.BETTER_AUTH_SECRET,
    database: new Database(dbPath),
    trustedOrigins: trustedOrigins(baseURL),
    emailAndPassword: { enabled: true, minPasswordLength: 8 },
    plugins: [jwt(), bearer()],
  });
}

/** BETTER_AUTH_URL plus the comma-separated TRUSTED_ORIGINS. */
function trustedOrigins(baseURL: string): string[] {
  const extra = (process.env.TRUSTED_ORIGINS ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  return [...new Set([new URL(baseURL).origin, ...extra])];
}

export type Auth = ReturnType<typeof buildAuth>;

let instance: Auth | null = null;
let migrated: Promise<void> | null = null;

/** The Better Auth instance, with its tables created or updated (once per process). */
export async function getAuth(): Promise<Auth> {
  instance ??= buildAuth();
  const auth = instance;
  migrated ??= (async () => {
    const { runMigrations } = await getMigrations(auth.options);
    await runMigrations();
  })().catch((error: unknown) => {
    migrated = null; // let the next request try again
    throw error;
  });
  await migrated;
  return auth;
}
