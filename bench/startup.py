"""Start-up cost: wall time of fresh interpreters importing authbridge and running the CLI.

Each case runs N times (default 15), every run a new process, the cases interleaved so that
a burst of load on a shared machine hits all of them alike. Bytecode is compiled by one
discarded warm-up run per case (into a private cache, so the tree stays clean), as it is
after the first run of an installed package; ``-X importtime`` is not used for timing (see
tests/test_import_cost.py for what each path may import, and ``python -X importtime`` to
find where time goes). CPU time (user + sys) is reported too: on a loaded machine it moves
much less than wall time.

    uv run python bench/startup.py [--runs 15] [--quick] [--out bench/results]
        [--before-src DIR]   # also time another checkout's src/ (e.g. main), same venv
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from authbridge.jose.sign import sign_compact

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("authbridge"))


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    target_ms: float | None  # None: measured for context, no target


def sample_token() -> str:
    """An EdDSA token shaped like Better Auth's (decode does not verify it)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": "u1", "iss": "https://auth.example.com"}
    claims["aud"] = claims["iss"]
    claims |= {"iat": now, "exp": now + 900, "email": "alice@example.com", "name": "Alice"}
    key = ed25519.Ed25519PrivateKey.generate()
    return sign_compact(claims, key, "EdDSA", kid="bench-1")


def cases(token: str) -> list[Case]:
    python = sys.executable
    return [
        Case("python -c pass (interpreter floor)", [python, "-c", "pass"], None),
        Case("import authbridge", [python, "-c", "import authbridge"], 60),
        Case(
            "from authbridge import Verifier, Principal",
            [python, "-c", "from authbridge import Verifier, Principal"],
            None,
        ),
        Case("authbridge decode <token>", [CLI, "decode", token], 200),
        Case("authbridge decode --json <token>", [CLI, "decode", "--json", token], 200),
        Case("authbridge --help", [CLI, "--help"], 250),
    ]


def child_environment(pycache: str, src: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:  # ahead of the editable install's path entry
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode, as users run it
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["COLUMNS"] = "100"
    env.pop("FORCE_COLOR", None)
    return env


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        command, env=env, cwd=tempfile.gettempdir(), capture_output=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command[:2]} failed ({result.returncode}): {result.stderr[-400:]!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def measure(all_cases: list[Case], runs: int, before_src: Path | None) -> list[dict[str, object]]:
    variants = {"now": None, "before": before_src} if before_src else {"now": None}
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="authbridge-bench-pyc-") as pycache:
        envs = {name: child_environment(pycache, src) for name, src in variants.items()}
        for env in envs.values():
            for case in all_cases:
                run_once(case.command, env)  # warm-up: compiles bytecode into the private cache
        for _ in range(runs):
            for case in all_cases:
                for name, env in envs.items():
                    wall, cpu = run_once(case.command, env)
                    walls.setdefault((name, case.name), []).append(wall * 1000)
                    cpus.setdefault((name, case.name), []).append(cpu * 1000)
    rows: list[dict[str, object]] = []
    for case in all_cases:
        wall_ms = walls["now", case.name]
        median = statistics.median(wall_ms)
        row: dict[str, object] = {
            "case": case.name,
            "runs": runs,
            "median_ms": round(median, 1),
            "min_ms": round(min(wall_ms), 1),
            "p90_ms": round(p90(wall_ms), 1),
            "cpu_median_ms": round(statistics.median(cpus["now", case.name]), 1),
            "target_ms": case.target_ms,
            "pass": None if case.target_ms is None else median <= case.target_ms,
        }
        if before_src:
            row["before_median_ms"] = round(statistics.median(walls["before", case.name]), 1)
            row["before_cpu_median_ms"] = round(statistics.median(cpus["before", case.name]), 1)
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, object]], meta: dict[str, object]) -> str:
    lines = [
        "# Start-up cost",
        "",
        f"Measured {meta['when']} on {meta['machine']}, Python {meta['python']}, "
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before and "
        f"{meta['load_after']} after. {meta['runs']} fresh processes per case, interleaved, "
        "bytecode compiled; wall times in ms. Regenerate with `make bench` "
        "(or `uv run python bench/startup.py`).",
        "",
        "| case | median | min | p90 | CPU median | target | result |"
        + (" before: median | before: CPU |" if meta.get("before") else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|" if meta.get("before") else ""),
    ]
    for row in rows:
        target = "—" if row["target_ms"] is None else f"≤ {row['target_ms']:g}"
        result = {None: "—", True: "pass", False: "FAIL"}[row["pass"]]  # type: ignore[index]
        line = (
            f"| `{row['case']}` | {row['median_ms']} | {row['min_ms']} | {row['p90_ms']} "
            f"| {row['cpu_median_ms']} | {target} | {result} |"
        )
        if meta.get("before"):
            line += f" {row['before_median_ms']} | {row['before_cpu_median_ms']} |"
        lines.append(line)
    if meta.get("before"):
        lines += [
            "",
            f"The before columns run {meta['before']} in the same venv and the same rounds.",
        ]
    lines += [
        "",
        "The result compares the median wall time with the target (issue #17). On a shared "
        "machine the wall time includes waiting for a CPU; the CPU column is the work itself.",
        "`import authbridge` loads the error classes; every other public name loads on first "
        "use. `from authbridge import Verifier, Principal` is what a service pays for a "
        "verifier: most of it is msgspec (with typing_extensions), cryptography and the "
        "standard library's typing and logging (`python -X importtime`).",
        "`tests/test_import_cost.py` guards, without timing, that these paths do not import "
        "pydantic, httpx, FastAPI, SQLAlchemy, Redis, Typer or Rich where they need not.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per case (≥ 10)")
    parser.add_argument("--quick", action="store_true", help="3 runs, print only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--before-src", type=Path, help="another checkout's src/ to time alongside, e.g. main"
    )
    parser.add_argument(
        "--before-label", default=None, help="how the report names --before-src (a commit)"
    )
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    if not args.quick and runs < 10:
        parser.error("--runs must be at least 10 for a committed result")
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = measure(cases(sample_token()), runs, args.before_src)
    meta: dict[str, object] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "runs": runs,
        "before": (args.before_label or str(args.before_src)) if args.before_src else None,
    }
    report = markdown(rows, meta)
    print(report)
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.md").write_text(report, encoding="utf-8")
    document = {"meta": meta, "results": rows}
    (args.out / "startup.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
