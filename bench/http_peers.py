"""authbridge against its peers over HTTP, and in process: the libraries a user would pick
instead, verifying the same EdDSA tokens from the same JWKS for the same ``GET /hello``.

The peers are not project dependencies: this script installs ``bench/peers/requirements.txt``,
with authbridge from this checkout, into ``.venv-bench-peers`` (``uv venv`` + ``uv pip
install``), and every server of this run (bare, authbridge and each peer) runs in that one
interpreter, so they share one FastAPI, Starlette, uvicorn, uvloop and httptools.

The issuer is ``authbridge.testing.FakeIssuer`` serving its JWKS on loopback; every server,
authbridge included, fetches and caches it from that URL. Three scenarios per server: one
token repeated, a fresh token on every request, and a flood of tampered tokens (valid ``kid``,
signature bytes flipped, each one distinct). Ratios are against the bare endpoint under the
same load script. The tampered tokens are also sent one by one, before and after the load, to
record each server's status codes: a forged token must be a 401.

The in-process table comes from ``bench/verify_peers.py``, run with the same interpreter.

    uv run python bench/http_peers.py [--quick] [--duration 5] [--rounds 5]

Writes ``bench/results/peers.json``, ``peers.md`` and ``peers.png``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.testing import FakeIssuer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.processes import die_with_parent  # the one PR_SET_PDEATHSIG helper
from http_bench import (
    RUN_TOKEN_SECONDS,
    Measurement,
    Scenario,
    Server,
    add_run_options,
    measure,
    measured_on,
    medians,
    plan_load,
    pyplot,
    run_meta,
    running,
    save_figure,
    start_run,
    uvicorn_command,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REQUIREMENTS = ROOT / "bench" / "peers" / "requirements.txt"
VENV = ROOT / ".venv-bench-peers"
MAX_TOTAL_SECONDS = 25 * 60
PROBES = 40  # tampered tokens sent one by one to each server, before and after the load

# name, uvicorn factory, how it is configured (and where it is not equivalent).
SERVERS: list[tuple[str, str, str]] = [
    (
        "authbridge CurrentUser",
        "apps.endpoints:authbridge_app",
        "`AuthBridge.from_env()` with `AUTHBRIDGE_JWKS_URL`; checks alg (EdDSA), kid, iss, aud, "
        "exp; JWKS cached 600 s; verified tokens cached (a repeated token is a cache hit).",
    ),
    (
        "authbridge fast path",
        "apps.endpoints:fast_path_app",
        "The same bridge, `install(app, protect=...)`: its middleware verifies, the endpoint "
        "reads `principal_of(request)`.",
    ),
    (
        "authbridge fast path, OpenSSL",
        "apps.endpoints:fast_path_openssl_app",
        "The fast path with OpenSSL (`cryptography`) checking Ed25519, as a user without the "
        "`nacl` extra has it; the two rows above use libsodium (PyNaCl), as `authbridge[nacl]` "
        "installs. Every peer checks Ed25519 with OpenSSL.",
    ),
    (
        "fastapi-better-auth-bridge",
        "apps.peers.better_auth_bridge:app",
        "Mode B, `JwtVerifier(base_url=...)`: EdDSA allowlist, requires exp/iat/iss/aud/sub, "
        "lifetime ceiling; JWKS cached 300 s. Equivalent. No cache of verified tokens.",
    ),
    (
        "fastapi-betterauth",
        "apps.peers.betterauth:app",
        "`BetterAuth(base_url)` defaults: PyJWKClient (key set cached 300 s), iss/aud = base "
        "URL, EdDSA; exp checked when present but not required (PyJWT's default); each "
        "verification runs in the thread pool. No cache of verified tokens.",
    ),
    (
        "joserfc + cached KeySet",
        "apps.peers.joserfc_app:app",
        "Hand-written dependency: JWKS fetched once at start-up (`KeySet.import_key_set`), "
        "EdDSA, registry requires iss/aud/exp/sub. Never refetches (a rotation needs a restart).",
    ),
    (
        "PyJWT PyJWKClient (tutorial)",
        "apps.peers.pyjwt_client:app",
        "`PyJWKClient(url)` default cache (parsed key set 300 s), `get_signing_key_from_jwt`, "
        "`jwt.decode(algorithms=['EdDSA'], audience=, issuer=)`; exp not required; a refetch "
        "blocks the event loop.",
    ),
]
KINDS = ("repeated token", "fresh token", "tampered tokens")


# --- the benchmark environment ----------------------------------------------------------------


def peers_python() -> Path:
    """The benchmark environment's interpreter, created or brought up to date with uv."""
    uv = shlex.split(os.environ.get("UV") or "uv")  # make passes "python3 -m uv" if need be
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(VENV)], check=True)
    install = ["pip", "install", "--quiet", "--python", str(python), "-r", str(REQUIREMENTS)]
    subprocess.run([*uv, *install, "-e", f"{ROOT}[fastapi,nacl]"], check=True)
    return python


