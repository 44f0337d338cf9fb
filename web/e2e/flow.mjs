#!/usr/bin/env node
/**
 * End-to-end browser flow against a running web app and Tasks API, in Debian's chromium.
 *
 *   A signs up, adds three tasks, completes one, edits one, deletes one, filters and searches;
 *   a reload shows the same state. B signs up and sees none of A's tasks (and gets 404 for
 *   A's task by id). A's sessions are deleted from the web app's SQLite database, and A's
 *   next page load lands on /sign-in?next=/tasks; signing in again returns to /tasks. A signs
 *   out while a token request is held in flight, and lands on /sign-in once.
 *
 * Env: WEB_URL (http://localhost:3000), API_URL (http://localhost:8000),
 *      AUTH_DB_PATH (web/data/auth.db), SCREENSHOT_DIR (<repo>/test-output),
 *      CHROMIUM_PATH (/usr/bin/chromium). Exits non-zero on the first failed check.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";

import Database from "better-sqlite3";

import {
  API_URL,
  AUTH_DB_PATH,
  SCREENSHOT_DIR,
  WEB_URL,
  addTask,
  apiCall,
  openBrowser,
  pathOf,
  prepare,
  runFlow,
  signIn,
  signUp,
  step,
  taskRow,
  visibleTitles,
} from "./harness.mjs";

const run = randomUUID().slice(0, 8);
const userA = { name: "Alice Example", email: `alice-${run}@example.com` };
const userB = { name: "Bob Example", email: `bob-${run}@example.com` };

/** Server-side revocation: delete the user's rows from Better Auth's `session` table. */
function revokeSessions(email) {
  const db = new Database(AUTH_DB_PATH);
  try {
    const { changes } = db
      .prepare(`DELETE FROM session WHERE userId = (SELECT id FROM user WHERE email = ?)`)
      .run(email);
    assert.ok(changes >= 1, `expected session rows for ${email} in ${AUTH_DB_PATH}`);
    return changes;
  } finally {
    db.close();
  }
}

