"""The strict JSON object parser (V6–V8)."""

from __future__ import annotations

import json

import pytest

from authbridge.jose.strict_json import loads_object


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