def versions(python: Path) -> dict[str, str]:
    names = [
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "cryptography",
        "pyjwt",
        "joserfc",
        "fastapi-better-auth-bridge",
        "fastapi-betterauth",
        "authbridge",
    ]
    code = (
        "import json, sys; from importlib.metadata import version; "
        "print(json.dumps({n: version(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


@dataclass
class PeerServer(Server):
    """A server run by the benchmark environment's interpreter, any module's factory."""

    python: str = sys.executable

    def start(self, workdir: Path) -> None:
        command = uvicorn_command(self.factory, self.port, python=self.python)
        # SIGTERM if this driver dies without its cleanup (a killed run, a closed output
        # pipe), instead of the server staying behind on its port.
        self.launch(command, workdir, preexec_fn=die_with_parent())


# --- tokens -----------------------------------------------------------------------------------


def tampered(token: str) -> str:
    """The same token with signature bytes flipped: valid header and kid, bad signature.

    Only R (the first half of an Ed25519 signature) is touched: flipping S's last bytes makes
    it at least the group order, which OpenSSL refuses before any curve arithmetic, so such a
    forgery would measure a range check rather than a failed verification.
    """
    signing_input, _, signature = token.rpartition(".")
    raw = bytearray(b64url_decode(signature))
    for index in (0, 11, 31):
        raw[index] ^= 0x5A
    return f"{signing_input}.{b64url_encode(bytes(raw))}"


class Tokens:
    """Distinct tokens on demand: each ``sid`` is new, so no cache can have seen one."""

    def __init__(self, issuer: FakeIssuer) -> None:
        self.issuer = issuer
        self.serial = 0

    def valid(self) -> str:
        self.serial += 1
        return self.issuer.token(sid=f"peer-bench-{self.serial}")

    def write(self, path: Path, count: int, *, forged: bool) -> Path:
        with path.open("w") as out:
            for _ in range(count):
                token = self.valid()
                out.write((tampered(token) if forged else token) + "\n")
        return path


# --- checks -----------------------------------------------------------------------------------


def probe(server: Server, good: str, tokens: Tokens, expected_sub: str) -> dict[str, Any]:
    """Status codes one by one: the valid token, distinct tampered tokens, and no token."""
    forged: collections.Counter[str] = collections.Counter()
    challenged = 0
    with httpx.Client(base_url=server.origin, timeout=30) as client:
        answer = client.get("/hello", headers={"Authorization": f"Bearer {good}"})
        valid_ok = answer.status_code == 200 and answer.json() == {"sub": expected_sub}
        for _ in range(PROBES):
            reply = client.get("/hello", headers={"Authorization": f"Bearer {tampered(good)}"})
            forged[str(reply.status_code)] += 1
            challenged += "bearer" in reply.headers.get("www-authenticate", "").lower()
            good = tokens.valid()
        missing = client.get("/hello").status_code
    return {
        "valid_token": answer.status_code,
        "valid_body_ok": valid_ok,
        "tampered": dict(forged),
        "tampered_with_challenge": challenged,
        "no_token": missing,
    }


# --- the run ----------------------------------------------------------------------------------


def build(python: Path, issuer: FakeIssuer, jwks_url: str) -> list[Scenario]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AUTHBRIDGE_", "BETTER_AUTH_", "BENCH_", "PYTHONPATH", "VIRTUAL_"))
    }
    env.update(
        {
            "AUTHBRIDGE_JWKS_URL": jwks_url,
            "AUTHBRIDGE_ISSUER": issuer.issuer,
            "AUTHBRIDGE_AUDIENCE": issuer.issuer,
            "AUTHBRIDGE_ENV": "production",
            "BENCH_ISSUER": issuer.issuer,
            "BENCH_JWKS_URL": jwks_url,
            "BENCH_SUB": issuer.user["id"],
        }
    )
    token = issuer.token(sid="peer-bench-repeated", expires_in=RUN_TOKEN_SECONDS)
    bare = PeerServer("bare", "apps.endpoints:bare_app", env, python=str(python))
    scenarios = [
        # The bare endpoint ignores the header; it gets one so that the ratio measures the
        # verification, not the cost of receiving the token.
        Scenario("bare endpoint", bare, "/hello", token=token),
        Scenario("bare endpoint, tokens file", bare, "/hello", fresh_tokens=True),
    ]
    for name, factory, _ in SERVERS:
        server = PeerServer(name, factory, env, python=str(python))
        scenarios.append(Scenario(f"{name}, repeated token", server, "/hello", token=token))
        scenarios.append(Scenario(f"{name}, fresh token", server, "/hello", fresh_tokens=True))
        scenarios.append(Scenario(f"{name}, tampered tokens", server, "/hello", fresh_tokens=True))
    return scenarios


