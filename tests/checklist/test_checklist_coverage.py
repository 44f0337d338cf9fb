"""Every library checklist item V3–V46 has at least one test named ``test_vNN_...`` here.

V28–V31 (JWKS fetching, caching, stale-while-error, rotation) are the remote key source's and
are tested in tests/keys/test_remote*.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REMOTE_ITEMS = {28, 29, 30, 31}


def test_every_checklist_item_has_a_named_test() -> None:
    found: set[int] = set()
    for module in Path(__file__).parent.glob("test_checklist_*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                match = re.match(r"test_v(\d\d)_", node.name)
                if match:
                    found.add(int(match.group(1)))
    expected = set(range(3, 47)) - REMOTE_ITEMS
    assert expected - found == set()
    remote = Path(__file__).parent.parent / "keys"
    assert any(remote.glob("test_remote*.py"))
