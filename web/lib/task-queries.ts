/**
 * React Query options for tasks, free of React so they can be tested with a bare QueryClient.
 *
 * Lists are cursor-paginated infinite queries keyed by filters. Updates and deletes are applied
 * optimistically to every cached list, rolled back on error, and re-fetched when settled.
 */

import type { InfiniteData, QueryClient, QueryKey } from "@tanstack/react-query";

import type { ApiClient } from "./api";
import {
  createTask,
  deleteTask,
  listTasks,
  updateTask,
  type NewTask,
  type Task,
  type TaskChanges,
  type TaskFilters,
  type TaskPage,
} from "./tasks";

export type TaskPages = InfiniteData<TaskPage, string | null>;
type Snapshot = Array<[QueryKey, TaskPages | undefined]>;

export const taskKeys = {
  all: ["tasks"] as const,
  list: (filters: TaskFilters) =>
    [
      "tasks",
      "list",
      { completed: filters.completed, q: filters.q?.trim() ?? "", sort: filters.sort },
    ] as const,
};

export function tasksQuery(api: ApiClient, filters: TaskFilters) {
  return {
    queryKey: taskKeys.list(filters),
    queryFn: ({ pageParam, signal }: { pageParam: string | null; signal: AbortSignal }) =>
      listTasks(api, filters, pageParam, signal),
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

/** Applies `edit` to the items of every cached task list. */
function mapCachedLists(queryClient: QueryClient, edit: (items: Task[]) => Task[]): void {
  queryClient.setQueriesData<TaskPages>({ queryKey: taskKeys.all }, (data) =>
    data === undefined
      ? data
      : { ...data, pages: data.pages.map((page) => ({ ...page, items: edit(page.items) })) },
  );
}

/** Optimistic edit: stops in-flight list fetches, snapshots every list, then edits them. */
async function editOptimistically(
  queryClient: QueryClient,
  edit: (items: Task[]) => Task[],
): Promise<Snapshot> {
  await queryClient.cancelQueries({ queryKey: taskKeys.all });
  const snapshot = queryClient.getQueriesData<TaskPages>({ queryKey: taskKeys.all });
  mapCachedLists(queryClient, edit);
  return snapshot;
}

function restore(queryClient: QueryClient, snapshot: Snapshot | undefined): void {
  for (const [key, data] of snapshot ?? []) queryClient.setQueryData(key, data);
}

function refetchLists(queryClient: QueryClient): Promise<void> {
  return queryClient.invalidateQueries({ queryKey: taskKeys.all });
}

export function createTaskMutation(api: ApiClient, queryClient: QueryClient) {
  return {
    mutationFn: (task: NewTask) => createTask(api, task),
    // Where a new task lands depends on filters and sort, so let the server decide.
    onSettled: () => refetchLists(queryClient),
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
) {
  return {
    mutationFn: ({ id, changes }: UpdateVariables) => updateTask(api, id, changes),
    onMutate: ({ id, changes }: UpdateVariables) =>
      editOptimistically(queryClient, (items) =>
        items.map((task) => (task.id === id ? { ...task, ...changes } : task)),
      ),
    onError: (error: Error, _variables: UpdateVariables, snapshot: Snapshot | undefined) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSuccess: (saved: Task) =>
      mapCachedLists(queryClient, (items) =>
        items.map((task) => (task.id === saved.id ? saved : task)),
      ),
    onSettled: () => refetchLists(queryClient),
  };
}

export function deleteTaskMutation(
  api: ApiClient,
  queryClient: QueryClient,
  handlers: MutationHandlers = {},
) {
  return {
    mutationFn: (id: string) => deleteTask(api, id),
    onMutate: (id: string) =>
      editOptimistically(queryClient, (items) => items.filter((task) => task.id !== id)),
    onError: (error: Error, _id: string, snapshot: Snapshot | undefined) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSettled: () => refetchLists(queryClient),
  };
}