def reference(name: str) -> str:
    """The bare row measured with the same wrk script (a static header, or the tokens file)."""
    return "bare endpoint" if name.endswith("repeated token") else "bare endpoint, tokens file"


def summarize(
    results: dict[str, list[Measurement]], jwks_fetches: dict[str, int]
) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        rows[name] = medians(runs)
        rows[name]["errors"] = sum(m.errors for m in runs)
        rows[name]["non_2xx"] = sum(m.non_2xx for m in runs)
        rows[name]["jwks_fetches"] = jwks_fetches.get(name, 0)
    for name, row in rows.items():
        bare = rows[reference(name)] if not name.startswith("bare") else row
        row["vs_bare"] = row["rps"] / bare["rps"]
        row["cpu_vs_bare"] = bare["cpu_us"] / row["cpu_us"]
        row["reference"] = reference(name) if not name.startswith("bare") else name
    return rows


FLOOR = "raw Ed25519 verify (floor)"  # OpenSSL, as every peer checks Ed25519
LIBSODIUM_FLOOR = "raw Ed25519 verify, libsodium"  # as authbridge checks it with PyNaCl
Floors = dict[str, dict[str, float]]  # "OpenSSL" / "libsodium" -> floor_row


def run_micro(python: Path, quick: bool, workdir: Path) -> tuple[str, dict[str, Any]]:
    """``bench/verify_peers.py`` in the benchmark environment: its table and its figures."""
    figures = workdir / "micro.json"
    command = [str(python), str(ROOT / "bench" / "verify_peers.py"), "--json", str(figures)]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    return done.stdout.strip(), json.loads(figures.read_text())


def floor_row(rows: dict[str, dict[str, Any]], raw_us: float) -> dict[str, float]:
    """What a server would reach if a fresh token cost the bare endpoint plus one raw Ed25519
    verify and nothing else (computed: the micro run's raw verify added to bare's CPU)."""
    bare = rows["bare endpoint, tokens file"]
    cpu = bare["cpu_us"] + raw_us
    return {
        "cpu_us": cpu,
        "vs_bare": bare["cpu_us"] / cpu,
        "rps": bare["rps"] * bare["cpu_us"] / cpu,
    }


def summary(rows: dict[str, dict[str, Any]], floors: Floors | None) -> list[str]:
    """One line per server: req/s and × bare for each scenario."""
    lines = [
        "| server | repeated token | fresh token | tampered tokens | tampered refused |",
        "|---|---:|---:|---:|---:|",
    ]
    bare, bare_file = rows["bare endpoint"], rows["bare endpoint, tokens file"]
    lines.append(
        f"| bare endpoint | {bare['rps']:,.0f} (1.00×) | {bare_file['rps']:,.0f} (1.00×) | | |"
    )
    for name, _, _ in SERVERS:
        cells = []
        for kind in KINDS:
            row = rows[f"{name}, {kind}"]
            cells.append(f"{row['rps']:,.0f} ({row['vs_bare']:.2f}×)")
        forged = rows[f"{name}, {KINDS[2]}"]
        refused = forged["non_2xx"] + forged["errors"]
        share = "all" if refused == forged["requests"] else f"{refused:,} / {forged['requests']:,}"
        lines.append(f"| {name} | {' | '.join(cells)} | {share} |")
    for label, floor in (floors or {}).items():
        lines.append(
            f"| floor: bare + one raw Ed25519 verify, {label} (computed) | | "
            f"{floor['rps']:,.0f} ({floor['vs_bare']:.2f}×) | | |"
        )
    return lines


