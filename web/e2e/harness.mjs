/**
 * What the browser flows share: settings from the environment, browsers with their own
 * profiles (in Debian's chromium), sign-up, waiting for Tasks API calls, task-list helpers,
 * and failure screenshots.
 *
 * Env: WEB_URL (http://localhost:3000), API_URL (http://localhost:8000),
 *      AUTH_DB_PATH (web/data/auth.db), SCREENSHOT_DIR (<repo>/test-output),
 *      CHROMIUM_PATH (/usr/bin/chromium).
 */

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(HERE, "..");
const REPO_DIR = path.resolve(WEB_DIR, "..");

export const WEB_URL = (process.env.WEB_URL || "http://localhost:3000").replace(/\/$/, "");
export const API_URL = (process.env.API_URL || "http://localhost:8000").replace(/\/$/, "");
export const AUTH_DB_PATH = path.resolve(WEB_DIR, process.env.AUTH_DB_PATH || "./data/auth.db");
export const SCREENSHOT_DIR = path.resolve(
  process.env.SCREENSHOT_DIR || path.join(REPO_DIR, "test-output"),
);
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
const TIMEOUT_MS = 15_000;
export const PASSWORD = "correct-horse-battery-staple";

/** Pages still open, for the failure screenshots. */
const openPages = new Map();

export function step(message) {
  console.log(`• ${message}`);
}

/** Checks chromium is there and clears this flow's old failure screenshots. */
export function prepare(labels) {
  assert.ok(fs.existsSync(CHROMIUM_PATH), `chromium not found at ${CHROMIUM_PATH}`);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const label of labels) {
    fs.rmSync(path.join(SCREENSHOT_DIR, `failure-${label}.png`), { force: true });
  }
}

/** A browser with its own fresh profile directory, so users never share cookies. */
export async function openBrowser(label, { fakeClock = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `authbridge-e2e-${label}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  // A controllable clock (it runs in real time until fast-forwarded) lets a flow age the
  // page's cached JWT without waiting 15 minutes.
  if (fakeClock) await context.clock.install();
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`  [${label} console] ${message.text()}`);
  });
  openPages.set(label, page);
  return {
    page,
    problems,
    async close() {
      openPages.delete(label);
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function pathOf(page) {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

/** Waits for the API call matching method + path prefix to finish, while `action` runs. */
export async function apiCall(page, method, pathPrefix, action) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === method && r.url().startsWith(`${API_URL}${pathPrefix}`),
    ),
    action(),
  ]);
  return response;
}

/**
 * Clicks the auth form's button and waits for Better Auth's answer. Better Auth rate-limits
 * sign-in and sign-up per client address (3 in 10 s in production mode), and every browser
 * here is 127.0.0.1: on a 429 wait out its X-Retry-After, as a person would, and submit again.
 */
async function submitAuthForm(page, button, endpoint) {
  for (let attempt = 1; ; attempt += 1) {
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => r.request().method() === "POST" && r.url().includes(`/api/auth/${endpoint}`),
      ),
      page.getByRole("button", { name: button }).click(),
    ]);
    if (response.status() !== 429 || attempt === 4) return response;
    const wait = Number(response.headers()["x-retry-after"] ?? "10");
    step(`${endpoint} rate-limited by Better Auth; submitting again in ${wait + 1} s`);
    await page.waitForTimeout((wait + 1) * 1000);
  }
}

export async function signUp(page, user) {
  await page.goto(`${WEB_URL}/tasks`);
  await page.waitForURL(`${WEB_URL}/sign-in?next=%2Ftasks`);
  step(`${user.name}: unauthenticated /tasks redirected to ${pathOf(page)}`);
  await page.getByRole("link", { name: "Sign up" }).click();
  await page.waitForURL(/\/sign-up/);
  await page.getByLabel("Name").fill(user.name);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await submitAuthForm(page, "Sign up", "sign-up/email");
  await page.waitForURL(`${WEB_URL}/tasks`);
  await page.getByText(user.email).waitFor();
}

export async function signIn(page, user) {
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await submitAuthForm(page, "Sign in", "sign-in/email");
  await page.waitForURL(`${WEB_URL}/tasks`);
  await page.getByText(user.email).waitFor();
}

export function taskRow(page, title) {
  return page.locator("li.task", { has: page.getByText(title, { exact: true }) });
}

export async function visibleTitles(page) {
  await page.locator("ul.task-list[aria-busy='false'], p.empty").first().waitFor();
  return page.locator("li.task .task-title").allTextContents();
}

/** Adds a task with the form; `collection` is the API path the page should POST to. */
export async function addTask(page, title, extras = {}) {
  const collection = extras.collection ?? "/api/tasks";
  await page.getByLabel("Title", { exact: true }).fill(title);
  if (extras.priority) await page.getByLabel("Priority").selectOption(extras.priority);
  if (extras.description) await page.getByLabel("Description (optional)").fill(extras.description);
  // Submit with the keyboard, as a keyboard user would.
  const response = await apiCall(page, "POST", collection, () =>
    page.getByLabel("Title", { exact: true }).press("Enter"),
  );
  assert.equal(response.status(), 201, `POST ${collection} for "${title}"`);
  await taskRow(page, title).waitFor();
  return (await response.json()).id;
}

/** The claims of a compact JWS, unverified (the API verified it; this only reads it). */
export function decodeJwt(token) {
  const payload = token.split(".")[1];
  assert.ok(payload, "not a JWT");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

/** Screenshots of every page still open, named failure-<label>.png. */
export async function saveFailureScreenshots() {
  for (const [label, page] of openPages) {
    try {
      const file = path.join(SCREENSHOT_DIR, `failure-${label}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.error(`  failure screenshot of ${label} at ${pathOf(page)}: ${file}`);
    } catch {
      // The page may be gone; the error above is what matters.
    }
  }
}

/** Runs a flow: prints `<name> PASSED`, or the error, failure screenshots and exit code 1. */
export function runFlow(name, main) {
  main().then(
    () => console.log(`${name} PASSED`),
    async (error) => {
      console.error(`${name} FAILED:`, error?.stack || error);
      await saveFailureScreenshots();
      process.exit(1);
    },
  );
}
