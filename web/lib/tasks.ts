/** Types and calls for the Tasks API's `/api/tasks` and `/api/me` resources. */

import type { ApiClient } from "./api";

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
): Promise<TaskPage> {
  return api.request<TaskPage>("/api/tasks", {
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

export function createTask(api: ApiClient, task: NewTask): Promise<Task> {
  return api.request<Task>("/api/tasks", { method: "POST", body: task });
}

export function updateTask(api: ApiClient, id: string, changes: TaskChanges): Promise<Task> {
  return api.request<Task>(`/api/tasks/${encodeURIComponent(id)}`, {
    method: "PATCH",
    body: changes,
  });
}

export function deleteTask(api: ApiClient, id: string): Promise<void> {
  return api.request<void>(`/api/tasks/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export function getMe(api: ApiClient, signal?: AbortSignal): Promise<Me> {
  return api.request<Me>("/api/me", { signal });
}
