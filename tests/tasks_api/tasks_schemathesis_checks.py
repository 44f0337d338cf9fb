"""A Schemathesis check of the Tasks API's own, registered on import.

tests/tasks_api/schemathesis.toml lets a schema-valid request be refused where the OpenAPI
document cannot express the rule: 422 on ``GET /api/tasks`` and ``GET /api/org/tasks`` (a
forged cursor), 412 on ``PATCH``/``DELETE`` of a task, personal or team (an ``If-Match``
naming another version) and, in the coverage phase only, 400 on those (Schemathesis sends an
``If-Match`` that breaks the pattern in a case it labels valid). This check narrows each
allowance back to that one reason, so no other 422, 412 or 400 hides behind it.

The in-process run imports this module; the CLI run loads it with ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from tasks_api.etag import IF_MATCH_PATTERN

__all__ = ["refused_only_for_reasons_no_schema_expresses"]

_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_LISTS = frozenset({"GET /api/tasks", "GET /api/org/tasks"})
_TASK_PATHS = frozenset({"/api/tasks/{task_id}", "/api/org/tasks/{task_id}"})


def _code(response: Any) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _if_match(case: Any) -> str | None:
    for name, value in (case.headers or {}).items():
        if name.lower() == "if-match":
            return str(value)
    return None


@schemathesis.check
def refused_only_for_reasons_no_schema_expresses(ctx: Any, response: Any, case: Any) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status, code, if_match = response.status_code, _code(response), _if_match(case)
    label = f"{case.method.upper()} {case.path}"
    if status == 422 and label in _LISTS:
        assert (case.query or {}).get("cursor") is not None, "a valid list request got 422"
        assert code == "invalid_cursor", f"a valid list request got 422 {code}"
    if status == 412:
        assert case.path in _TASK_PATHS, f"412 on {label}"
        assert if_match is not None, f"412 on {label} without If-Match"
        assert code == "precondition_failed", f"412 with code {code}"
    if status == 400 and case.path in _TASK_PATHS:
        assert code == "invalid_if_match", f"a valid request to {label} got 400 {code}"
        assert if_match is not None, f"a valid request to {label} got 400"
        assert _IF_MATCH.match(if_match) is None, f"If-Match {if_match!r} is valid, yet got 400"
