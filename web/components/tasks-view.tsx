"use client";
/**
 * The tasks page: add, filter, search, complete, edit and delete tasks, personal or of the
 * active organization (team tasks); plus organizations and API keys.
 */

import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";

import { useApi } from "@/components/api-provider";
import { ApiKeys } from "@/components/api-keys";
import { OrganizationBar, organizationKeys } from "@/components/organization-bar";
import { TaskItem } from "@/components/task-item";
import {
  TaskScopeProvider,
  taskKeys,
  useCreateTask,
  useTaskScope,
  useTasks,
} from "@/hooks/use-tasks";
import {
  PERSONAL_SCOPE,
  teamScope,
  type Priority,
  type TaskFilters,
  type TaskSort,
} from "@/lib/tasks";
import { dateToDueAt, errorMessage } from "@/lib/format";

type StatusFilter = "all" | "open" | "done";

const STATUS_TO_COMPLETED: Record<StatusFilter, boolean | undefined> = {
  all: undefined,
  open: false,
  done: true,
};

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

interface TasksViewProps {
  user: { email: string; name: string; activeOrganizationId: string | null };
}

export function TasksView({ user }: TasksViewProps) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [organizationId, setOrganizationId] = useState(user.activeOrganizationId);
  const scope = organizationId === null ? PERSONAL_SCOPE : teamScope(organizationId);
  const [status, setStatus] = useState<StatusFilter>("all");
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<TaskSort>("created");
  const [notice, setNotice] = useState<string | null>(null);
  const [signingOut, setSigningOut] = useState(false);
  const q = useDebounced(search, 300);
  const filters: TaskFilters = { completed: STATUS_TO_COMPLETED[status], q, sort };

  async function signOut() {
    setSigningOut(true);
    // A query still in flight would meet the ended session and send the user to sign-in by
    // its own way (with ?next=), racing this navigation: stop them, and leave through the
    // API client's one exit, which any late failure joins.
    await queryClient.cancelQueries();
    await api.signOut();
    queryClient.clear();
  }

  function onSwitched(next: string | null) {
    // The cached JWT names the previous organization: the next API call must mint a new one.
    api.clearToken();
    // Lists of other workspaces were read with an older token and may be stale: drop them,
    // so switching (back) to one always reads it afresh.
    queryClient.removeQueries({ queryKey: taskKeys.all, type: "inactive" });
    void queryClient.invalidateQueries({ queryKey: organizationKeys.all });
    setNotice(null);
    setOrganizationId(next);
  }

  return (
    <TaskScopeProvider value={scope}>
      <div className="stack">
        <header className="topbar">
          <div>
            <h1>{organizationId === null ? "Your tasks" : "Team tasks"}</h1>
            <p className="muted">
              Signed in as <strong>{user.email}</strong>
            </p>
          </div>
          <button type="button" onClick={signOut} disabled={signingOut}>
            {signingOut ? "Signing out…" : "Sign out"}
          </button>
        </header>

        <OrganizationBar activeOrganizationId={organizationId} onSwitched={onSwitched} />

        <NewTaskForm onError={setNotice} />

        <p role="status" aria-live="polite" className={notice ? "error" : "visually-hidden"}>
          {notice ?? ""}
        </p>

        <section className="card" aria-labelledby="list-heading">
          <h2 id="list-heading" className="visually-hidden">
            Task list
          </h2>
          <div className="filters" role="search">
            <div className="field">
              <label htmlFor="status-filter">Show</label>
              <select
                id="status-filter"
                value={status}
                onChange={(event) => setStatus(event.target.value as StatusFilter)}
              >
                <option value="all">All tasks</option>
                <option value="open">Open</option>
                <option value="done">Completed</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="sort">Sort by</label>
              <select
                id="sort"
                value={sort}
                onChange={(event) => setSort(event.target.value as TaskSort)}
              >
                <option value="created">Newest first</option>
                <option value="due">Due date</option>
                <option value="priority">Priority</option>
              </select>
            </div>
            <div className="field grow">
              <label htmlFor="search">Search</label>
              <input
                id="search"
                type="search"
                value={search}
                placeholder="Search titles and descriptions"
                onChange={(event) => setSearch(event.target.value)}
              />
            </div>
          </div>
          <TaskList filters={filters} onError={setNotice} />
        </section>

        <ApiKeys />
      </div>
    </TaskScopeProvider>
  );
}

function NewTaskForm({ onError }: { onError: (message: string | null) => void }) {
  const createTask = useCreateTask();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const title = String(form.get("title") ?? "").trim();
    if (title === "") return;
    const description = String(form.get("description") ?? "").trim();
    const due = String(form.get("due") ?? "");
    onError(null);
    try {
      await createTask.mutateAsync({
        title,
        description: description === "" ? null : description,
        due_at: dateToDueAt(due),
        priority: String(form.get("priority") ?? "normal") as Priority,
      });
      formElement.reset();
      formElement.querySelector<HTMLInputElement>("#new-title")?.focus();
    } catch (error) {
      onError(`Could not add the task: ${errorMessage(error)}`);
    }
  }

  return (
    <section className="card" aria-labelledby="new-heading">
      <h2 id="new-heading">Add a task</h2>
      <form onSubmit={onSubmit} className="new-task">
        <div className="field grow">
          <label htmlFor="new-title">Title</label>
          <input id="new-title" name="title" type="text" required maxLength={200} />
        </div>
        <div className="field grow">
          <label htmlFor="new-description">Description (optional)</label>
          <input id="new-description" name="description" type="text" maxLength={2000} />
        </div>
        <div className="field">
          <label htmlFor="new-due">Due date</label>
          <input id="new-due" name="due" type="date" />
        </div>
        <div className="field">
          <label htmlFor="new-priority">Priority</label>
          <select id="new-priority" name="priority" defaultValue="normal">
            <option value="low">Low</option>
            <option value="normal">Normal</option>
            <option value="high">High</option>
          </select>
        </div>
        <button type="submit" className="primary" disabled={createTask.isPending}>
          {createTask.isPending ? "Adding…" : "Add task"}
        </button>
      </form>
    </section>
  );
}

function TaskList({
  filters,
  onError,
}: {
  filters: TaskFilters;
  onError: (message: string | null) => void;
}) {
  const tasks = useTasks(filters);
  const team = useTaskScope().collection !== PERSONAL_SCOPE.collection;

  if (tasks.isPending) {
    return (
      <p className="muted" aria-busy="true">
        Loading tasks…
      </p>
    );
  }
  if (tasks.isError) {
    return (
      <div role="alert" className="error-box">
        <p>Could not load your tasks: {errorMessage(tasks.error)}</p>
        <button type="button" onClick={() => void tasks.refetch()}>
          Try again
        </button>
      </div>
    );
  }

  const items = tasks.data.pages.flatMap((page) => page.items);
  const filtered = filters.completed !== undefined || (filters.q ?? "").trim() !== "";
  if (items.length === 0) {
    return (
      <p className="empty">
        {filtered
          ? "No tasks match these filters."
          : team
            ? "No team tasks yet. Add the first one above."
            : "No tasks yet. Add your first one above."}
      </p>
    );
  }

  return (
    <>
      <ul className="task-list" aria-busy={tasks.isFetching}>
        {items.map((task) => (
          <TaskItem key={task.id} task={task} onError={onError} />
        ))}
      </ul>
      {tasks.hasNextPage && (
        <button
          type="button"
          className="load-more"
          onClick={() => void tasks.fetchNextPage()}
          disabled={tasks.isFetchingNextPage}
        >
          {tasks.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </>
  );
}