def markdown(
    meta: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    probes: dict[str, dict[str, Any]],
    micro: str,
    floors: Floors | None,
) -> str:
    stack = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    lines = [
        f"{measured_on(meta)}; one interpreter for every server ({stack}); uvicorn, 1 worker, "
        f"uvloop, httptools; load from {meta['generator']} (1 thread, {meta['connections']} "
        f"connections, {meta['duration']} s × {meta['rounds']} alternated rounds, medians; "
        "loopback, load generator and server share the machine). Tokens: EdDSA, Better Auth's "
        "default payload, from one JWKS that every server fetches from "
        "`http://127.0.0.1:<port>/api/auth/jwks` and caches.",
        "",
        "req/s, median of rounds (× the bare endpoint under the same load script):",
        "",
        *summary(rows, floors),
        "",
        "*fresh token*: a new token on every request (none repeats: *tokens reused* would say "
        "so). *tampered tokens*: each request a new token with its signature bytes flipped "
        "(valid kid). *× bare*: against the bare endpoint under the same load script (a fixed "
        "header, or the tokens file). *refused*: answers that were not 2xx. *JWKS fetches*: "
        "requests to the JWKS during that scenario's measurements (warm-up included).",
        "",
        "| scenario | req/s | × bare | p50 ms | p99 ms | server CPU µs/req | × bare (CPU) "
        "| refused | JWKS fetches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        note = " (tokens reused)" if row["tokens_reused"] else ""
        refused = f"{row['non_2xx'] + row['errors']:,} / {row['requests']:,}"
        lines.append(
            f"| {name}{note} | {row['rps']:,.0f} | {row['vs_bare']:.2f} | {row['p50_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {row['cpu_us']:.0f} | {row['cpu_vs_bare']:.2f} "
            f"| {refused} | {row['jwks_fetches']} |"
        )
    lines += [
        "",
        "Each server, one request at a time before and after the load: the valid token, "
        f"{PROBES} distinct tampered tokens (status codes seen, and how many carried a "
        "`WWW-Authenticate: Bearer` challenge), no token.",
        "",
        "| server | valid token | tampered: status (before / after load) | challenge "
        "| no token | every tampered token a 401 |",
        "|---|---|---|---:|---|---|",
    ]
    for name, _, _ in SERVERS:
        before, after = probes[f"{name} before"], probes[f"{name} after"]

        def codes(result: dict[str, Any]) -> str:
            return ", ".join(f"{code} ×{n}" for code, n in sorted(result["tampered"].items()))

        all_401 = all(set(p["tampered"]) == {"401"} for p in (before, after))
        valid = (
            "200, body ok"
            if before["valid_body_ok"] and after["valid_body_ok"]
            else (f"{before['valid_token']} / {after['valid_token']}")
        )
        challenge = before["tampered_with_challenge"] + after["tampered_with_challenge"]
        lines.append(
            f"| {name} | {valid} | {codes(before)} / {codes(after)} | {challenge}/{2 * PROBES} "
            f"| {before['no_token']} | {'yes' if all_401 else '**no**'} |"
        )
    lines += ["", "How each is configured, and where it is not equivalent:", ""]
    lines += [f"- **{name}**: {how}" for name, _, how in SERVERS]
    if micro:
        lines += ["", "In process (`bench/verify_peers.py`, same interpreter):", "", micro]
    return "\n".join(lines) + "\n"


def chart(
    rows: dict[str, dict[str, Any]],
    meta: dict[str, Any],
    path: Path,
    floors: Floors | None,
) -> None:
    plt = pyplot()
    names = [name for name, _, _ in SERVERS]
    colors = {KINDS[0]: "#1f77b4", KINDS[1]: "#ff7f0e", KINDS[2]: "#d62728"}
    fig, ax = plt.subplots(figsize=(9.5, 0.75 * len(names) + 1.6))
    height = 0.26
    for offset, kind in enumerate(KINDS):
        values = [rows[f"{name}, {kind}"]["vs_bare"] for name in names]
        positions = [i + (offset - 1) * height for i in range(len(names))]
        bars = ax.barh(positions, values, height=height, color=colors[kind], label=kind)
        for bar, name in zip(bars, names, strict=True):
            row = rows[f"{name}, {kind}"]
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {row['vs_bare']:.2f}× ({row['rps']:,.0f}/s)",
                va="center",
                fontsize=7,
            )
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="#888888", linewidth=0.8)
    for (label, floor), style in zip((floors or {}).items(), ("--", ":"), strict=False):
        ax.axvline(
            floor["vs_bare"],
            color="#ff7f0e",
            linestyle=style,
            linewidth=0.8,
            label=f"fresh-token floor: bare + one raw Ed25519 verify, {label}",
        )
    ax.set_xlim(0, 1.35)
    ax.set_xlabel("req/s ÷ bare endpoint (same load script), median of rounds")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(
        f"authbridge and its peers, 1 worker — {meta['generator']}, {meta['cpus']} CPUs, "
        f"{meta['date']}",
        fontsize=9,
    )
    save_figure(fig, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_run_options(parser, rounds=5, render="peers.md and peers.png from peers.json")
    parser.add_argument("--no-micro", action="store_true", help="skip bench/verify_peers.py")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((Path(args.out) / "peers.json").read_text())
        text = markdown(
            saved["meta"], saved["rows"], saved["probes"], saved["micro"], saved["floors"]
        )
        (Path(args.out) / "peers.md").write_text(text)
        chart(saved["rows"], saved["meta"], Path(args.out) / "peers.png", saved["floors"])
        return 0
    wrk = start_run(parser, args)

    python = peers_python()
    stack = versions(python)
    print("benchmark environment:", ", ".join(f"{k} {v}" for k, v in stack.items()), flush=True)
    issuer = FakeIssuer(None)
    jwks_url = issuer.start_server()
    assert issuer.server is not None
    tokens = Tokens(issuer)
    results: dict[str, list[Measurement]] = {}
    fetches: dict[str, int] = collections.defaultdict(int)
    probes: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="authbridge-peers-") as tmp:
            workdir = Path(tmp)
            scenarios = build(python, issuer, jwks_url)
            servers, load = plan_load(
                parser, args, scenarios, wrk, workdir, overhead=4, cap=MAX_TOTAL_SECONDS
            )
            results = {s.name: [] for s in scenarios}
            # Per scenario, the rate its tokens file must cover (refined by each round).
            rates: dict[str, float] = collections.defaultdict(lambda: 4000.0)
            with running(servers, workdir):
                good = issuer.token(sid="peer-bench-probe")
                for server in servers[1:]:
                    probes[f"{server.name} before"] = probe(server, good, tokens, issuer.user["id"])
                bare_file = tokens.write(workdir / "bare-tokens.txt", 2000, forged=False)
                for round_number in range(args.rounds):
                    for scenario in scenarios:
                        tokens_file = None
                        forged = scenario.name.endswith("tampered tokens")
                        count = int(rates[scenario.name] * 1.3 * (args.duration + 1)) + 500
                        if scenario.name.startswith("bare"):
                            tokens_file = bare_file if scenario.fresh_tokens else None
                        elif scenario.fresh_tokens:
                            path = workdir / "tokens.txt"
                            tokens_file = tokens.write(path, count, forged=forged)
                        jwks_before = issuer.server.requests
                        if round_number == 0:  # warm up: imports, connections, the JWKS
                            load.run(scenario, tokens_file, 1.0)
                            if tokens_file is not None and tokens_file != bare_file:
                                tokens.write(tokens_file, count, forged=forged)
                        measured = measure(load, scenario, tokens_file, args.duration)
                        fetches[scenario.name] += issuer.server.requests - jwks_before
                        if scenario.fresh_tokens and not scenario.name.startswith("bare"):
                            rates[scenario.name] = max(rates[scenario.name], measured.rps)
                        if scenario.name.startswith("bare"):
                            measured.wrapped = False  # the bare endpoint ignores the token
                        results[scenario.name].append(measured)
                        refused = measured.errors + measured.non_2xx
                        print(
                            f"round {round_number + 1}  {scenario.name:52} "
                            f"{measured.rps:9,.0f} req/s  p50 {measured.p50_ms:6.2f} ms"
                            f"  p99 {measured.p99_ms:6.2f} ms  CPU {measured.cpu_us:6.1f} µs/req"
                            f"  refused {refused}/{measured.requests}"
                            + ("  (tokens reused)" if measured.wrapped else ""),
                            flush=True,
                        )
                for server in servers[1:]:
                    probes[f"{server.name} after"] = probe(
                        server, tokens.valid(), tokens, issuer.user["id"]
                    )
    finally:
        issuer.stop_server()

    micro, floors = "", None
    if not args.no_micro:
        with tempfile.TemporaryDirectory(prefix="authbridge-peers-micro-") as tmp:
            micro, figures = run_micro(python, args.quick, Path(tmp))
    rows = summarize(results, fetches)
    if not args.no_micro:
        floors = {
            "OpenSSL": floor_row(rows, figures[FLOOR]["fresh"]),
            "libsodium": floor_row(rows, figures[LIBSODIUM_FLOOR]["fresh"]),
        }
    meta = {**run_meta(args, wrk), "versions": stack}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "rows": rows, "probes": probes, "micro": micro, "floors": floors}
    (out / "peers.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / "peers.md").write_text(markdown(meta, rows, probes, micro, floors))
    chart(rows, meta, out / "peers.png", floors)
    print()
    print(markdown(meta, rows, probes, micro, floors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
