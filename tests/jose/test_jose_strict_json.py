"""The strict JSON object parser (V6–V8)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authbridge.jose import strict_json
from authbridge.jose.strict_json import loads_object, loads_object_strict


def test_plain_objects_parse() -> None:
    assert loads_object(b'{"a":1,"b":[1,2,{"c":null}],"d":"\\u00e9\\ud83e\\udd8a"}') == {
        "a": 1,
        "b": [1, 2, {"c": None}],
        "d": "é🦊",
    }
    assert loads_object(b' \n{"a": 1} \t') == {"a": 1}
    assert loads_object('{"n":"Zoë"}'.encode()) == {"n": "Zoë"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'[{"a":1,"a":1}]',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b"\xef\xbb\xbf{}",
        '{"a":1}'.encode("utf-16"),
        b'{"a":"\xff"}',
        b'{"a":"\xed\xa0\x80"}',  # a surrogate encoded as UTF-8
        b'{"a":"\\ud800"}',
        b'{"\\udfff":1}',
        b'{"a":["\\ud800x"]}',
        b"[]",
        b'"{}"',
        b"null",
        b"1",
        b"{}{}",
        b'{"a":1} x',
        b"",
        b"{",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' + b"[" * 5000 + b'"\\u0041"' + b"]" * 5000 + b"}",
        b'{"a":1' + b"0" * 5000 + b"}",
    ],
)
def test_rejections_are_value_errors(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads_object(raw)


def test_deep_but_legal_nesting_with_escapes_does_not_crash() -> None:
    raw = b'{"a":' + b"[" * 500 + b'"\\u0041"' + b"]" * 500 + b"}"
    assert json.dumps(loads_object(raw)).count("[") == 500


# --- the msgspec fast path never decides differently from the standard library path ----------

_SURROGATES = st.sampled_from(["\ud800", "\udfff", "\ud83e", "x\udd8a"])
_STRINGS = st.one_of(st.text(max_size=12), _SURROGATES, st.sampled_from(['"', "\\", "\u2028"]))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    _STRINGS,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_STRINGS, inner, max_size=4)
    ),
    max_leaves=12,
)


def _typed(value: Any) -> Any:
    """A comparable form that keeps types apart: True is not 1, 1.0 is not 1."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


def _verdict(parse: Callable[[bytes], dict[str, Any]], raw: bytes) -> Any:
    try:
        return _typed(parse(raw))
    except ValueError:
        return "rejected"


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    members = draw(st.lists(st.tuples(_STRINGS, _VALUES), max_size=6))
    if members and draw(st.booleans()):
        members.append((members[0][0], draw(_VALUES)))  # a duplicate member name
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]))
    text = (
        "{"
        + separators[0].join(
            json.dumps(k, ensure_ascii=draw(st.booleans()))
            + separators[1]
            + json.dumps(v, ensure_ascii=draw(st.booleans()), separators=separators)
            for k, v in members
        )
        + "}"
    )
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=600, deadline=None)
@given(st.one_of(_documents(), st.binary(max_size=60)))
def test_fast_and_strict_paths_agree(raw: bytes) -> None:
    assert _verdict(loads_object, raw) == _verdict(loads_object_strict, raw)


def test_compact_json_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """What JSON.stringify writes (every Better Auth token) never reaches the slow parser."""

    def must_not_run(raw: bytes) -> dict[str, Any]:
        raise AssertionError("fell back to the standard library parser")

    monkeypatch.setattr(strict_json, "loads_object_strict", must_not_run)
    payload = {"sub": "u1", "name": 'Zoë "Z" \\ \n', "n": [1, 2.5, None, True], "o": {}}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert loads_object(raw) == payload


@pytest.mark.parametrize(
    "raw",
    [b'{"a":1,"a":1}', b'{"a":NaN}', b'{"a": 1}', b'{"a":"\\u0041"}', b'{"a":-0}'],
)
def test_anything_the_fast_path_cannot_prove_goes_to_the_strict_parser(
    monkeypatch: pytest.MonkeyPatch, raw: bytes
) -> None:
    calls: list[bytes] = []
    real = strict_json.loads_object_strict

    def spy(data: bytes) -> dict[str, Any]:
        calls.append(data)
        return real(data)

    monkeypatch.setattr(strict_json, "loads_object_strict", spy)
    with contextlib.suppress(ValueError):
        loads_object(raw)
    assert calls == [raw]
