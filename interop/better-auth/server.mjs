// Test-only Better Auth server for authbridge's conformance tests.
//
// Every knob is an environment variable (see README.md) so the Python harness can start
// many differently configured servers from one file. It prints "READY <port>" on stdout
// once it listens. Not for production use: it has a test-only admin route (HARNESS_ADMIN=1).
import http from "node:http";
import { betterAuth } from "better-auth";
import { admin, bearer, jwt, organization } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { apiKey } from "@better-auth/api-key";

const env = process.env;

function fail(message) {
  process.stderr.write(`server.mjs: ${message}\n`);
  process.exit(2);
}

function intEnv(name) {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer`);
  return value;
}

function listEnv(name) {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  return raw
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

const flag = (name) => env[name] === "1" || env[name] === "true";

const port = intEnv("PORT") ?? 3005;
const baseURL = env.BETTER_AUTH_URL || `http://127.0.0.1:${port}`;

// Set when DB_DROP_SCHEMA_ON_EXIT=1: drops this server's PostgreSQL schema on SIGTERM/SIGINT.
let dropSchemaOnExit = null;

async function openDatabase() {
  if (env.DATABASE_URL) {
    // Imported lazily so a SQLite-only run never needs pg to load.
    const { default: pg } = await import("pg");
    const schema = env.DB_SCHEMA;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) {
      fail("DB_SCHEMA must match [a-z_][a-z0-9_]*");
    }
    if (schema) {
      // One schema per server keeps parallel test servers apart in one database.
      const admin = new pg.Client({ connectionString: env.DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await admin.end();
      if (flag("DB_DROP_SCHEMA_ON_EXIT")) {
        dropSchemaOnExit = async () => {
          const client = new pg.Client({ connectionString: env.DATABASE_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        };
      }
    }
    return new pg.Pool({
      connectionString: env.DATABASE_URL,
      max: 5,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
  }
  const { default: Database } = await import("better-sqlite3");
  return new Database(env.DB_PATH || ":memory:");
}

function keyPairConfig() {
  const alg = env.JWT_ALG || "EdDSA";
  switch (alg) {
    case "EdDSA":
      return { alg, crv: "Ed25519" };
    case "ES256":
    case "ES512":
    case "PS256":
    case "RS256":
      return { alg };
    default:
      return fail(`JWT_ALG must be one of EdDSA, ES256, ES512, PS256, RS256 (got ${alg})`);
  }
}

// --8<-- [start:payload]
function jwtOptions() {
  const audience = listEnv("JWT_AUDIENCE");
  const options = {
    ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
    ...(audience ? { audience: audience.length === 1 ? audience[0] : audience } : {}),
    ...(env.JWT_EXPIRATION ? { expirationTime: env.JWT_EXPIRATION } : {}),
  };
  const scope = env.JWT_SCOPE ?? "tasks:read tasks:write";
  // Better Auth calls definePayload with the session only ({user, session}), no request
  // context, so the member row is read through `auth.$context` (resolved by then). Without
  // JWT_DEFINE_PAYLOAD the payload stays Better Auth's default (the whole user object).
  options.definePayload = async ({ user, session }) => ({
    ...(flag("JWT_DEFINE_PAYLOAD")
      ? { id: user.id, email: user.email, name: user.name, role: user.role, scope, sid: session.id }
      : user),
    ...(await organizationClaims(user, session)),
    // admin() marks an impersonation session; authbridge reads it as Principal.impersonator.
    ...(session.impersonatedBy ? { impersonatedBy: session.impersonatedBy } : {}),
  });
  return options;
}
// --8<-- [end:payload]

// The organization claims authbridge reads (ClaimNames): the session's active organization
// and the caller's role in it. Left out entirely when no organization is active, so a token
// without an organization looks exactly as before the organization plugin was on.
// --8<-- [start:organization-claims]
async function organizationClaims(user, session) {
  const organizationId = session.activeOrganizationId;
  if (!organizationId) return {};
  const ctx = await auth.$context;
  const member = await ctx.adapter.findOne({
    model: "member",
    where: [
      { field: "organizationId", value: organizationId },
      { field: "userId", value: user.id },
    ],
  });
  return {
    activeOrganizationId: organizationId,
    ...(member ? { organizationRole: member.role } : {}),
  };
}
// --8<-- [end:organization-claims]

function cookieCache() {
  const strategy = env.COOKIE_CACHE_STRATEGY || "off";
  if (strategy === "off") return undefined;
  if (!["compact", "jwt", "jwe"].includes(strategy)) {
    fail("COOKIE_CACHE_STRATEGY must be off, compact, jwt or jwe");
  }
  const maxAge = intEnv("COOKIE_CACHE_MAX_AGE");
  return { enabled: true, strategy, ...(maxAge !== undefined ? { maxAge } : {}) };
}

function secretOptions() {
  if (env.BETTER_AUTH_SECRETS) {
    const secrets = env.BETTER_AUTH_SECRETS.split(",").map((entry) => {
      const colon = entry.indexOf(":");
      if (colon < 1) fail('BETTER_AUTH_SECRETS entries must look like "<version>:<secret>"');
      return { version: Number(entry.slice(0, colon)), value: entry.slice(colon + 1) };
    });
    return { secrets };
  }
  if (!env.BETTER_AUTH_SECRET) fail("set BETTER_AUTH_SECRET or BETTER_AUTH_SECRETS");
  return { secret: env.BETTER_AUTH_SECRET };
}

// More Better Auth user.additionalFields, as JSON ({"favoriteColor": {"type": "string"}}),
// for the typed-user tests; `role` (the admin plugin's) is always there.
function userAdditionalFields() {
  if (!env.USER_ADDITIONAL_FIELDS) return {};
  try {
    return JSON.parse(env.USER_ADDITIONAL_FIELDS);
  } catch {
    return fail("USER_ADDITIONAL_FIELDS must be a JSON object");
  }
}

const rotationInterval = intEnv("JWKS_ROTATION_INTERVAL");
const gracePeriod = intEnv("JWKS_GRACE_PERIOD");
const sessionExpiresIn = intEnv("SESSION_EXPIRES_IN");
const cache = cookieCache();

// APIKEY=1: @better-auth/api-key, with get-session accepting a key (enableSessionForAPIKeys),
// the way authbridge's remote API-key mode asks. The plugin's own defaults otherwise (x-api-key,
// a 64-character key, a rate limit of 10 requests a day), each overridable for tests.
function apiKeyPlugin() {
  if (!flag("APIKEY")) return [];
  const headers = listEnv("APIKEY_HEADER");
  const max = intEnv("APIKEY_RATE_LIMIT_MAX");
  const window = intEnv("APIKEY_RATE_LIMIT_WINDOW");
  return [
    apiKey({
      enableSessionForAPIKeys: true,
      ...(headers ? { apiKeyHeaders: headers.length === 1 ? headers[0] : headers } : {}),
      rateLimit: {
        enabled: env.APIKEY_RATE_LIMIT !== "0",
        ...(max !== undefined ? { maxRequests: max } : {}),
        ...(window !== undefined ? { timeWindow: window } : {}),
      },
    }),
  ];
}
const trustedOrigins = listEnv("TRUSTED_ORIGINS");

// --8<-- [start:auth]
export const auth = betterAuth({
  database: await openDatabase(),
  baseURL,
  ...secretOptions(),
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  ...(trustedOrigins ? { trustedOrigins } : {}),
  user: {
    additionalFields: {
      role: { type: "string", required: false, defaultValue: "user", input: false },
      ...userAdditionalFields(),
    },
  },
  session: {
    ...(sessionExpiresIn !== undefined ? { expiresIn: sessionExpiresIn } : {}),
    ...(cache ? { cookieCache: cache } : {}),
  },
  advanced: {
    ...(env.COOKIE_PREFIX ? { cookiePrefix: env.COOKIE_PREFIX } : {}),
    ...(flag("USE_SECURE_COOKIES") ? { useSecureCookies: true } : {}),
  },
  plugins: [
    jwt({
      jwks: {
        keyPairConfig: keyPairConfig(),
        ...(rotationInterval !== undefined ? { rotationInterval } : {}),
        ...(gracePeriod !== undefined ? { gracePeriod } : {}),
      },
      jwt: jwtOptions(),
      ...(flag("JWT_SESSION_COOKIE_CACHE") ? { sessionCookieCache: true } : {}),
    }),
    bearer({ requireSignature: flag("BEARER_REQUIRE_SIGNATURE") }),
    // Defaults on purpose: owner/admin/member roles; admin()'s admin role is "admin" (set it
    // with /__admin/set-role). Their tables and columns (organization, member, invitation;
    // user.banned…, session.activeOrganizationId, session.impersonatedBy) come from the same
    // getMigrations run below.
    organization(),
    admin(),
    ...apiKeyPlugin(),
  ],
});
// --8<-- [end:auth]

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

// ---- test-only admin route -------------------------------------------------------------
// Lets tests change server-side state that has no public endpoint. Off unless HARNESS_ADMIN=1.

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

function sendJson(res, status, body) {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

function requireString(body, name) {
  const value = body[name];
  if (typeof value !== "string" || value === "") throw new Error(`${name} must be a non-empty string`);
  return value;
}

const adminActions = {
  async "set-role"(ctx, body) {
    const user = await ctx.internalAdapter.updateUser(requireString(body, "userId"), {
      role: requireString(body, "role"),
    });
    return { ok: Boolean(user) };
  },
  async "expire-session"(ctx, body) {
    const session = await ctx.internalAdapter.updateSession(requireString(body, "token"), {
      expiresAt: new Date(Date.now() - 60_000),
    });
    return { ok: Boolean(session) };
  },
  async "revoke-session"(ctx, body) {
    await ctx.internalAdapter.deleteSession(requireString(body, "token"));
    return { ok: true };
  },
  async "add-member"(ctx, body) {
    // addMember is server-only in the organization plugin: no HTTP route reaches it.
    const member = await auth.api.addMember({
      body: {
        userId: requireString(body, "userId"),
        organizationId: requireString(body, "organizationId"),
        role: requireString(body, "role"),
      },
    });
    return { ok: Boolean(member), id: member?.id };
  },
  async "create-api-key"(ctx, body) {
    // Called without headers, so Better Auth treats it as a server call: the server-only
    // properties (permissions, remaining, refill, rate limits) are allowed.
    const { userId, ...options } = body;
    const created = await auth.api.createApiKey({
      body: { userId: requireString({ userId }, "userId"), ...options },
    });
    return { id: created.id, key: created.key };
  },
  async "update-api-key"(ctx, body) {
    const { keyId, userId, ...changes } = body;
    const updated = await auth.api.updateApiKey({
      body: {
        keyId: requireString({ keyId }, "keyId"),
        userId: requireString({ userId }, "userId"),
        ...changes,
      },
    });
    return { ok: Boolean(updated) };
  },
  async "set-api-key-columns"(ctx, body) {
    // Raw column writes the plugin's API refuses (an expiry in the past, a used-up refill).
    const { keyId, ...columns } = body;
    for (const name of ["expiresAt", "lastRefillAt", "lastRequest"]) {
      if (typeof columns[name] === "string") columns[name] = new Date(columns[name]);
    }
    const row = await ctx.adapter.update({
      model: "apikey",
      where: [{ field: "id", value: requireString({ keyId }, "keyId") }],
      update: columns,
    });
    return { ok: Boolean(row) };
  },
  async "get-api-key-row"(ctx, body) {
    const row = await ctx.adapter.findOne({
      model: "apikey",
      where: [{ field: "id", value: requireString(body, "keyId") }],
    });
    if (!row) return { row: null };
    const { key: _hashed, ...visible } = row; // the hash is key material too
    return { row: visible };
  },
  async "delete-api-key"(ctx, body) {
    await ctx.adapter.delete({
      model: "apikey",
      where: [{ field: "id", value: requireString(body, "keyId") }],
    });
    return { ok: true };
  },
  async "revoke-user-sessions"(ctx, body) {
    await ctx.internalAdapter.deleteUserSessions(requireString(body, "userId"));
    return { ok: true };
  },
};

async function handleAdmin(req, res) {
  const action = adminActions[req.url.slice("/__admin/".length)];
  if (req.method !== "POST" || !action) return sendJson(res, 404, { error: "not found" });
  let body;
  try {
    body = await readJson(req);
  } catch {
    return sendJson(res, 400, { error: "body must be JSON" });
  }
  try {
    return sendJson(res, 200, await action(await auth.$context, body));
  } catch (error) {
    return sendJson(res, 400, { error: String(error?.message ?? error) });
  }
}

// ---- HTTP ------------------------------------------------------------------------------

const handler = toNodeHandler(auth);
const adminEnabled = flag("HARNESS_ADMIN");

const server = http.createServer((req, res) => {
  const url = req.url ?? "/";
  if (url.startsWith("/api/auth/")) return handler(req, res);
  if (url === "/__health") return sendJson(res, 200, { ok: true });
  if (adminEnabled && url.startsWith("/__admin/")) return handleAdmin(req, res);
  return sendJson(res, 404, { error: "not found" });
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});

async function shutdown() {
  // No graceful drain: a test server holds nothing worth finishing.
  try {
    await dropSchemaOnExit?.();
  } catch (error) {
    process.stderr.write(`server.mjs: could not drop schema: ${error?.message ?? error}\n`);
  }
  process.exit(0);
}

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, shutdown);
