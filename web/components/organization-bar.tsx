"use client";
/**
 * Organizations: switch between personal and team tasks, create an organization, and (owners
 * and admins) add members who already have an account.
 *
 * The active organization lives in the Better Auth session; the JWT minted for the Tasks API
 * carries it. `onSwitched` runs after the session changed, so the caller can drop the cached
 * JWT before the next API call.
 */

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { canManageMembers } from "@/lib/add-member";
import { authClient } from "@/lib/auth-client";
import { check, organizationSlug, unwrap } from "@/lib/auth-result";

export const organizationKeys = {
  all: ["organizations"] as const,
  role: (organizationId: string) => ["organizations", organizationId, "role"] as const,
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong. Please try again.";
}

interface OrganizationBarProps {
  activeOrganizationId: string | null;
  /** Called once the session's active organization is `organizationId` (null: personal). */
  onSwitched: (organizationId: string | null) => void;
}

export function OrganizationBar({ activeOrganizationId, onSwitched }: OrganizationBarProps) {
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  const organizations = useQuery({
    queryKey: organizationKeys.all,
    queryFn: async () => unwrap(await authClient.organization.list()),
  });
  const role = useQuery({
    queryKey: organizationKeys.role(activeOrganizationId ?? ""),
    enabled: activeOrganizationId !== null,
    queryFn: async () => unwrap(await authClient.organization.getActiveMemberRole()).role,
  });
  const active = organizations.data?.find((org) => org.id === activeOrganizationId);

  async function switchTo(organizationId: string | null) {
    setBusy(true);
    setNotice(null);
    try {
      // Its answer is the organization, or null for "personal".
      check(await authClient.organization.setActive({ organizationId }));
      onSwitched(organizationId);
    } catch (error) {
      setNotice({ text: `Could not switch: ${message(error)}`, error: true });
    } finally {
      setBusy(false);
    }
  }

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const name = String(new FormData(formElement).get("name") ?? "").trim();
    if (name === "") return;
    setBusy(true);
    setNotice(null);
    try {
      // Creating makes the new organization the session's active one.
      const org = unwrap(
        await authClient.organization.create({ name, slug: organizationSlug(name) }),
      );
      await queryClient.invalidateQueries({ queryKey: organizationKeys.all });
      formElement.reset();
      onSwitched(org.id);
      setNotice({ text: `Created “${org.name}”.`, error: false });
    } catch (error) {
      setNotice({ text: `Could not create the organization: ${message(error)}`, error: true });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="org-heading">
      <h2 id="org-heading">Organizations</h2>
      <div className="org-row">
        <div className="field grow">
          <label htmlFor="workspace">Workspace</label>
          <select
            id="workspace"
            value={activeOrganizationId ?? ""}
            disabled={busy || organizations.isPending}
            onChange={(event) => void switchTo(event.target.value || null)}
          >
            <option value="">Personal</option>
            {organizations.data?.map((org) => (
              <option key={org.id} value={org.id}>
                {org.name}
              </option>
            ))}
          </select>
        </div>
        <form onSubmit={create} className="inline-form" aria-label="Create an organization">
          <div className="field grow">
            <label htmlFor="org-name">Organization name</label>
            <input id="org-name" name="name" type="text" required maxLength={100} />
          </div>
          <button type="submit" disabled={busy}>
            Create organization
          </button>
        </form>
      </div>
      {active && (
        <p className="muted" data-testid="org-role">
          Team tasks of <strong>{active.name}</strong>
          {role.data ? `; your role: ${role.data}` : ""}
        </p>
      )}
      {active && canManageMembers(role.data ?? null) && (
        <AddMemberForm organizationId={active.id} onNotice={setNotice} />
      )}
      <p role="status" aria-live="polite" className={notice?.error ? "error" : "muted"}>
        {notice?.text ?? ""}
      </p>
    </section>
  );
}

function AddMemberForm({
  organizationId,
  onNotice,
}: {
  organizationId: string;
  onNotice: (notice: { text: string; error: boolean } | null) => void;
}) {
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const email = String(form.get("email") ?? "").trim();
    if (email === "") return;
    setPending(true);
    onNotice(null);
    try {
      const response = await fetch("/api/organization/members", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ organizationId, email, role: String(form.get("role") ?? "member") }),
      });
      const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
      if (!response.ok) {
        const detail = typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
        onNotice({ text: `Could not add ${email}: ${detail}`, error: true });
        return;
      }
      formElement.reset();
      onNotice({ text: `Added ${email} to the organization.`, error: false });
    } catch {
      onNotice({ text: `Could not add ${email}: the server did not answer.`, error: true });
    } finally {
      setPending(false);
    }
  }

  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add a member">
      <div className="field grow">
        <label htmlFor="member-email">Member e-mail</label>
        <input id="member-email" name="email" type="email" required maxLength={320} />
      </div>
      <div className="field">
        <label htmlFor="member-role">Role</label>
        <select id="member-role" name="role" defaultValue="member">
          <option value="member">Member</option>
          <option value="admin">Admin</option>
        </select>
      </div>
      <button type="submit" disabled={pending}>
        {pending ? "Adding…" : "Add member"}
      </button>
    </form>
  );
}
