"""docs/security/checklist.md defines every V-number the code and tests cite (issue #20).

Code, tests and docs cite the verifier checklist by number ("V33"); the page states each item
and where it is honoured. A new citation without a definition, or a test the page names that no
longer exists, fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "security" / "checklist.md"
# "V33", also inside "V48/V51/V53"; not "UV" or "ENV2".
CITATION = re.compile(r"(?<![A-Za-z0-9_])V(\d{1,3})\b")
SOURCES = ("src", "apps/tasks-api/src", "tests", "bench", "scripts")


def _defined() -> dict[int, str]:
    text = PAGE.read_text(encoding="utf-8")
    return {int(n): title for n, title in re.findall(r"^### V(\d+): (.+?) \{#v\d+\}$", text, re.M)}


def _citations() -> dict[int, set[str]]:
    cited: dict[int, set[str]] = {}
    files = [f for top in SOURCES for f in (ROOT / top).rglob("*.py")]
    files += [ROOT / "SECURITY.md", *(ROOT / "docs").rglob("*.md")]
    for path in files:
        if "node_modules" in path.parts:
            continue
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            cited.setdefault(int(match.group(1)), set()).add(path.relative_to(ROOT).as_posix())
    return cited


def test_the_page_defines_v1_to_v56_once_each_in_order() -> None:
    text = PAGE.read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^### V(\d+):", text, re.M)]
    assert numbers == list(range(1, 57))
    assert all(title.strip() for title in _defined().values())


def test_every_cited_v_number_is_defined() -> None:
    defined = _defined()
    cited = _citations()
    assert cited, "no citation found: the pattern or the source folders are wrong"
    assert 33 in cited  # the signature-first rule is cited in the verifier
    undefined = {f"V{n}": sorted(files) for n, files in cited.items() if n not in defined}
    assert not undefined, f"cited but not defined in docs/security/checklist.md: {undefined}"


def test_every_test_the_page_names_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(named) > 56
    functions: dict[str, set[str]] = {}
    for file, name in named:
        if file not in functions:
            tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
            functions[file] = {
                n.name
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        assert name in functions[file], f"{file}::{name} is named on the page but does not exist"


def test_every_module_the_page_names_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    modules = set(re.findall(r"`((?:authbridge|tasks_api)/[\w/]+\.py)`", text))
    assert modules
    for module in modules:
        base = "src" if module.startswith("authbridge/") else "apps/tasks-api/src"
        assert (ROOT / base / module).is_file(), f"{module} is named on the page but does not exist"
