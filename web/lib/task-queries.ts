/**
 * React Query options for tasks, free of React so they can be tested with a bare QueryClient.
 *
 * Lists are cursor-paginated infinite queries keyed by scope (personal or one organization's
 * team tasks) and filters. Updates and deletes are applied optimistically to every cached list
 * of their scope, rolled back on error, and re-fetched when settled.
 */

import type { InfiniteData, QueryClient, QueryKey } from "@tanstack/react-query";

import type { ApiClient } from "./api";
import {
  createTask,
  deleteTask,
  listTasks,
  PERSONAL_SCOPE,
  updateTask,
  type NewTask,
  type Task,
  type TaskChanges,
  type TaskFilters,
  type TaskPage,
  type TaskScope,
} from "./tasks";

export type TaskPages = InfiniteData<TaskPage, string | null>;
type Snapshot = Array<[QueryKey, TaskPages | undefined]>;

export const taskKeys = {
  all: ["tasks"] as const,
  scope: (scope: TaskScope = PERSONAL_SCOPE) => ["tasks", scope.key] as const,
  list: (filters: TaskFilters, scope: TaskScope = PERSONAL_SCOPE) =>
    [
      "tasks",
      scope.key,
      "list",
      { completed: filters.completed, q: filters.q?.trim() ?? "", sort: filters.sort },
    ] as const,
};

export function tasksQuery(
  api: ApiClient,
  filters: TaskFilters,
  scope: TaskScope = PERSONAL_SCOPE,
) {
  return {
    queryKey: taskKeys.list(filters, scope),
    queryFn: ({ pageParam, signal }: { pageParam: string | null; signal: AbortSignal }) =>
      listTasks(api, filters, pageParam, signal, scope),
    initialPageParam: null as string | null,
    getNextPageParam: (lastPage: TaskPage) => lastPage.next_cursor ?? undefined,
  };
}

/**
 * Extra error handler. Set on the mutation (not per `mutate` call) because a row that started
 * it may unmount before it fails: optimistic deletes remove the row at once.
 */
export interface MutationHandlers {
  onError?: (error: Error) => void;
}

/** Applies `edit` to the items of every cached task list of `scope`. */
function mapCachedLists(
  queryClient: QueryClient,
  scope: TaskScope,
  edit: (items: Task[]) => Task[],
): void {
  queryClient.setQueriesData<TaskPages>({ queryKey: taskKeys.scope(scope) }, (data) =>
    data === undefined
      ? data
      : { ...data, pages: data.pages.map((page) => ({ ...page, items: edit(page.items) })) },
  );
}

/** Optimistic edit: stops in-flight list fetches, snapshots every list, then edits them. */
async function editOptimistically(
  queryClient: QueryClient,
  scope: TaskScope,
  edit: (items: Task[]) => Task[],
): Promise<Snapshot> {
  const lists = taskKeys.scope(scope);
  await queryClient.cancelQueries({ queryKey: lists });
  const snapshot = queryClient.getQueriesData<TaskPages>({ queryKey: lists });
  mapCachedLists(queryClient, scope, edit);
  return snapshot;
}

function restore(queryClient: QueryClient, snapshot: Snapshot | undefined): void {
  for (const [key, data] of snapshot ?? []) queryClient.setQueryData(key, data);
}

function refetchLists(queryClient: QueryClient, scope: TaskScope): Promise<void> {
  return queryClient.invalidateQueries({ queryKey: taskKeys.scope(scope) });
}

export function createTaskMutation(
  api: ApiClient,
  queryClient: QueryClient,
  scope: TaskScope = PERSONAL_SCOPE,
) {
  return {
    mutationFn: (task: NewTask) => createTask(api, task, scope),
    // Where a new task lands depends on filters and sort, so let the server decide.
    onSettled: () => refetchLists(queryClient, scope),
  };
}

export interface UpdateVariables {
  id: string;
  changes: TaskChanges;
}

export function updateTaskMutation(
  api: ApiClient,
  queryClient: QueryClient,
  handlers: MutationHandlers = {},
  scope: TaskScope = PERSONAL_SCOPE,
) {
  return {
    mutationFn: ({ id, changes }: UpdateVariables) => updateTask(api, id, changes, scope),
    onMutate: ({ id, changes }: UpdateVariables) =>
      editOptimistically(queryClient, scope, (items) =>
        items.map((task) => (task.id === id ? { ...task, ...changes } : task)),
      ),
    onError: (error: Error, _variables: UpdateVariables, snapshot: Snapshot | undefined) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSuccess: (saved: Task) =>
      mapCachedLists(queryClient, scope, (items) =>
        items.map((task) => (task.id === saved.id ? saved : task)),
      ),
    onSettled: () => refetchLists(queryClient, scope),
  };
}

export function deleteTaskMutation(
  api: ApiClient,
  queryClient: QueryClient,
  handlers: MutationHandlers = {},
  scope: TaskScope = PERSONAL_SCOPE,
) {
  return {
    mutationFn: (id: string) => deleteTask(api, id, scope),
    onMutate: (id: string) =>
      editOptimistically(queryClient, scope, (items) => items.filter((task) => task.id !== id)),
    onError: (error: Error, _id: string, snapshot: Snapshot | undefined) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSettled: () => refetchLists(queryClient, scope),
  };
}
