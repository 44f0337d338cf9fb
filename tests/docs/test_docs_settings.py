"""docs/settings.md is generated from the settings classes and lists every variable the code
reads (issue #20).

The page is scripts/settings_reference.py's output; a changed setting without a regenerated
page fails here. So does a variable read anywhere in the library or the Tasks API (an
``os.environ`` lookup, a command-line option's ``envvar=``, a pydantic alias, an
``AUTHBRIDGE_*`` name) that the page does not list.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "settings.md"
SOURCES = (ROOT / "src", ROOT / "apps" / "tasks-api" / "src")
# Ways the code reads a variable: os.environ.get("X"), os.environ["X"], getenv("X"),
# os.environ.setdefault("X", ...), envvar="X", the Tasks API's _env("X", ...), setting("X", ...).
READS = re.compile(
    r"""(?:environ\.get\(|environ\[|getenv\(|environ\.setdefault\(|envvar=|\b_env\(|"""
    r"""\bsetting\(\s*)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Any AUTHBRIDGE_* name in the code is a variable (error messages name them too).
NAMED = re.compile(r"""["'`\s(](AUTHBRIDGE_[A-Z0-9_]+)\b""")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_reference", ROOT / "scripts" / "settings_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _variables_the_code_reads() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for top in SOURCES:
        for path in top.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in (READS, NAMED):
                for match in pattern.finditer(text):
                    where = path.relative_to(ROOT).as_posix()
                    found.setdefault(match.group(1), set()).add(where)
    return found


def test_the_page_is_the_generators_output() -> None:
    expected = _generator().render()
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/settings.md is out of date: run `uv run python scripts/settings_reference.py`"
    )


def test_every_variable_the_code_reads_is_on_the_page() -> None:
    page = PAGE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", page, re.M))
    listed |= set(re.findall(r" / `([A-Z][A-Z0-9_]+)`", page))
    read = _variables_the_code_reads()
    # The scan finds what the settings classes and the commands read.
    for variable in ("BETTER_AUTH_URL", "AUTHBRIDGE_SESSION_MODE", "DATABASE_URL", "PORT"):
        assert variable in read
    missing = {name: sorted(files) for name, files in read.items() if name not in listed}
    assert not missing, f"read by the code but not in docs/settings.md: {missing}"


def test_the_settings_class_points_at_the_page() -> None:
    from authbridge.config import Settings

    assert "docs/settings.md" in (Settings.__doc__ or "")
