"use client";
/** One task row: toggle done, edit inline, delete. */

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

import { useDeleteTask, useUpdateTask } from "@/hooks/use-tasks";
import { dateToDueAt, dueAtToDate, errorMessage } from "@/lib/format";
import type { Priority, Task, TaskChanges } from "@/lib/tasks";

type OnError = (message: string | null) => void;

export function TaskItem({ task, onError }: { task: Task; onError: OnError }) {
  const [editing, setEditing] = useState(false);
  const updateTask = useUpdateTask({
    onError: (error) => onError(`Could not update “${task.title}”: ${errorMessage(error)}`),
  });
  const deleteTask = useDeleteTask({
    onError: (error) => onError(`Could not delete “${task.title}”: ${errorMessage(error)}`),
  });
  const checkboxId = `done-${task.id}`;
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);

  // Keyboard users land back on "Edit" when the inline form closes (saved or cancelled).
  useEffect(() => {
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  function toggle() {
    onError(null);
    updateTask.mutate({ id: task.id, changes: { completed: !task.completed } });
  }

  function save(changes: TaskChanges) {
    onError(null);
    updateTask.mutate({ id: task.id, changes });
    setEditing(false); // the list already shows the change; it rolls back if the save fails
  }

  function remove() {
    onError(null);
    deleteTask.mutate(task.id);
  }

  if (editing) {
    return (
      <li className="task editing" data-task-id={task.id}>
        <EditTaskForm task={task} onSave={save} onCancel={() => setEditing(false)} />
      </li>
    );
  }

  return (
    <li className={task.completed ? "task done" : "task"} data-task-id={task.id}>
      <input id={checkboxId} type="checkbox" checked={task.completed} onChange={toggle} />
      <div className="task-body">
        <label htmlFor={checkboxId} className="task-title">
          {task.title}
        </label>
        {task.description && <p className="task-description">{task.description}</p>}
        <p className="task-meta">
          <span className={`badge ${task.priority}`}>{task.priority} priority</span>
          {task.due_at && <span>Due {dueAtToDate(task.due_at)}</span>}
        </p>
      </div>
      <div className="task-actions">
        <button
          ref={editButton}
          type="button"
          onClick={() => setEditing(true)}
          aria-label={`Edit “${task.title}”`}
        >
          Edit
        </button>
        <button
          type="button"
          className="danger"
          onClick={remove}
          disabled={deleteTask.isPending}
          aria-label={`Delete “${task.title}”`}
        >
          Delete
        </button>
      </div>
    </li>
  );
}

interface EditTaskFormProps {
  task: Task;
  onSave: (changes: TaskChanges) => void;
  onCancel: () => void;
}

function EditTaskForm({ task, onSave, onCancel }: EditTaskFormProps) {
  const titleRef = useRef<HTMLInputElement>(null);
  const prefix = `edit-${task.id}`;

  useEffect(() => titleRef.current?.focus(), []);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const title = String(form.get("title") ?? "").trim();
    if (title === "") return;
    const description = String(form.get("description") ?? "").trim();
    onSave({
      title,
      description: description === "" ? null : description,
      priority: String(form.get("priority")) as Priority,
      due_at: dateToDueAt(String(form.get("due") ?? "")),
    });
  }

  function onKeyDown(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === "Escape") onCancel();
  }

  return (
    <form
      onSubmit={onSubmit}
      onKeyDown={onKeyDown}
      className="edit-task"
      aria-label={`Edit “${task.title}”`}
    >
      <div className="field grow">
        <label htmlFor={`${prefix}-title`}>Title</label>
        <input
          ref={titleRef}
          id={`${prefix}-title`}
          name="title"
          type="text"
          defaultValue={task.title}
          required
          maxLength={200}
        />
      </div>
      <div className="field grow">
        <label htmlFor={`${prefix}-description`}>Description</label>
        <input
          id={`${prefix}-description`}
          name="description"
          type="text"
          defaultValue={task.description ?? ""}
          maxLength={2000}
        />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-due`}>Due date</label>
        <input
          id={`${prefix}-due`}
          name="due"
          type="date"
          defaultValue={dueAtToDate(task.due_at)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-priority`}>Priority</label>
        <select id={`${prefix}-priority`} name="priority" defaultValue={task.priority}>
          <option value="low">Low</option>
          <option value="normal">Normal</option>
          <option value="high">High</option>
        </select>
      </div>
      <div className="task-actions">
        <button type="submit" className="primary">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
