"""An app's own user type, built from a verified credential: typed users.

``UserModel(MyUser)`` takes a ``msgspec.Struct`` or a pydantic ``BaseModel`` and checks it
once, when the app starts: a model no credential could ever fill (not a Struct or a model, a
field type that is no JSON value, an unresolved annotation, an ``array_like`` Struct) is a
``TypeError`` naming the model and the fix. ``build(principal)`` then makes one per request
from what the credential carries about the user:

* a JWT's claims (Better Auth's default payload is the user object, ``additionalFields``
  included), or the session's user row (every column, in ``database`` mode) or ``get-session``
  user (``remote`` mode): ``Principal.claims``;
* plus, where those lack them, ``id`` (the user id, ``Principal.sub``) and the session's
  ``activeOrganizationId`` and ``organizationRole``, so one model fits every mode. ``sub`` is
  always ``Principal.sub``, the verified identity: a user column of that name never
  replaces it.

Better Auth names fields in camelCase (``favoriteColor``); a field ``favorite_color`` reads the
key the model expects (its msgspec ``rename``/pydantic alias), else ``favoriteColor``, else
``favorite_color``. Conversion is lax, as the values come from JSON or a database: SQLite's
0/1 are booleans, ISO-8601 text is a datetime. A credential whose values do not fit is
:class:`InvalidClaims` (401) naming the field, never a ``None`` and never a 500.

pydantic is never imported here: a pydantic model is recognized by its class's module being
loaded already (an app that defines one has imported pydantic).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from authbridge.errors import InvalidClaims
from authbridge.principal import Principal

__all__ = ["UserModel"]

T = TypeVar("T")

# Values the Principal supplies when the credential's user object lacks them.
_FALLBACKS: tuple[tuple[str, Callable[[Principal], object]], ...] = (
    ("id", lambda p: p.sub),
    ("activeOrganizationId", lambda p: p.organization_id),
    ("organizationRole", lambda p: p.organization_role),
)


def camel(name: str) -> str:
    """``favorite_color`` -> ``favoriteColor`` (Better Auth's field names)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest if part)


class UserModel(Generic[T]):
    """``model`` checked once; ``build`` makes one from a Principal or raises InvalidClaims."""

    __slots__ = ("_convert", "_keys", "model", "name")

    def __init__(self, model: type[T]) -> None:
        self.model = model
        self.name = getattr(model, "__qualname__", repr(model))
        if isinstance(model, type) and issubclass(model, msgspec.Struct):
            self._keys = _struct_keys(model, self.name)
            self._convert: Callable[[dict[str, Any]], T] = self._from_struct
        elif _is_pydantic_model(model):
            self._keys = _pydantic_keys(model, self.name)
            self._convert = self._from_pydantic
        else:
            raise TypeError(
                f"{self.name} cannot be a typed user: it is neither a msgspec.Struct nor a "
                "pydantic BaseModel subclass. Define the user as one of those."
            )

    def build(self, principal: Principal) -> T:
        """The model from ``principal``'s user data; ``InvalidClaims`` when it does not fit."""
        return self._convert(self.values(principal))

    def values(self, principal: Principal) -> dict[str, Any]:
        """The input the model gets: for each field, its key -> the credential's value."""
        claims = principal.claims
        fallbacks: dict[str, object] | None = None
        data: dict[str, Any] = {}
        for key, sources in self._keys:
            if "sub" in sources:
                data[key] = principal.sub
                continue
            for source in sources:
                if source in claims:
                    data[key] = claims[source]
                    break
            else:
                if fallbacks is None:
                    fallbacks = {name: value(principal) for name, value in _FALLBACKS}
                for source in sources:
                    value = fallbacks.get(source)
                    if value is not None:
                        data[key] = value
                        break
        return data

    def _from_struct(self, data: dict[str, Any]) -> T:
        try:
            return msgspec.convert(data, self.model, strict=False)
        except msgspec.ValidationError as error:
            # msgspec's message names the field and the types, never the value.
            raise InvalidClaims(f"The credential does not fit {self.name}: {error}") from None

    def _from_pydantic(self, data: dict[str, Any]) -> T:
        validate: Callable[[Any], T] = self.model.model_validate  # type: ignore[attr-defined]
        try:
            return validate(data)
        except ValueError as error:  # pydantic's ValidationError
            raise InvalidClaims(
                f"The credential does not fit {self.name}: {_pydantic_reason(error)}"
            ) from None

    def __repr__(self) -> str:
        return f"UserModel({self.name})"


def _sources(key: str, name: str) -> tuple[str, ...]:
    """Where a field's value may be, first found wins: its own key, camelCase, snake_case."""
    return tuple(dict.fromkeys((key, camel(name), name)))


def _struct_keys(model: type[msgspec.Struct], name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    try:
        info = msgspec.inspect.type_info(model)
    except (NameError, TypeError) as error:
        raise TypeError(
            f"{name} cannot be a typed user: its annotations do not resolve ({error}). "
            "Define every type it names before the model is used."
        ) from None
    assert isinstance(info, msgspec.inspect.StructType)
    if info.array_like:
        raise TypeError(
            f"{name} cannot be a typed user: it is array_like, and a user is an object. "
            "Drop array_like=True."
        )
    _check_types(info, name, set())
    return tuple((f.encode_name, _sources(f.encode_name, f.name)) for f in info.fields)


def _check_types(node: object, name: str, seen: set[int]) -> None:
    """Refuse types msgspec can only check with ``isinstance``: no claim is ever one."""
    if isinstance(node, msgspec.inspect.CustomType):
        raise TypeError(
            f"{name} cannot be a typed user: {node.cls.__qualname__} is not a type a claim or "
            "a user column can hold. Use str, int, float, bool, datetime, lists, dicts, "
            "Literal, enums or nested Structs."
        )
    if isinstance(node, msgspec.inspect.Field):
        _check_types(node.type, name, seen)
        return
    if isinstance(node, tuple):
        for item in node:
            _check_types(item, name, seen)
        return
    if not isinstance(node, msgspec.inspect.Type) or id(node) in seen:
        return
    seen.add(id(node))
    for attribute in node.__struct_fields__:
        _check_types(getattr(node, attribute), name, seen)


def _is_pydantic_model(model: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None and isinstance(model, type) and issubclass(model, pydantic.BaseModel)
    )


def _pydantic_keys(model: Any, name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not model.__pydantic_complete__:
        try:
            model.model_rebuild()
        # PydanticUndefinedAnnotation is a NameError, PydanticSchemaGenerationError a TypeError.
        except (NameError, TypeError) as error:
            raise TypeError(
                f"{name} cannot be a typed user: its annotations do not resolve ({error}). "
                "Define every type it names before the model is used."
            ) from None
    keys: list[tuple[str, tuple[str, ...]]] = []
    for field_name, info in model.model_fields.items():
        alias = info.validation_alias if info.validation_alias is not None else info.alias
        if alias is not None and not isinstance(alias, str):
            raise TypeError(
                f"{name} cannot be a typed user: the field {field_name} has an AliasPath or "
                "AliasChoices validation alias. Give it a plain string alias (or none: the "
                "camelCase name is found by itself)."
            )
        key = alias or field_name
        keys.append((key, _sources(key, field_name)))
    return tuple(keys)


def _pydantic_reason(error: ValueError) -> str:
    """Which fields failed and how, without the values (pydantic's str() shows them)."""
    errors: Callable[..., list[Mapping[str, Any]]] | None = getattr(error, "errors", None)
    if errors is None:
        return type(error).__name__
    parts = [
        f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', '')}"
        for item in errors(include_input=False, include_url=False)
    ]
    return "; ".join(parts[:5]) or type(error).__name__
