"""The wire framework under :mod:`builder.contracts`: frozen dataclasses to and from Estafette's camelCase JSON.

A type derives from :class:`Wire` and declares its fields with type hints; ``to_dict()`` / ``from_dict()`` are derived
once per class from them. JSON keys are :func:`builder.manifest.jsonnames.camel_case` of the field names. ``from_dict``
raises :class:`ContractError` naming the offending field (``git.repoBranch: expected a string``) so the API can answer
400 with a reason; unknown keys are ignored so an older reader accepts a newer writer's additions. Fields that are
``None`` are left out of the JSON (Go's ``omitempty``).

Supported field types: ``str``, ``bool``, ``int``, ``float``, ``Any``, ``Literal[...]``, ``X | None``,
``tuple[X, ...]``, ``dict[str, X]`` and other :class:`Wire` types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from builder.manifest.jsonnames import camel_case


class ContractError(ValueError):
    """The JSON does not match the contract. The message names the field (dotted path) and what was expected."""


# Converters run once per field of every parsed object (a log batch holds thousands of lines), so the valid path does
# no string formatting: a problem raises Invalid with a relative path, and each enclosing level prepends its key.


class Invalid(Exception):
    """A field's value is wrong: raised by the parsers and by a type's ``_check``; ``from_dict`` renders it into a
    :class:`ContractError` with the field's full path."""

    def __init__(self, message: str, *path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path)

    def within(self, part: str) -> Invalid:
        self.path.insert(0, part)
        return self

    def render(self, root: str) -> str:
        parts = [root] if root else []
        parts.extend(self.path)
        text = ""
        for part in parts:
            text += part if part.startswith("[") or not text else f".{part}"
        return f"{text or '<root>'}: {self.message}"


_Converter = Callable[[Any], Any]


def _wrong(expected: str, value: Any) -> Invalid:
    return Invalid(f"expected {expected}, got {type(value).__name__}")


