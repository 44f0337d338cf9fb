"""Minimum safe versions of the cryptography and JOSE libraries, and of the HTTP stack.

The runtime verifies with ``cryptography`` directly; PyJWT and joserfc are test peers (the
differential tests), pinned so a vulnerable peer cannot hide a difference. Each minimum names
the advisory it closes. Raise a minimum when a new advisory appears; never lower one.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

MINIMUMS: dict[str, tuple[tuple[int, ...], str]] = {
    # CVE-2026-26007 (46.0.5): EC public keys loaded without a prime-order-subgroup check.
    # GHSA-537c-gmf6-5ccf (48.0.1): vulnerable OpenSSL statically linked in the wheels.
    # CVE-2026-69249 / CVE-2026-69248 (49.0.0): X.509 path-building DoS, name-constraint escape.
    # CVE-2026-69247 (50.0.0): PKCS#7 EnvelopedData decryption Bleichenbacher oracle.
    # authbridge calls none of the X.509/PKCS#7 code, but the wheel's OpenSSL is shared.
    "cryptography": ((50, 0, 0), "CVE-2026-69247 and earlier"),
    # CVE-2026-32597 (2.12.0): unknown crit extensions accepted.
    # CVE-2026-48522..48526 (2.13.0): alg confusion, b64=false, JWKS eviction, and more.
    # 2.15.1 is the version the verifier checklist was read against (project pin).
    "pyjwt": ((2, 15, 1), "CVE-2026-48526 and earlier"),
    # CVE-2026-48990 (1.7.1): b64=false honoured for JWTs; GHSA-gg9x-qcx2-xmrh (1.7.4).
    # 1.8.0 is the project pin.
    "joserfc": ((1, 8, 0), "CVE-2026-48990, GHSA-gg9x-qcx2-xmrh"),
    # CVE-2025-43859 (0.16.0): lenient chunked-encoding parsing, request smuggling.
    "h11": ((0, 16, 0), "CVE-2025-43859"),
    # CVE-2024-47874 (0.40.0) and CVE-2025-54121 (0.47.2): multipart parsing DoS.
    "starlette": ((0, 47, 2), "CVE-2025-54121"),
}


def _parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@pytest.mark.parametrize("package", sorted(MINIMUMS))
def test_installed_version_is_at_least_the_safe_minimum(package: str) -> None:
    minimum, advisory = MINIMUMS[package]
    installed = _parse(version(package))
    assert installed >= minimum, f"{package} {installed} is below {minimum} ({advisory})"


def _group(groups: dict[str, list[Any]], name: str) -> list[str]:
    """A dependency group's requirements, its ``{include-group = ...}`` entries expanded
    (PEP 735): the dev group includes the docs group."""
    requirements: list[str] = []
    for entry in groups[name]:
        if isinstance(entry, dict):
            requirements.extend(_group(groups, entry["include-group"]))
        else:
            requirements.append(entry)
    return requirements


def test_declared_floors_exclude_the_advisories_that_touch_verification() -> None:
    """A fresh install from pyproject.toml never resolves a version with a verification bug."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [*project["project"]["dependencies"], *_group(project["dependency-groups"], "dev")]
    floors = {}
    for requirement in declared:
        match = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+)", requirement)
        if match:
            floors[match.group(1).lower()] = _parse(match.group(2))
    assert floors["cryptography"] >= (46, 0, 5)  # CVE-2026-26007
    assert floors["pyjwt"] >= (2, 13, 0)  # CVE-2026-48526
    assert floors["joserfc"] >= (1, 7, 1)  # CVE-2026-48990


def test_the_runtime_uses_no_jose_library() -> None:
    """Only ``cryptography`` verifies: no JOSE package is a runtime dependency or import."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = " ".join(project["project"]["dependencies"]).lower()
    for name in ("pyjwt", "joserfc", "python-jose", "authlib", "jwcrypto"):
        assert name not in runtime
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for top in (ROOT / "src", ROOT / "apps")
        for p in top.rglob("*.py")
    )
    assert not re.search(
        r"^\s*(import|from)\s+(jwt|joserfc|jose|authlib|jwcrypto)\b", sources, re.M
    )
