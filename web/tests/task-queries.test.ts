/**
 * Task list pagination and the optimistic update/delete logic, against a real QueryClient
 * and a stubbed API client (no React needed).
 */

import { MutationObserver, QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";

import { ApiError, type ApiClient, type RequestOptions } from "@/lib/api";
import {
  deleteTaskMutation,
  taskKeys,
  tasksQuery,
  updateTaskMutation,
  type TaskPages,
} from "@/lib/task-queries";
import { errorMessage } from "@/lib/format";
import { teamScope, type Task } from "@/lib/tasks";

function task(id: string, overrides: Partial<Task> = {}): Task {
  return {
    id,
    title: `Task ${id}`,
    description: null,
    completed: false,
    due_at: null,
    priority: "normal",
    created_at: "2026-11-27T10:00:00Z",
    updated_at: "2026-11-27T10:00:00Z",
    ...overrides,
  };
}

function pages(...items: Task[][]): TaskPages {
  return {
    pages: items.map((page, i) => ({
      items: page,
      next_cursor: i < items.length - 1 ? `c${i + 1}` : null,
    })),
    pageParams: items.map((_, i) => (i === 0 ? null : `c${i}`)),
  };
}

type Handler = (path: string, options: RequestOptions) => Promise<unknown>;

function fakeApi(handler: Handler) {
  const request = vi.fn((path: string, options: RequestOptions = {}) => handler(path, options));
  const api: ApiClient = {
    request: request as ApiClient["request"],
    clearToken: () => {},
    signOut: async () => {},
  };
  return { api, request };
}

/** A promise the test settles by hand, to look at the cache while a request is in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function titles(client: QueryClient, key: readonly unknown[]): string[] {
  const data = client.getQueryData<TaskPages>(key);
  return (data?.pages ?? []).flatMap((page) =>
    page.items.map((t) => `${t.title}${t.completed ? " ✓" : ""}`),
  );
}

const allKey = taskKeys.list({});
const openKey = taskKeys.list({ completed: false });

describe("tasksQuery", () => {
  it("follows next_cursor page by page with the same filters", async () => {
    const { api, request } = fakeApi(async (_path, options) =>
      options.query?.cursor === "c1"
        ? { items: [task("3")], next_cursor: null }
        : { items: [task("1"), task("2")], next_cursor: "c1" },
    );
    const client = new QueryClient();
    const filters = { completed: false, q: " milk ", sort: "due" as const };

    const data = await client.fetchInfiniteQuery({ ...tasksQuery(api, filters), pages: 3 });

    expect(data.pages.flatMap((p) => p.items.map((t) => t.id))).toEqual(["1", "2", "3"]);
    expect(request).toHaveBeenCalledTimes(2); // stops when next_cursor is null
    const queries = request.mock.calls.map(([, options]) => options?.query);
    expect(queries).toEqual([
      { limit: 20, cursor: null, completed: false, q: "milk", sort: "due" },
      { limit: 20, cursor: "c1", completed: false, q: "milk", sort: "due" },
    ]);
  });
});

describe("optimistic updates", () => {
  it("shows an update in every cached list at once and keeps the server's version", async () => {
    const reply = deferred<Task>();
    const { api, request } = fakeApi(() => reply.promise);
    const client = new QueryClient();
    client.setQueryData(allKey, pages([task("1"), task("2")], [task("3")]));
    client.setQueryData(openKey, pages([task("1")]));
    const observer = new MutationObserver(client, updateTaskMutation(api, client));

    const done = observer.mutate({ id: "1", changes: { completed: true } });
    await vi.waitFor(() => expect(titles(client, allKey)[0]).toBe("Task 1 ✓"));
    expect(titles(client, openKey)).toEqual(["Task 1 ✓"]);
    expect(request).toHaveBeenCalledWith("/api/tasks/1", {
      method: "PATCH",
      body: { completed: true },
    });

    reply.resolve(task("1", { completed: true, title: "Task 1 (saved)" }));
    await done;
    expect(titles(client, allKey)).toEqual(["Task 1 (saved) ✓", "Task 2", "Task 3"]);
  });

  it("rolls an update back when the API refuses it, and reports the error", async () => {
    const reply = deferred<Task>();
    const { api } = fakeApi(() => reply.promise);
    const client = new QueryClient();
    const before = pages([task("1"), task("2")]);
    client.setQueryData(allKey, before);
    const onError = vi.fn();
    const observer = new MutationObserver(client, updateTaskMutation(api, client, { onError }));

    const done = observer
      .mutate({ id: "2", changes: { title: "Renamed" } })
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(titles(client, allKey)).toEqual(["Task 1", "Renamed"]));

    reply.reject(new ApiError(412, "precondition_failed", "The task has changed"));
    expect(await done).toBeInstanceOf(ApiError);
    expect(client.getQueryData(allKey)).toEqual(before);
    expect(onError).toHaveBeenCalledOnce();
    expect(onError.mock.calls[0]![0]).toMatchObject({ status: 412 });
  });

  it("removes a deleted task at once and restores it if the delete fails", async () => {
    const reply = deferred<void>();
    const { api, request } = fakeApi(() => reply.promise);
    const client = new QueryClient();
    const before = pages([task("1"), task("2")], [task("3")]);
    client.setQueryData(allKey, before);
    const onError = vi.fn();
    const observer = new MutationObserver(client, deleteTaskMutation(api, client, { onError }));

    const done = observer.mutate("3").catch((e: unknown) => e);
    await vi.waitFor(() => expect(titles(client, allKey)).toEqual(["Task 1", "Task 2"]));
    expect(request).toHaveBeenCalledWith("/api/tasks/3", { method: "DELETE" });

    reply.reject(new ApiError(0, "network_error", "Could not reach the Tasks API."));
    await done;
    expect(client.getQueryData(allKey)).toEqual(before);
    expect(onError).toHaveBeenCalledOnce();
  });

  it("keeps a successful delete", async () => {
    const { api } = fakeApi(async () => undefined);
    const client = new QueryClient();
    client.setQueryData(allKey, pages([task("1"), task("2")]));
    const observer = new MutationObserver(client, deleteTaskMutation(api, client));
    await observer.mutate("1");
    expect(titles(client, allKey)).toEqual(["Task 2"]);
  });
});

describe("team tasks", () => {
  const acme = teamScope("acme");

  it("lists, updates and deletes through /api/org/tasks", async () => {
    const { api, request } = fakeApi(async (path, options) => {
      if (path === "/api/org/tasks") return { items: [task("t1")], next_cursor: null };
      return options.method === "PATCH" ? task("t1", { title: "Renamed" }) : undefined;
    });
    const client = new QueryClient();
    const data = await client.fetchInfiniteQuery(tasksQuery(api, {}, acme));
    expect(data.pages[0]!.items.map((t) => t.id)).toEqual(["t1"]);

    await new MutationObserver(client, updateTaskMutation(api, client, {}, acme)).mutate({
      id: "t1",
      changes: { title: "Renamed" },
    });
    await new MutationObserver(client, deleteTaskMutation(api, client, {}, acme)).mutate("t1");
    const calls = request.mock.calls.map(
      ([path, options]) => `${options?.method ?? "GET"} ${path}`,
    );
    expect(calls).toEqual(
      expect.arrayContaining(["PATCH /api/org/tasks/t1", "DELETE /api/org/tasks/t1"]),
    );
  });

  it("keeps each scope's lists apart: a team delete leaves personal lists alone", async () => {
    const { api } = fakeApi(() => new Promise(() => {})); // never answers: look mid-flight
    const client = new QueryClient();
    const teamKey = taskKeys.list({}, acme);
    const otherTeamKey = taskKeys.list({}, teamScope("globex"));
    client.setQueryData(allKey, pages([task("1"), task("2")]));
    client.setQueryData(teamKey, pages([task("1"), task("3")]));
    client.setQueryData(otherTeamKey, pages([task("1")]));

    void new MutationObserver(client, deleteTaskMutation(api, client, {}, acme)).mutate("1");
    await vi.waitFor(() => expect(titles(client, teamKey)).toEqual(["Task 3"]));
    expect(titles(client, allKey)).toEqual(["Task 1", "Task 2"]);
    expect(titles(client, otherTeamKey)).toEqual(["Task 1"]);
  });

  it("shows a 403 as a permission problem, not a sign-out", () => {
    const denied = new ApiError(403, "insufficient_scope", "The request is not allowed.");
    expect(errorMessage(denied)).toBe("Permission denied. The request is not allowed.");
  });
});
