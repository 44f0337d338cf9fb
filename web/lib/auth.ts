/**
 * Better Auth on the server: email + password, the JWT plugin (tokens for the Tasks API,
 * JWKS at /api/auth/jwks), the bearer plugin, organizations (team tasks) and API keys (for
 * scripts calling the Tasks API), stored in SQLite via better-sqlite3.
 *
 * The instance is built lazily on first use, so `next build` never opens the database or
 * demands a secret, and all settings are read at runtime.
 */

import "server-only";

import fs from "node:fs";
import path from "node:path";

import { apiKey } from "@better-auth/api-key";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { bearer, jwt, organization } from "better-auth/plugins";

import { organizationClaims, type MemberRoleLookup } from "./org-claims";

const DEFAULT_DB_PATH = "./data/auth.db";

/**
 * What a new API key may do. The Tasks API (through authbridge) reads the key's permissions
 * `{tasks: ["read", "write"]}` as the scopes `tasks:read tasks:write`. Set here, not by the
 * browser: Better Auth refuses `permissions` in client requests.
 */
export const API_KEY_PERMISSIONS = { tasks: ["read", "write"] };

/**
 * Per-key request budget. The plugin's default (10 a day) is meant for rare admin calls; a
 * script listing and creating tasks needs more. Every Tasks API request a key makes is one
 * session lookup here.
 */
const API_KEY_RATE_LIMIT = { enabled: true, timeWindow: 60_000, maxRequests: 600 };

/**
 * Better Auth's per-address limit (production: 100 requests per path in 10 s) would put every
 * API-key request of every script into one bucket: the Tasks API asks get-session from its own
 * address for each of them (AUTHBRIDGE_API_KEYS=remote). Keyed get-session requests get a
 * larger bucket; each key still has its own limit above. Everything else keeps the default.
 */
export const RATE_LIMIT_RULES = {
  "/get-session": (request: Request, current: { window: number; max: number }) =>
    request.headers.get("x-api-key") ? { window: 10, max: 1000 } : current,
};

/** The part of Better Auth's context the member lookup needs. */
export interface MemberStore {
  adapter: {
    findOne<T>(query: {
      model: string;
      where: Array<{ field: string; value: string }>;
    }): Promise<T | null>;
  };
}

/** The member role of `userId` in `organizationId`, read through Better Auth's adapter. */
export async function memberRole(
  context: Promise<MemberStore>,
  organizationId: string,
  userId: string,
): Promise<string | null> {
  const { adapter } = await context;
  const member = await adapter.findOne<{ role: string }>({
    model: "member",
    where: [
      { field: "organizationId", value: organizationId },
      { field: "userId", value: userId },
    ],
  });
  return member?.role ?? null;
}

function buildAuth() {
  // Runtime path from the environment: tell the bundler not to trace it.
  const dbPath = path.resolve(
    /*turbopackIgnore: true*/ process.env.AUTH_DB_PATH || DEFAULT_DB_PATH,
  );
  fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  const baseURL = process.env.BETTER_AUTH_URL || "http://localhost:3000";
  // definePayload gets only ({user, session}); the member lookup goes through the instance's
  // context, which exists by the time any token is signed.
  let context: Promise<MemberStore> | null = null;
  const lookupRole: MemberRoleLookup = (organizationId, userId) => {
    if (context === null) throw new Error("Better Auth is not initialised yet");
    return memberRole(context, organizationId, userId);
  };
  // --8<-- [start:auth]
  const auth = betterAuth({
    appName: "authbridge tasks",
    baseURL,
    secret: process.env.BETTER_AUTH_SECRET,
    database: new Database(dbPath),
    trustedOrigins: trustedOrigins(baseURL),
    emailAndPassword: { enabled: true, minPasswordLength: 8 },
    rateLimit: { customRules: RATE_LIMIT_RULES },
    plugins: [
      jwt({
        jwt: {
          // Better Auth's default payload (the user object) plus the organization claims.
          definePayload: async ({ user, session }) => ({
            ...user,
            ...(await organizationClaims(session.activeOrganizationId, user.id, lookupRole)),
          }),
        },
      }),
      bearer(),
      organization(),
      apiKey({
        enableSessionForAPIKeys: true,
        permissions: { defaultPermissions: API_KEY_PERMISSIONS },
        rateLimit: API_KEY_RATE_LIMIT,
      }),
    ],
  });
  // --8<-- [end:auth]
  context = auth.$context;
  return auth;
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
