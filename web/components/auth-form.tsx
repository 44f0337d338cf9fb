"use client";
/** The sign-in and sign-up form (email + password through Better Auth). */

import Link from "next/link";
import { useState, type FormEvent } from "react";

import { authClient } from "@/lib/auth-client";

type Mode = "sign-in" | "sign-up";

const COPY: Record<Mode, { heading: string; submit: string; busy: string }> = {
  "sign-in": { heading: "Sign in", submit: "Sign in", busy: "Signing in…" },
  "sign-up": { heading: "Create an account", submit: "Sign up", busy: "Creating account…" },
};

export function AuthForm({ mode, next }: { mode: Mode; next: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const copy = COPY[mode];

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    const { error: failure } =
      mode === "sign-up"
        ? await authClient.signUp.email({
            name: String(form.get("name") ?? "").trim() || email,
            email,
            password,
          })
        : await authClient.signIn.email({ email, password });
    if (failure) {
      setBusy(false);
      setError(failure.message || "Something went wrong. Please try again.");
      return;
    }
    // A full navigation, so the server renders the next page with the new session cookie.
    window.location.assign(next);
  }

  const otherMode = mode === "sign-in" ? "/sign-up" : "/sign-in";
  const nextQuery = next === "/tasks" ? "" : `?next=${encodeURIComponent(next)}`;

  return (
    <section className="card auth-card" aria-labelledby="auth-heading">
      <h1 id="auth-heading">{copy.heading}</h1>
      <form onSubmit={onSubmit} className="stack" noValidate={false}>
        {mode === "sign-up" && (
          <div className="field">
            <label htmlFor="name">Name</label>
            <input id="name" name="name" type="text" autoComplete="name" required />
          </div>
        )}
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" name="email" type="email" autoComplete="email" required />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={mode === "sign-up" ? "new-password" : "current-password"}
            minLength={8}
            required
            aria-describedby={mode === "sign-up" ? "password-hint" : undefined}
          />
          {mode === "sign-up" && (
            <p id="password-hint" className="hint">
              At least 8 characters.
            </p>
          )}
        </div>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? copy.busy : copy.submit}
        </button>
      </form>
      <p className="muted">
        {mode === "sign-in" ? "No account yet? " : "Already have an account? "}
        <Link href={`${otherMode}${nextQuery}`}>{mode === "sign-in" ? "Sign up" : "Sign in"}</Link>
      </p>
    </section>
  );
}
