"""The machinery under ``Settings``: declared fields, a secret type, value parsing, ``.env``.

Hand-written instead of pydantic-settings, which cost about 0.1 s of every import. A field is
declared once with :func:`setting` (variables, default, bounds, a one-line doc); its type comes
from the annotation. :func:`field_specs` turns a settings class into :class:`FieldSpec` rows,
which the loader reads and from which a settings reference can be generated.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeVar, cast

__all__ = [
    "FieldSpec",
    "Secret",
    "ValueProblem",
    "collect",
    "convert",
    "field_specs",
    "read_dotenv",
    "setting",
]

T = TypeVar("T")


class Secret:
    """A secret string: ``get_secret_value()`` reads it; ``repr`` and ``str`` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


class ValueProblem(ValueError):
    """A value that does not fit its field; the message never contains the value."""


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One setting: its attribute, the variables it is read from (first is canonical), and rules."""

    name: str
    variables: tuple[str, ...]
    kind: type  # str, int, float, bool, Secret, or str for a Literal (see ``choices``)
    optional: bool  # None is a valid value
    default: object
    doc: str
    choices: tuple[str, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    min_length: int | None = None
    check: Callable[[str], str | None] | None = None

    @property
    def variable(self) -> str:
        return self.variables[0]


_META: Final = "authbridge.setting"


def setting(
    variables: str | tuple[str, ...],
    default: T,
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    check: Callable[[str], str | None] | None = None,
) -> T:
    """Declare a field of a settings dataclass (typed as its default so the annotation holds).

    ``variables`` is one name or alternatives in order of preference. ``check`` returns a
    problem sentence for a string value, or None when it is fine.
    """
    names = (variables,) if isinstance(variables, str) else variables
    rules: dict[str, object] = {"variables": names, "doc": doc, "ge": ge, "gt": gt, "le": le}
    rules |= {"min_length": min_length, "check": check}
    declared: T = dataclasses.field(default=default, metadata={_META: rules})
    return declared


_SPECS: dict[type, tuple[FieldSpec, ...]] = {}


def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The declared settings of a dataclass, in declaration order (resolved once per class)."""
    cached = _SPECS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    specs: list[FieldSpec] = []
    for item in dataclasses.fields(cls):
        rules = item.metadata.get(_META)
        if rules is None:
            continue
        kind, optional, choices = _kind_of(hints[item.name])
        specs.append(
            FieldSpec(
                name=item.name,
                kind=kind,
                optional=optional,
                choices=choices,
                default=item.default,
                **rules,
            )
        )
    _SPECS[cls] = result = tuple(specs)
    return result


def _kind_of(annotation: Any) -> tuple[type, bool, tuple[str, ...]]:
    args = typing.get_args(annotation)
    optional = type(None) in args
    if optional:
        (annotation,) = [a for a in args if a is not type(None)]
    if typing.get_origin(annotation) is Literal:
        return str, optional, tuple(str(a) for a in typing.get_args(annotation))
    if annotation not in (str, int, float, bool, Secret):
        raise TypeError(f"unsupported setting type {annotation!r}")
    return cast(type, annotation), optional, ()


def collect(specs: tuple[FieldSpec, ...], *sources: Mapping[str, Any]) -> dict[str, Any]:
    """Raw values by field name: for each field, the first source that has one of its
    variables (in the field's order of preference) wins; fields found nowhere are left out."""
    values: dict[str, Any] = {}
    for spec in specs:
        for source in sources:
            found = next((source[v] for v in spec.variables if v in source), _MISSING)
            if found is not _MISSING:
                values[spec.name] = found
                break
    return values


_MISSING: Any = object()


# --- parsing -------------------------------------------------------------------------------

# The words pydantic accepted for a boolean, so existing .env files keep working.
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INTEGER = re.compile(r"[+-]?\d+")


