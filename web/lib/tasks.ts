/**
 * Types and calls for the Tasks API's task collections and `/api/me`.
 *
 * Two collections share one shape (JSON, pagination, ETags): the caller's own tasks at
 * `/api/tasks` and the active organization's team tasks at `/api/org/tasks`. The API picks
 * the organization from the JWT's `activeOrganizationId` claim, never from the URL.
 */

import type { ApiClient } from "./api";

/** Which collection a view works on; `key` separates their React Query caches. */
export interface TaskScope {
  collection: "/api/tasks" | "/api/org/tasks";
  key: string;
}

export const PERSONAL_SCOPE: TaskScope = { collection: "/api/tasks", key: "personal" };

/** The team tasks of one organization (which must be the session's active one). */
export function teamScope(organizationId: string): TaskScope {
  return { collection: "/api/org/tasks", key: `org:${organizationId}` };
}

function taskPath(scope: TaskScope, id: string): string {
  return `${scope.collection}/${encodeURIComponent(id)}`;
}

export type Priority = "low" | "normal" | "high";
export type TaskSort = "created" | "due" | "priority";

export interface Task {
  id: string;
  title: string;
  description: string | null;
  completed: boolean;
  due_at: string | null;
  priority: Priority;
  created_at: string;
  updated_at: string;
  /** Team tasks only: the `sub` (user id) of the member who created it. */
  created_by?: string;
}

export interface TaskPage {
  items: Task[];
  next_cursor: string | null;
}

export interface NewTask {
  title: string;
  description?: string | null;
  due_at?: string | null;
  priority?: Priority;
  completed?: boolean;
}

export type TaskChanges = Partial<NewTask>;

export interface TaskFilters {
  /** `undefined` lists both open and completed tasks. */
  completed?: boolean;
  /** Free-text search; empty means no search. */
  q?: string;
  sort?: TaskSort;
}

export interface Me {
  sub: string;
  email: string | null;
  name: string | null;
  roles: string[];
  scopes: string[];
}

export const PAGE_SIZE = 20;

export function listTasks(
  api: ApiClient,
  filters: TaskFilters,
  cursor: string | null,
  signal?: AbortSignal,
  scope: TaskScope = PERSONAL_SCOPE,
): Promise<TaskPage> {
  return api.request<TaskPage>(scope.collection, {
    query: {
      limit: PAGE_SIZE,
      cursor,
      completed: filters.completed,
      q: filters.q?.trim(),
      sort: filters.sort,
    },
    signal,
  });
}

export function createTask(
  api: ApiClient,
  task: NewTask,
  scope: TaskScope = PERSONAL_SCOPE,
): Promise<Task> {
  return api.request<Task>(scope.collection, { method: "POST", body: task });
}

export function updateTask(
  api: ApiClient,
  id: string,
  changes: TaskChanges,
  scope: TaskScope = PERSONAL_SCOPE,
): Promise<Task> {
  return api.request<Task>(taskPath(scope, id), { method: "PATCH", body: changes });
}

export function deleteTask(
  api: ApiClient,
  id: string,
  scope: TaskScope = PERSONAL_SCOPE,
): Promise<void> {
  return api.request<void>(taskPath(scope, id), { method: "DELETE" });
}

export function getMe(api: ApiClient, signal?: AbortSignal): Promise<Me> {
  return api.request<Me>("/api/me", { signal });
}
