"use client";
/**
 * API keys for scripts: create one (its secret is shown once, with a copy button), list them,
 * revoke them. A key acts as its owner on the Tasks API (header `x-api-key`) with the
 * permissions the server gives every new key (tasks: read, write).
 */

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { authClient } from "@/lib/auth-client";
import { unwrap } from "@/lib/auth-result";

const apiKeyKeys = { all: ["api-keys"] as const };

function message(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong. Please try again.";
}

export function ApiKeys() {
  const queryClient = useQueryClient();
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const keys = useQuery({
    queryKey: apiKeyKeys.all,
    queryFn: async () => unwrap(await authClient.apiKey.list()).apiKeys,
  });
  const create = useMutation({
    mutationFn: async (name: string) => unwrap(await authClient.apiKey.create({ name })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: apiKeyKeys.all }),
  });
  const revoke = useMutation({
    mutationFn: async (keyId: string) => unwrap(await authClient.apiKey.delete({ keyId })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: apiKeyKeys.all }),
  });

  async function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const name = String(new FormData(formElement).get("name") ?? "").trim();
    if (name === "") return;
    setNotice(null);
    setCopied(false);
    try {
      const key = await create.mutateAsync(name);
      setCreated({ name: key.name ?? name, key: key.key });
      formElement.reset();
    } catch (error) {
      setNotice(`Could not create the key: ${message(error)}`);
    }
  }

  async function onRevoke(keyId: string, name: string) {
    setNotice(null);
    try {
      await revoke.mutateAsync(keyId);
      setNotice(`Revoked “${name}”.`);
    } catch (error) {
      setNotice(`Could not revoke “${name}”: ${message(error)}`);
    }
  }

  async function copy(key: string) {
    try {
      await navigator.clipboard.writeText(key);
      setCopied(true);
    } catch {
      setNotice("Could not copy: select the key and copy it by hand.");
    }
  }

  return (
    <section className="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys</h2>
      <p className="muted">
        For scripts: send a key in the <code>x-api-key</code> header to the Tasks API. It acts
        as you on your personal tasks.
      </p>
      <form onSubmit={onCreate} className="inline-form" aria-label="Create an API key">
        <div className="field grow">
          <label htmlFor="key-name">Key name</label>
          <input id="key-name" name="name" type="text" required maxLength={32} />
        </div>
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create API key"}
        </button>
      </form>

      {created && (
        <div className="new-key" role="region" aria-label="New API key">
          <p>
            Your new key “{created.name}”. Copy it now: it is shown only once.
          </p>
          <code data-testid="new-api-key">{created.key}</code>
          <div className="task-actions">
            <button type="button" onClick={() => void copy(created.key)}>
              {copied ? "Copied" : "Copy key"}
            </button>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}

      <p role="status" aria-live="polite" className="muted">
        {notice ?? ""}
      </p>

      {keys.isPending && <p className="muted">Loading keys…</p>}
      {keys.isError && <p className="error">Could not load your keys: {message(keys.error)}</p>}
      {keys.data && keys.data.length === 0 && <p className="empty">No API keys yet.</p>}
      {keys.data && keys.data.length > 0 && (
        <ul className="key-list">
          {keys.data.map((key) => (
            <li key={key.id} className="key">
              <span className="key-name">{key.name ?? "Unnamed key"}</span>
              <span className="muted">
                {key.start ? `${key.start}…` : ""} created{" "}
                {new Date(key.createdAt).toISOString().slice(0, 10)}
              </span>
              <button
                type="button"
                className="danger"
                disabled={revoke.isPending}
                onClick={() => void onRevoke(key.id, key.name ?? "Unnamed key")}
                aria-label={`Revoke “${key.name ?? "Unnamed key"}”`}
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
