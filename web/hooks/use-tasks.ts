"use client";
/**
 * React Query hooks for tasks; their options and optimistic logic live in lib/task-queries.
 * Each hook works on the scope (personal or team tasks) set by the nearest <TaskScopeProvider>.
 */

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";

import { useApi } from "@/components/api-provider";
import {
  createTaskMutation,
  deleteTaskMutation,
  tasksQuery,
  updateTaskMutation,
  type MutationHandlers,
} from "@/lib/task-queries";
import { PERSONAL_SCOPE, type TaskFilters, type TaskScope } from "@/lib/tasks";

export { taskKeys, type MutationHandlers } from "@/lib/task-queries";

const TaskScopeContext = createContext<TaskScope>(PERSONAL_SCOPE);

export const TaskScopeProvider = TaskScopeContext.Provider;

export function useTaskScope(): TaskScope {
  return useContext(TaskScopeContext);
}

/** Cursor-paginated tasks matching `filters`; `fetchNextPage()` follows `next_cursor`. */
export function useTasks(filters: TaskFilters) {
  return useInfiniteQuery(tasksQuery(useApi(), filters, useTaskScope()));
}

export function useCreateTask() {
  return useMutation(createTaskMutation(useApi(), useQueryClient(), useTaskScope()));
}

/** Optimistic: every cached list shows the change at once and rolls back if it fails. */
export function useUpdateTask(handlers: MutationHandlers = {}) {
  return useMutation(updateTaskMutation(useApi(), useQueryClient(), handlers, useTaskScope()));
}

/** Optimistic: the task disappears at once and comes back if the delete fails. */
export function useDeleteTask(handlers: MutationHandlers = {}) {
  return useMutation(deleteTaskMutation(useApi(), useQueryClient(), handlers, useTaskScope()));
}
