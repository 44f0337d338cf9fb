"use client";
/** React Query hooks for tasks; their options and optimistic logic live in lib/task-queries. */

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";

import { useApi } from "@/components/api-provider";
import {
  createTaskMutation,
  deleteTaskMutation,
  tasksQuery,
  updateTaskMutation,
  type MutationHandlers,
} from "@/lib/task-queries";
import type { TaskFilters } from "@/lib/tasks";

export { taskKeys, type MutationHandlers } from "@/lib/task-queries";

/** Cursor-paginated tasks matching `filters`; `fetchNextPage()` follows `next_cursor`. */
export function useTasks(filters: TaskFilters) {
  return useInfiniteQuery(tasksQuery(useApi(), filters));
}

export function useCreateTask() {
  return useMutation(createTaskMutation(useApi(), useQueryClient()));
}

/** Optimistic: every cached list shows the change at once and rolls back if it fails. */
export function useUpdateTask(handlers: MutationHandlers = {}) {
  return useMutation(updateTaskMutation(useApi(), useQueryClient(), handlers));
}

/** Optimistic: the task disappears at once and comes back if the delete fails. */
export function useDeleteTask(handlers: MutationHandlers = {}) {
  return useMutation(deleteTaskMutation(useApi(), useQueryClient(), handlers));
}
