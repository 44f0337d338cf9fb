/** Small display helpers shared by the task components. */

import { ApiError } from "./api";

/** `YYYY-MM-DD` from a date input to the API's `due_at` (midnight UTC), or null. */
export function dateToDueAt(date: string): string | null {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T00:00:00Z` : null;
}

/** The API's `due_at` back to `YYYY-MM-DD` for a date input ("" when unset). */
export function dueAtToDate(dueAt: string | null): string {
  return dueAt ? dueAt.slice(0, 10) : "";
}

export function errorMessage(error: unknown): string {
  // 403: signed in, but the role (say, a team member deleting a team task) does not allow it.
  // Only a 401 signs out; this is said plainly instead.
  if (error instanceof ApiError && error.status === 403) {
    return `Permission denied. ${error.message}`;
  }
  if (error instanceof ApiError) return error.message;
  return "Something went wrong. Please try again.";
}
