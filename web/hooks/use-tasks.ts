"use client";
/**
 * React Query hooks for tasks. Lists are cursor-paginated infinite queries keyed by filters;
 * updates and deletes are applied optimistically to every cached list and rolled back on error.
 */

import {
  useInfiniteQuery,
  useMutation,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
  type QueryKey,
} from "@tanstack/react-query";

import { useApi } from "@/components/api-provider";
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
} from "@/lib/tasks";

type TaskPages = InfiniteData<TaskPage, string | null>;
type Snapshot = Array<[QueryKey, TaskPages | undefined]>;

export const taskKeys = {
  all: ["tasks"] as const,
  list: (filters: TaskFilters) =>
    ["tasks", "list", { completed: filters.completed, q: filters.q?.trim() ?? "", sort: filters.sort }] as const,
};

export function useTasks(filters: TaskFilters) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: taskKeys.list(filters),
    queryFn: ({ pageParam, signal }) => listTasks(api, filters, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (lastPage) => lastPage.next_cursor ?? undefined,
  });
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

export function useCreateTask() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (task: NewTask) => createTask(api, task),
    // Where a new task lands depends on filters and sort, so let the server decide.
    onSettled: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}

/**
 * Extra error handler. Set on the hook (not per `mutate` call) because a row that started a
 * mutation may unmount before it fails: optimistic deletes remove the row at once.
 */
export interface MutationHandlers {
  onError?: (error: Error) => void;
}

export function useUpdateTask(handlers: MutationHandlers = {}) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, changes }: { id: string; changes: TaskChanges }) =>
      updateTask(api, id, changes),
    onMutate: ({ id, changes }) =>
      editOptimistically(queryClient, (items) =>
        items.map((task) => (task.id === id ? { ...task, ...changes } : task)),
      ),
    onError: (error, _variables, snapshot) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSuccess: (saved) =>
      mapCachedLists(queryClient, (items) =>
        items.map((task) => (task.id === saved.id ? saved : task)),
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}

export function useDeleteTask(handlers: MutationHandlers = {}) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => deleteTask(api, id),
    onMutate: (id) => editOptimistically(queryClient, (items) => items.filter((t) => t.id !== id)),
    onError: (error, _id, snapshot) => {
      restore(queryClient, snapshot);
      handlers.onError?.(error);
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}
