#!/usr/bin/env node
/**
 * Organizations and API keys, end to end in Debian's chromium against a running web app and
 * Tasks API:
 *
 *   A and B sign up. A adds a personal task, creates an organization (the JWT the page hands
 *   the API now carries activeOrganizationId and organizationRole=owner) and adds B as a
 *   member. A creates a team task; B switches to the organization, sees it and edits it; B's
 *   delete is refused with 403 and a clear message (B stays signed in); A deletes it.
 *   Switching back to personal shows personal tasks only. A creates an API key (shown once),
 *   and plain Node fetch calls with `x-api-key` list and create A's personal tasks; narrowed
 *   to read-only in Better Auth's database, the key still reads but its create is 403; after A
 *   revokes the key in the page, the next call is 401.
 *
 * Env: see harness.mjs. Exits non-zero on the first failed check.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";

import Database from "better-sqlite3";

import {
  API_URL,
  AUTH_DB_PATH,
  SCREENSHOT_DIR,
  addTask,
  apiCall,
  decodeJwt,
  openBrowser,
  prepare,
  runFlow,
  signUp,
  step,
  taskRow,
  visibleTitles,
} from "./harness.mjs";

const run = randomUUID().slice(0, 8);
const userA = { name: "Ada Owner", email: `ada-${run}@example.com` };
const userB = { name: "Ben Member", email: `ben-${run}@example.com` };
const orgName = `Acme ${run}`;

/** Switches the page's workspace and waits for the task list of the new one. */
async function switchWorkspace(page, label, collection) {
  const list = await apiCall(page, "GET", `${collection}?`, () =>
    page.getByLabel("Workspace").selectOption({ label }),
  );
  assert.equal(list.status(), 200, `GET ${collection} after switching to ${label}`);
  return list;
}

/** The claims of the JWT a page sent with an API request. */
async function claimsSentWith(response) {
  const header = (await response.request().allHeaders()).authorization ?? "";
  assert.match(header, /^Bearer /, "the page sends a bearer JWT");
  return decodeJwt(header.slice("Bearer ".length));
}

