"""Untrusted input never crashes ``decode`` or the doctor (in-process, property-based).

The subprocess tests cover behaviour; these throw thousands of odd strings at the same code
paths (recognition, cleaning, time formatting, every doctor step) to show none of them raises.
"""

from __future__ import annotations

import asyncio
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authbridge.cli.decode_cmd import time_lines
from authbridge.cli.doctor import diagnose
from authbridge.cli.recognize import recognize
from authbridge.cli.token_input import clean_token
from authbridge.config import load_settings
from authbridge.jose.b64 import b64url_encode
from authbridge.verifier import Verifier

SECRET = "robustness-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ORIGIN = "https://service.example"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(
        [
            "alg",
            "kid",
            "typ",
            "enc",
            "exp",
            "iat",
            "nbf",
            "iss",
            "aud",
            "sub",
            "session",
            "user",
            "x",
        ]
    ),
    json_values,
    max_size=8,
)


def _segment(value: object) -> str:
    return b64url_encode(json.dumps(value).encode())


tokens = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda h, c, s: f"{_segment(h)}.{_segment(c)}.{s}",
        json_objects,
        json_objects,
        st.text(alphabet="abcXYZ019-_", max_size=90),
    ),
    st.builds(
        lambda h, rest: ".".join([_segment(h), *rest]),
        json_objects,
        st.lists(st.text(alphabet="abcXYZ019-_%=+/", max_size=50), min_size=1, max_size=6),
    ),
    st.builds(lambda t: f"Authorization: Bearer {t}", st.text(max_size=80)),
)


@settings(max_examples=400, deadline=None)
@given(tokens)
def test_recognise_and_clean_never_raise(raw: str) -> None:
    cleaned = clean_token(raw)
    found = recognize(cleaned.value)
    assert found.kind
    time_lines(found, time.time())


def _verifier() -> Verifier:
    settings = load_settings(
        AUTHBRIDGE_JWT_SECRET=SECRET,
        AUTHBRIDGE_JWT_ISSUER=ORIGIN,
        AUTHBRIDGE_JWT_AUDIENCE=ORIGIN,
        AUTHBRIDGE_JWKS=json.dumps({"keys": []}),
        AUTHBRIDGE_ISSUER=ORIGIN,
        AUTHBRIDGE_AUDIENCE=ORIGIN,
    )
    return Verifier.from_settings(settings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_the_doctor_never_raises(raw: str) -> None:
    verifier = _verifier()
    settings_ = load_settings(
        AUTHBRIDGE_JWT_SECRET=SECRET,
        AUTHBRIDGE_JWT_ISSUER=ORIGIN,
        AUTHBRIDGE_JWT_AUDIENCE=ORIGIN,
    )
    diagnosis = asyncio.run(diagnose(clean_token(raw), verifier, settings_))
    assert diagnosis.valid is False
    assert diagnosis.error_code
    assert diagnosis.checks or not raw.strip()
    json.dumps(diagnosis.as_dict(), default=str)