def convert(spec: FieldSpec, value: object) -> object:
    """``value`` (a string from the environment, or a typed value) as the field's type.

    Raises :class:`ValueProblem` with a sentence that never echoes the value.
    """
    if value is None:
        if spec.optional:
            return None
        raise ValueProblem("must be set.")
    if spec.kind is Secret:
        return _to_secret(value)
    if spec.kind is bool:
        return _to_bool(value)
    if spec.kind is int or spec.kind is float:
        return _to_number(spec, value)
    if not isinstance(value, str):
        raise ValueProblem("must be text.")
    if spec.choices and value not in spec.choices:
        raise ValueProblem(f"must be one of {', '.join(spec.choices)}.")
    if spec.min_length is not None and len(value) < spec.min_length:
        raise ValueProblem("must not be empty." if spec.min_length == 1 else "is too short.")
    if spec.check is not None and (problem := spec.check(value)) is not None:
        raise ValueProblem(problem)
    return value


def _to_secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueProblem("must be text.")
    return Secret(value)


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueProblem("must be true or false (on/off, yes/no and 1/0 also work).")


def _to_number(spec: FieldSpec, value: object) -> int | float:
    noun = "a whole number" if spec.kind is int else "a number"
    number: int | float
    if isinstance(value, bool):
        raise ValueProblem(f"must be {noun}.")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:
            raise ValueProblem(f"must be {noun}.") from None
    elif isinstance(value, int | float):
        number = value
    else:
        raise ValueProblem(f"must be {noun}.")
    if not math.isfinite(number):
        raise ValueProblem(f"must be {noun}.")
    if spec.kind is int:
        if number != int(number):
            raise ValueProblem(f"must be {noun}.")
        number = int(number)
    else:
        number = float(number)
    if (
        (spec.ge is not None and number < spec.ge)
        or (spec.gt is not None and number <= spec.gt)
        or (spec.le is not None and number > spec.le)
    ):
        raise ValueProblem(f"must be {noun} {_range(spec)}.")
    return number


def _range(spec: FieldSpec) -> str:
    parts = []
    if spec.ge is not None:
        parts.append(f"at least {spec.ge:g}")
    if spec.gt is not None:
        parts.append(f"greater than {spec.gt:g}")
    if spec.le is not None:
        parts.append(f"at most {spec.le:g}")
    return " and ".join(parts)


# --- .env ----------------------------------------------------------------------------------

_LINE = re.compile(r"\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(?P<value>.*))?")
_REFERENCE = re.compile(r"\$\{(?P<name>[^}:]+)(?::-(?P<default>[^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_dotenv(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``KEY=value`` lines of a dotenv file; a missing or unreadable file is empty.

    Follows python-dotenv, which pydantic-settings used: ``export`` prefixes, ``#`` comments,
    single quotes taken literally, double quotes with backslash escapes, and ``${NAME}`` or
    ``${NAME:-default}`` expanded in unquoted and double-quoted values (from earlier lines,
    then ``environ``). A key without ``=`` is skipped.
    """
    # open(), not pathlib: pathlib costs the import of every settings load a few ms.
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return {}
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None or match.group("value") is None:
            continue
        raw = match.group("value")
        # A quoted value may span lines: join until the closing quote.
        while raw[:1] in "\"'" and raw and not _closed(raw) and index < len(lines):
            raw += "\n" + lines[index]
            index += 1
        value, expand = _unquote(raw)
        if expand:
            value = _expand(value, values, environ)
        values[match.group("key")] = value
    return values


def _closed(raw: str) -> bool:
    quote = raw[0]
    position = 1
    while position < len(raw):
        char = raw[position]
        if char == "\\" and quote == '"':
            position += 2
            continue
        if char == quote:
            return True
        position += 1
    return False


def _unquote(raw: str) -> tuple[str, bool]:
    """The value and whether ``${...}`` references in it are expanded."""
    if raw[:1] == "'" and _closed(raw):
        return raw[1 : raw.index("'", 1)], False
    if raw[:1] == '"' and _closed(raw):
        out: list[str] = []
        position = 1
        while raw[position] != '"':
            char = raw[position]
            if char == "\\" and position + 1 < len(raw):
                nxt = raw[position + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                position += 2
                continue
            out.append(char)
            position += 1
        return "".join(out), True
    value = re.split(r"\s+#", raw, maxsplit=1)[0]
    return value.strip(), True


def _expand(value: str, earlier: Mapping[str, str], environ: Mapping[str, str] | None) -> str:
    if "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        found = earlier.get(name)
        if found is None and environ is not None:
            found = environ.get(name)
        return found if found is not None else (match.group("default") or "")

    return _REFERENCE.sub(replace, value)