/** A script's request to the Tasks API: Node's fetch, an API key, no browser and no cookie. */
async function withKey(key, method, pathName, body) {
  const response = await fetch(`${API_URL}${pathName}`, {
    method,
    headers: {
      "x-api-key": key,
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text), response };
}

async function main() {
  prepare(["org-a", "org-b"]);

  const a = await openBrowser("org-a");
  const b = await openBrowser("org-b");
  const pageA = a.page;
  const pageB = b.page;
  await signUp(pageA, userA);
  await signUp(pageB, userB);
  step("A and B signed up");

  await addTask(pageA, "A's own errand");
  step("A added a personal task");

  // ---- Organization -------------------------------------------------------------------
  await pageA.getByLabel("Organization name").fill(orgName);
  const firstTeamList = await apiCall(pageA, "GET", "/api/org/tasks?", () =>
    pageA.getByRole("button", { name: "Create organization" }).click(),
  );
  assert.equal(firstTeamList.status(), 200, "GET /api/org/tasks after creating the organization");
  await pageA.getByRole("heading", { name: "Team tasks" }).waitFor();
  await pageA.getByText("No team tasks yet").waitFor();
  const organizationId = await pageA.getByLabel("Workspace").inputValue();
  assert.notEqual(organizationId, "", "the new organization is the active workspace");
  const ownerClaims = await claimsSentWith(firstTeamList);
  assert.equal(ownerClaims.activeOrganizationId, organizationId, "JWT activeOrganizationId");
  assert.equal(ownerClaims.organizationRole, "owner", "JWT organizationRole");
  assert.equal(ownerClaims.email, userA.email, "JWT keeps the user claims");
  step(
    "A created an organization; A's JWT carries activeOrganizationId and organizationRole=owner",
  );

  await pageA.getByTestId("org-role").filter({ hasText: "your role: owner" }).waitFor();
  await pageA.getByLabel("Member e-mail").fill(userB.email);
  await pageA.getByRole("button", { name: "Add member" }).click();
  await pageA.getByText(`Added ${userB.email} to the organization.`).waitFor();
  step("A added B as a member");

  const teamTaskId = await addTask(pageA, "Team plan", { collection: "/api/org/tasks" });
  assert.deepEqual(await visibleTitles(pageA), ["Team plan"]);
  step("A created a team task");

  // ---- B in the organization ----------------------------------------------------------
  await pageB.reload(); // B's organization list was loaded before B was added
  await pageB.getByText(userB.email).waitFor();
  const memberList = await switchWorkspace(pageB, orgName, "/api/org/tasks");
  const memberClaims = await claimsSentWith(memberList);
  assert.equal(memberClaims.activeOrganizationId, organizationId);
  assert.equal(memberClaims.organizationRole, "member");
  await taskRow(pageB, "Team plan").waitFor();
  assert.deepEqual(await visibleTitles(pageB), ["Team plan"]);
  step("B switched to the organization and sees the team task (JWT role: member)");

  await pageB.getByRole("button", { name: "Edit “Team plan”" }).click();
  const editForm = pageB.getByRole("form", { name: "Edit “Team plan”" });
  await editForm.getByLabel("Title").fill("Team plan v2");
  const edit = await apiCall(pageB, "PATCH", `/api/org/tasks/${teamTaskId}`, () =>
    editForm.getByRole("button", { name: "Save" }).click(),
  );
  assert.equal(edit.status(), 200, "B's PATCH of the team task");
  assert.equal((await edit.json()).title, "Team plan v2");
  await taskRow(pageB, "Team plan v2").waitFor();
  step("B edited the team task");

  const refused = await apiCall(pageB, "DELETE", `/api/org/tasks/${teamTaskId}`, () =>
    pageB.getByRole("button", { name: "Delete “Team plan v2”" }).click(),
  );
  assert.equal(refused.status(), 403, "a member's DELETE of a team task");
  await pageB.getByText("Could not delete “Team plan v2”: Permission denied.").waitFor();
  await taskRow(pageB, "Team plan v2").waitFor(); // the optimistic removal was rolled back
  assert.equal(new URL(pageB.url()).pathname, "/tasks", "a 403 does not sign B out");
  await pageB.getByRole("button", { name: "Sign out" }).waitFor();
  step("B's delete was refused with 403 and a permission message; B is still signed in");

  // ---- A deletes it -------------------------------------------------------------------
  await pageA.reload();
  await pageA.getByText(userA.email).waitFor();
  await taskRow(pageA, "Team plan v2").waitFor();
  const removed = await apiCall(pageA, "DELETE", `/api/org/tasks/${teamTaskId}`, () =>
    pageA.getByRole("button", { name: "Delete “Team plan v2”" }).click(),
  );
  assert.equal(removed.status(), 204, "the owner's DELETE of a team task");
  await pageA.getByText("No team tasks yet").waitFor();
  step("A (owner) deleted the team task");

  // ---- Back to personal ---------------------------------------------------------------
  const personal = await switchWorkspace(pageA, "Personal", "/api/tasks");
  assert.equal((await claimsSentWith(personal)).activeOrganizationId, undefined);
  await pageA.getByRole("heading", { name: "Your tasks" }).waitFor();
  assert.deepEqual(await visibleTitles(pageA), ["A's own errand"]);
  await switchWorkspace(pageB, "Personal", "/api/tasks");
  await pageB.getByText("No tasks yet").waitFor();
  step("back in Personal, A and B see their personal tasks only");
  await pageA.screenshot({ path: path.join(SCREENSHOT_DIR, "org-page.png"), fullPage: true });
  await b.close();

  // ---- API key ------------------------------------------------------------------------
  await pageA.getByLabel("Key name").fill("script");
  await pageA.getByRole("button", { name: "Create API key" }).click();
  const shown = pageA.getByTestId("new-api-key");
  const key = (await shown.textContent())?.trim() ?? "";
  assert.ok(key.length >= 32, "the new key is shown");
  await pageA.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "detached" });
  await pageA.reload();
  await pageA.getByRole("button", { name: "Revoke “script”" }).waitFor();
  assert.equal(await pageA.getByTestId("new-api-key").count(), 0);
  assert.equal(await pageA.getByText(key).count(), 0, "the key is never shown again");
  step("A created an API key; it was shown once");

  const me = await withKey(key, "GET", "/api/me");
  assert.equal(me.status, 200, `GET /api/me with the key: ${JSON.stringify(me.body)}`);
  assert.equal(me.body.sub, ownerClaims.sub, "the key acts as its owner");
  // Remote mode: Better Auth validates the key, its permissions come from Better Auth's table.
  assert.deepEqual(me.body.scopes, ["tasks:read", "tasks:write"], "the key's permissions");
  // A key's session has no active organization: team routes refuse it, by code.
  const team = await withKey(key, "GET", "/api/org/tasks");
  assert.equal(team.status, 403, "team tasks with a key");
  assert.equal(team.body.code, "organization_required");
  const listed = await withKey(key, "GET", "/api/tasks?limit=20");
  assert.equal(listed.status, 200, `GET /api/tasks with the key: ${JSON.stringify(listed.body)}`);
  assert.deepEqual(listed.body.items.map((item) => item.title), ["A's own errand"]);
  const created = await withKey(key, "POST", "/api/tasks", { title: "Made by a script" });
  assert.equal(
    created.status,
    201,
    `POST /api/tasks with the key: ${JSON.stringify(created.body)}`,
  );
  step("a script with the key listed and created A's personal tasks");

  await pageA.reload();
  await taskRow(pageA, "Made by a script").waitFor();
  step("A's page shows the script's task");

  // The page makes read/write keys only: narrow this one to read-only server-side, as an
  // admin's updateApiKey would, in the web app's Better Auth database.
  const db = new Database(AUTH_DB_PATH);
  try {
    const changed = db
      .prepare('UPDATE apikey SET permissions = ? WHERE "referenceId" = ?')
      .run(JSON.stringify({ tasks: ["read"] }), ownerClaims.sub).changes;
    assert.equal(changed, 1, `A's one key in ${AUTH_DB_PATH}`);
  } finally {
    db.close();
  }
  const readOnly = await withKey(key, "GET", "/api/tasks?limit=20");
  assert.equal(readOnly.status, 200, "a read-only key still reads");
  const notAllowed = await withKey(key, "POST", "/api/tasks", { title: "Not allowed" });
  assert.equal(
    notAllowed.status,
    403,
    `POST with a read-only key: ${JSON.stringify(notAllowed.body)}`,
  );
  assert.equal(notAllowed.body.code, "insufficient_scope");
  step("a read-only key reads but cannot create (403 insufficient_scope)");

  await pageA.getByRole("button", { name: "Revoke “script”" }).click();
  await pageA.getByText("Revoked “script”.").waitFor();
  await pageA.getByText("No API keys yet.").waitFor();
  const afterRevoke = await withKey(key, "GET", "/api/tasks?limit=20");
  assert.equal(afterRevoke.status, 401, "the revoked key's next request");
  assert.ok(afterRevoke.response.headers.get("www-authenticate"), "401 with WWW-Authenticate");
  const noKey = await withKey("not-a-real-key", "GET", "/api/tasks");
  assert.equal(noKey.status, 401, "a made-up key");
  step("after A revoked the key in the page, its next request was 401");

  const problems = [...a.problems, ...b.problems];
  await a.close();
  assert.deepEqual(problems, [], "uncaught errors in the page");
}

runFlow("ORG FLOW", main);