async function main() {
  prepare(["a", "b"]);

  // ---- User A -------------------------------------------------------------------------
  const a = await openBrowser("a", { fakeClock: true });
  const pageA = a.page;
  await signUp(pageA, userA);
  step("A signed up and reached /tasks");
  await pageA.getByText("No tasks yet").waitFor();

  const milkId = await addTask(pageA, "Buy milk", { priority: "high" });
  await addTask(pageA, "Write report", { description: "Q3 numbers" });
  await addTask(pageA, "Call the bank");
  assert.deepEqual(
    new Set(await visibleTitles(pageA)),
    new Set(["Buy milk", "Write report", "Call the bank"]),
  );
  step("A added three tasks");

  // click(), not check(): the box flips when the optimistic update lands, a tick later.
  const patch = await apiCall(pageA, "PATCH", `/api/tasks/${milkId}`, () =>
    pageA.getByRole("checkbox", { name: "Buy milk" }).click(),
  );
  assert.equal(patch.status(), 200, "PATCH completed=true");
  assert.equal((await patch.json()).completed, true);
  await taskRow(pageA, "Buy milk").locator("input[type=checkbox]:checked").waitFor();
  step("A completed “Buy milk”");

  await pageA.getByRole("button", { name: "Edit “Write report”" }).click();
  const editForm = pageA.getByRole("form", { name: "Edit “Write report”" });
  await editForm.getByLabel("Title").fill("Write quarterly report");
  const edit = await apiCall(pageA, "PATCH", "/api/tasks/", () =>
    editForm.getByRole("button", { name: "Save" }).click(),
  );
  assert.equal(edit.status(), 200, "PATCH title");
  assert.equal((await edit.json()).title, "Write quarterly report");
  await taskRow(pageA, "Write quarterly report").waitFor();
  const focused = await pageA.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  assert.equal(focused, "Edit “Write quarterly report”", "focus returns to Edit after saving");
  step("A renamed “Write report” to “Write quarterly report”");

  const del = await apiCall(pageA, "DELETE", "/api/tasks/", () =>
    pageA.getByRole("button", { name: "Delete “Call the bank”" }).click(),
  );
  assert.equal(del.status(), 204, "DELETE");
  await taskRow(pageA, "Call the bank").waitFor({ state: "detached" });
  step("A deleted “Call the bank”");

  const list = "/api/tasks?limit=20";
  await apiCall(pageA, "GET", `${list}&completed=true`, () =>
    pageA.getByLabel("Show").selectOption("done"),
  );
  assert.deepEqual(await visibleTitles(pageA), ["Buy milk"]);
  await apiCall(pageA, "GET", `${list}&completed=false`, () =>
    pageA.getByLabel("Show").selectOption("open"),
  );
  assert.deepEqual(await visibleTitles(pageA), ["Write quarterly report"]);
  await pageA.getByLabel("Show").selectOption("all");
  await apiCall(pageA, "GET", `${list}&q=quarterly`, () =>
    pageA.getByLabel("Search").fill("quarterly"),
  );
  assert.deepEqual(await visibleTitles(pageA), ["Write quarterly report"]);
  await apiCall(pageA, "GET", `${list}&q=no+such+words`, () =>
    pageA.getByLabel("Search").fill("no such words"),
  );
  await pageA.getByText("No tasks match these filters.").waitFor();
  await pageA.getByLabel("Search").fill("");
  step("A's completed/open filters and search show the right tasks");

  await pageA.reload();
  await pageA.getByText(userA.email).waitFor();
  assert.deepEqual(
    new Set(await visibleTitles(pageA)),
    new Set(["Buy milk", "Write quarterly report"]),
  );
  assert.equal(await pageA.getByRole("checkbox", { name: "Buy milk" }).isChecked(), true);
  assert.equal(
    await pageA.getByRole("checkbox", { name: "Write quarterly report" }).isChecked(),
    false,
  );
  const screenshot = path.join(SCREENSHOT_DIR, "tasks-page.png");
  await pageA.screenshot({ path: screenshot, fullPage: true });
  step(`after a reload A sees the same state; screenshot saved to ${screenshot}`);

  // ---- User B -------------------------------------------------------------------------
  const b = await openBrowser("b");
  const pageB = b.page;
  await signUp(pageB, userB);
  await pageB.getByText("No tasks yet").waitFor();
  assert.deepEqual(await visibleTitles(pageB), []);
  // Straight at the API with B's own token: A's task does not exist for B.
  const peek = await pageB.evaluate(
    async ({ apiUrl, taskId }) => {
      const tokenResponse = await fetch("/api/auth/token", { credentials: "include" });
      const { token } = await tokenResponse.json();
      const response = await fetch(`${apiUrl}/api/tasks/${taskId}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      return response.status;
    },
    { apiUrl: API_URL, taskId: milkId },
  );
  assert.equal(peek, 404, "B reading A's task by id");
  step("B signed up, sees no tasks, and gets 404 for A's task");
  await b.close();

  // ---- Revoke A's sessions on the server ----------------------------------------------
  const revoked = revokeSessions(userA.email);
  step(`revoked A's ${revoked} session(s) in the auth database`);

  // In the open page, A's cached JWT stays valid at the API until it expires (15 min). Once
  // it has expired, A's next action needs a new one; the auth server refuses (no session),
  // so the app signs out and lands on sign-in, keeping where A was.
  await pageA.clock.fastForward("16:00");
  await pageA.getByLabel("Search").fill("report");
  await pageA.waitForURL(`${WEB_URL}/sign-in?next=%2Ftasks`);
  await pageA.getByRole("heading", { name: "Sign in" }).waitFor();
  step(`A's next action landed on ${pathOf(pageA)}`);

  await signIn(pageA, userA);
  assert.deepEqual(
    new Set(await visibleTitles(pageA)),
    new Set(["Buy milk", "Write quarterly report"]),
  );
  step("A signed in again, came back to /tasks and still has the same tasks");

  // A page load checks the session on the server: revoked means straight to sign-in.
  revokeSessions(userA.email);
  await pageA.reload();
  await pageA.waitForURL(`${WEB_URL}/sign-in?next=%2Ftasks`);
  step(`after a second revocation, reloading /tasks landed on ${pathOf(pageA)}`);
  await signIn(pageA, userA);

  // Signing out while a request still waits for its token: the auth server refuses that
  // token once the session has ended, and the refusal must not send A to sign-in a second
  // way (with ?next=), over the sign-out's own navigation. The token request is held until
  // the sign-out has been answered, and the sign-in page a moment longer, so that the two
  // navigations would overlap on every run if the app allowed both.
  let releaseToken = () => {};
  const tokenHeld = new Promise((resolve) => (releaseToken = resolve));
  await pageA.route("**/api/auth/token", async (route) => {
    await tokenHeld;
    await route.continue().catch(() => {}); // the page may have left already
  });
  await pageA.route(`${WEB_URL}/sign-in`, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await route.continue().catch(() => {});
  });
  const tokenAsked = pageA.waitForRequest("**/api/auth/token");
  await pageA.reload();
  await tokenAsked;
  const signedOut = pageA.waitForResponse("**/api/auth/sign-out");
  await pageA.getByRole("button", { name: "Sign out" }).click();
  await signedOut;
  const tokenRefused = pageA.waitForResponse("**/api/auth/token");
  releaseToken();
  assert.equal((await tokenRefused).status(), 401, "the held token request, after sign-out");
  await pageA.waitForURL(`${WEB_URL}/sign-in`);
  await pageA.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(pathOf(pageA), "/sign-in", "where signing out lands");
  step("A signed out while a token request was in flight, and landed on /sign-in once");

  const problems = [...a.problems, ...b.problems];
  await a.close();
  assert.deepEqual(problems, [], "uncaught errors in the page");
}

runFlow("E2E FLOW", main);
