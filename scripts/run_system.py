"""`make run`: start the whole system — the Next.js web app on :3000 and the Tasks API on :8000.

Generates secrets on first run (`authbridge secret --write`), wires the URLs between the two,
runs the API's migrations, prints both URLs and stops both cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB_PORT = int(os.environ.get("WEB_PORT", "3000"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
WEB_URL = f"http://localhost:{WEB_PORT}"
API_URL = f"http://localhost:{API_PORT}"


def authbridge() -> str:
    found = shutil.which("authbridge") or str(ROOT / ".venv" / "bin" / "authbridge")
    return found


def has_value(path: Path, name: str) -> bool:
    if not path.exists():
        return False
    return any(line.startswith(f"{name}=") for line in path.read_text().splitlines())


def ensure_secrets() -> None:
    # Both servers prefer the environment to their env files, so a secret set there is used
    # as is and the files are left alone.
    if os.environ.get("BETTER_AUTH_SECRET"):
        return
    frontend, backend = ROOT / "web" / ".env.local", ROOT / ".env"
    if has_value(frontend, "BETTER_AUTH_SECRET") and has_value(backend, "BETTER_AUTH_SECRET"):
        return
    if has_value(frontend, "BETTER_AUTH_SECRET") != has_value(backend, "BETTER_AUTH_SECRET"):
        sys.exit(
            "BETTER_AUTH_SECRET is set in only one of web/.env.local and .env: "
            "run `authbridge secret --write --force` to set both."
        )
    subprocess.run([authbridge(), "secret", "--write"], cwd=ROOT, check=True)


def wait_until_up(url: str, process: subprocess.Popen[bytes], name: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited with status {process.returncode}; see its output above.")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{name} did not answer at {url} within {limit:.0f} s.")


def start(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, start_new_session=True)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    ensure_secrets()
    api_env = {
        "BETTER_AUTH_URL": WEB_URL,
        "AUTHBRIDGE_JWKS_URL": f"{WEB_URL}/api/auth/jwks",
        "CORS_ORIGINS": WEB_URL,
    }
    web_env = {
        "BETTER_AUTH_URL": WEB_URL,
        "NEXT_PUBLIC_API_URL": API_URL,
        "PORT": str(WEB_PORT),
    }
    subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate", "upgrade"],
        cwd=ROOT,
        env={**os.environ, **api_env},
        check=True,
    )
    processes: list[subprocess.Popen[bytes]] = []
    # A background job inherits SIGINT ignored; Ctrl-C and SIGTERM must both stop the system.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        processes.append(start([authbridge(), "serve", "--port", str(API_PORT)], ROOT, api_env))
        processes.append(
            start(
                [str(ROOT / "web/node_modules/.bin/next"), "start", "-p", str(WEB_PORT)],
                ROOT / "web",
                web_env,
            )
        )
        wait_until_up(f"http://127.0.0.1:{API_PORT}/healthz", processes[0], "The API", 60)
        wait_until_up(f"http://127.0.0.1:{WEB_PORT}/", processes[1], "The web app", 120)
        print(
            f"\n  web  {WEB_URL}   (sign up, then manage your tasks)\n"
            f"  api  {API_URL}   (OpenAPI docs at {API_URL}/docs)\n\n"
            "  Ctrl-C stops both.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    raise SystemExit(main())
