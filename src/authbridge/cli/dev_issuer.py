"""``authbridge dev-issuer``: serve the dev keys' JWKS on loopback, like Better Auth would.

With it the API runs with no frontend: ``BETTER_AUTH_URL=http://127.0.0.1:3999`` makes the
API fetch ``/api/auth/jwks`` here, and ``authbridge mint`` signs tokens with the same keys.
The file is re-read on every request, so keys minted later appear without a restart.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer

from ..config import load_settings
from ..errors import ConfigError
from .dev_guard import dev_key_store, refuse_in_production
from .devkeys import ASYMMETRIC_DEV_ALGORITHMS, DevKeyStore
from .output import console, err_console, escape, fail_usage, guarded

__all__ = ["dev_issuer_command"]

JWKS_PATH = "/api/auth/jwks"


class _Handler(BaseHTTPRequestHandler):
    store: ClassVar[DevKeyStore]
    server_version = "authbridge-dev-issuer"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == JWKS_PATH:
            try:
                document = self.store.public_jwks()
            except ConfigError as exc:
                self._send(500, {"message": exc.problem})
                return
            self._send(200, document)
        elif path in ("/api/auth/ok", "/__health"):
            self._send(200, {"ok": True})
        else:
            self._send(404, {"message": "Not Found"})

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"dev-issuer: {format % args}\n")


@guarded
def dev_issuer_command(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free port).")
    ] = 3999,
    alg: Annotated[
        list[str] | None,
        typer.Option("--alg", help="Make sure a key exists for this algorithm (repeatable)."),
    ] = None,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            help="Dev keys file (default .authbridge/dev-keys.json at the repo root).",
            envvar="AUTHBRIDGE_DEV_KEYS_FILE",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the addresses as one JSON line.")
    ] = False,
) -> None:
    """Serve the dev keys' JWKS at http://127.0.0.1:PORT/api/auth/jwks. Refused in production."""
    settings = load_settings()
    refuse_in_production(settings, "dev-issuer")
    if not 0 <= port <= 65535:
        fail_usage("--port must be between 0 and 65535", as_json=json_output)
    wanted = alg or ["EdDSA"]
    unknown = [name for name in wanted if name not in ASYMMETRIC_DEV_ALGORITHMS]
    if unknown:
        fail_usage(
            f"--alg must be one of {', '.join(ASYMMETRIC_DEV_ALGORITHMS)}", as_json=json_output
        )
    store = dev_key_store(keys_file)
    for name in wanted:
        store.key_for(name)
    handler = type("DevIssuerHandler", (_Handler,), {"store": store})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        fail_usage(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", as_json=json_output)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    kids = {key.kid: key.alg for key in store.load()}
    info: dict[str, Any] = {
        "issuer": origin,
        "jwks_url": origin + JWKS_PATH,
        "keys_file": str(store.path),
        "kids": kids,
    }
    if json_output:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        console.print(f"Serving the dev JWKS at [bold]{escape(info['jwks_url'])}[/]")
        for kid, name in kids.items():
            console.print(f"  {escape(name):<6} kid {escape(kid)}")
        console.print(f"Run the API with BETTER_AUTH_URL={escape(origin)}")
        console.print(
            f"Mint tokens with: BETTER_AUTH_URL={escape(origin)} authbridge mint --sub alice"
        )
        console.print("Ctrl-C stops.", style="dim")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err_console.print("dev-issuer stopped")
    finally:
        server.server_close()