def _converter_for(hint: Any) -> _Converter:  # noqa: PLR0911 — one branch per supported JSON shape
    origin = typing.get_origin(hint)
    if hint is Any:
        return lambda value: value
    if hint in (str, bool):
        expected = "a string" if hint is str else "a boolean"

        def checked(value: Any, kind: type = hint) -> Any:
            if value.__class__ is not kind and not isinstance(value, kind):
                raise _wrong(expected, value)
            return value

        return checked
    if hint is int:

        def to_int(value: Any) -> int:
            if value.__class__ is not int and (isinstance(value, bool) or not isinstance(value, int)):
                raise _wrong("an integer", value)
            return value  # type: ignore[no-any-return]

        return to_int
    if hint is float:

        def to_float(value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _wrong("a number", value)
            return float(value)

        return to_float
    if origin is Literal:
        allowed = frozenset(typing.get_args(hint))
        listed = ", ".join(map(str, typing.get_args(hint)))

        def to_literal(value: Any) -> Any:
            if value not in allowed:
                raise Invalid(f"expected one of {listed}, got {value!r}")
            return value

        return to_literal
    if origin in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {hint}")
        return _converter_for(inner[0])  # None never reaches a converter
    if origin is tuple:
        item = _converter_for(typing.get_args(hint)[0])

        def to_tuple(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list | tuple):
                raise _wrong("a list", value)
            try:
                return tuple([item(element) for element in value])
            except Invalid as error:
                index = next(i for i, element in enumerate(value) if _fails(item, element))
                raise error.within(f"[{index}]") from None

        return to_tuple
    if origin is dict:
        value_converter = _converter_for(typing.get_args(hint)[1])

        def to_dict(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _wrong("an object", value)
            converted = {}
            for key, element in value.items():
                try:
                    converted[str(key)] = value_converter(element)
                except Invalid as error:
                    raise error.within(str(key)) from None
            return converted

        return to_dict
    if isinstance(hint, type) and issubclass(hint, Wire):
        return lambda value: hint._parse(value)  # noqa: PLW0108 — looked up per call: replaced once compiled
    raise TypeError(f"unsupported contract field type {hint}")


def _fails(convert: _Converter, value: Any) -> bool:
    try:
        convert(value)
    except Invalid:
        return True
    return False


def _to_json(value: Any) -> Any:
    if isinstance(value, Wire):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


_NO_DEFAULT = object()


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    key: str
    convert: _Converter
    default: Any  # _NO_DEFAULT when required
    factory: Callable[[], Any] | None


class Wire:
    """Base of the wire types: camelCase ``to_dict``/``from_dict`` derived once per class from its type hints."""

    _specs: ClassVar[tuple[_FieldSpec, ...] | None] = None

    @classmethod
    def _field_specs(cls) -> tuple[_FieldSpec, ...]:
        specs = cls.__dict__.get("_specs")
        if specs is None:
            hints = typing.get_type_hints(cls)
            specs = tuple(
                _FieldSpec(
                    name=f.name,
                    key=camel_case(f.name),
                    convert=_converter_for(hints[f.name]),
                    default=_NO_DEFAULT if f.default is dataclasses.MISSING else f.default,
                    factory=None if f.default_factory is dataclasses.MISSING else f.default_factory,
                )
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            )
            cls._specs = specs
        return specs

    def to_dict(self) -> dict[str, Any]:
        """The camelCase JSON object; ``None`` fields are omitted."""
        result: dict[str, Any] = {}
        for spec in self._field_specs():
            value = getattr(self, spec.name)
            if value is not None:
                result[spec.key] = _to_json(value)
        return result

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "") -> Self:
        """Parse camelCase JSON; raises :class:`ContractError` naming the first bad or missing field."""
        try:
            return cls._parse(data)
        except Invalid as error:
            raise ContractError(error.render(path)) from None

    @classmethod
    def _parse(cls, data: Any) -> Self:
        # compiled on first use, then installed in place of this method: nested fields call it directly
        parser = _compile_parser(cls, cls._field_specs())
        cls._parse = staticmethod(parser)  # type: ignore[method-assign,assignment]
        return parser(data)  # type: ignore[no-any-return]

    def _check(self) -> None:
        """Cross-field checks after parsing; raise ``Invalid(message, field)``."""


def _compile_parser(cls: type[Wire], specs: tuple[_FieldSpec, ...]) -> Callable[[Any], Any]:
    """A parse function for ``cls`` with one straight-line block per field (as dataclasses generate ``__init__``).

    Strings, integers and booleans are checked inline; other fields call their converter. The frozen instance is
    filled directly: the values are complete and checked, and its ``__init__`` would cost as much as the parsing.
    """
    namespace: dict[str, Any] = {
        "Mapping": Mapping,
        "Invalid": Invalid,
        "_wrong": _wrong,
        "new": object.__new__,
        "cls": cls,
    }
    body = [
        "def parse(data):",
        "    if data.__class__ is not dict and not isinstance(data, Mapping):",
        "        raise _wrong('an object', data)",
        "    get = data.get",
        "    instance = new(cls)",
        "    d = instance.__dict__",
        "    key = None",
        "    try:",
    ]
    hints = typing.get_type_hints(cls)
    for index, spec in enumerate(specs):
        namespace[f"convert{index}"] = spec.convert
        namespace[f"default{index}"] = spec.default
        namespace[f"factory{index}"] = spec.factory
        body += [f"        key = {spec.key!r}", f"        v = get({spec.key!r})", "        if v is None:"]
        if spec.factory is not None:
            body.append(f"            d[{spec.name!r}] = factory{index}()")
        elif spec.default is _NO_DEFAULT:
            body.append("            raise Invalid('is required')")
        else:
            body.append(f"            d[{spec.name!r}] = default{index}")
        body.append("        else:")
        body.append(_inline_check(hints[spec.name], index, namespace))
        body.append(f"            d[{spec.name!r}] = v")
    body += [
        "    except Invalid as error:",
        "        raise error.within(key) from None",
        "    instance._check()",
        "    return instance",
    ]
    exec("\n".join(body), namespace)  # noqa: S102 — generated from the class's own field list, no outside input
    return namespace["parse"]  # type: ignore[no-any-return]


def _inline_check(hint: Any, index: int, namespace: dict[str, Any]) -> str:
    """The generated line checking (or converting) ``v`` for a field of type ``hint`` (``None`` already handled)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if hint is str:
        return "            if v.__class__ is not str and not isinstance(v, str): raise _wrong('a string', v)"
    if hint is bool:
        return "            if v.__class__ is not bool: raise _wrong('a boolean', v)"
    if hint is int:
        return f"            if v.__class__ is not int: v = convert{index}(v)"
    if typing.get_origin(hint) is Literal:
        namespace[f"allowed{index}"] = frozenset(typing.get_args(hint))
        return f"            if v not in allowed{index}: v = convert{index}(v)"
    return f"            v = convert{index}(v)"
