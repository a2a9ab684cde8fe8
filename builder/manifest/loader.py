"""YAML loading that keeps every node's position, rejects duplicate keys and reads typed fields.

The manifest is composed into PyYAML nodes (never constructed into Python objects directly) so that each
value keeps the line and column it came from. Plain scalars are resolved the way Go's yaml.v2 resolves
them, because Estafette decodes manifests with yaml.v2: ``y``/``n``/``on``/``off`` are booleans,
timestamps stay strings and ``1:30`` is not a sexagesimal number. Fields typed as strings take numbers
and booleans in Go's spelling (``CGO_ENABLED: 0`` is ``"0"``, ``GOGC: off`` is ``"false"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from builder.manifest.errors import START, ErrorCollector, Position

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"

MAX_DEPTH = 64  # deeper nesting is never a manifest; it is a mistake or an attack

_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_IMPLICIT_TYPES = [
    (BOOL, re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF")),
    (INT, re.compile(r"[-+]?(?:0b[01][01_]*|0o[0-7][0-7_]*|0x[0-9a-fA-F][0-9a-fA-F_]*|[0-9][0-9_]*)")),
    (
        FLOAT,
        re.compile(
            r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
        ),
    ),
    (NULL, re.compile(r"~|null|Null|NULL|")),
    (MERGE, re.compile(r"<<")),
]


@lru_cache(maxsize=4096)
def _plain_scalar_tag(value: str) -> str:
    for tag, pattern in _IMPLICIT_TYPES:
        if pattern.fullmatch(value):
            return tag
    return STR


class _GoLikeLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Composes nodes with yaml.v2's implicit scalar types.

    Resolution is done here directly (no path resolvers exist), which also makes composing about twice
    as fast as PyYAML's generic resolver.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _plain_scalar_tag(value) if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


def position_of(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def compose(text: str, errors: ErrorCollector) -> Node | None:
    """Compose ``text`` into a node tree; a YAML syntax error is recorded and gives ``None``."""
    try:
        loader = _GoLikeLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(mark.line + 1, mark.column + 1) if mark is not None else START
        problem = exc.problem or "cannot parse"
        errors.add(where, f"invalid YAML: {exc.context}: {problem}" if exc.context else f"invalid YAML: {problem}")
    except yaml.reader.ReaderError as exc:
        errors.add(_position_at(text, exc.position), f"invalid YAML: {exc.reason} in the manifest text")
    except yaml.YAMLError as exc:
        errors.add(START, f"invalid YAML: {exc}")
    except UnicodeError as exc:  # e.g. lone surrogates, which no file can contain
        index = getattr(exc, "start", 0)
        errors.add(_position_at(text, index), "invalid YAML: the text is not valid Unicode (UTF-8)")
    return None


def check_expansion(root: Node, errors: ErrorCollector) -> bool:
    """Whether the composed document stays within the limits once its aliases are expanded; records why not.

    Composing keeps one node per anchor, so an alias costs nothing until something walks the tree: ten
    aliases of ten aliases of ... ("billion laughs"), or a thousand aliases of a long string, turn a small
    text into billions of nodes or gigabytes of text in the defaulted manifest. The expanded size is
    counted here on the graph, each node once (memoised), before anything walks it. A node that contains
    an alias of itself expands without end; yaml.v2 refuses it too ("anchor value contains itself").
    """
    from builder.manifest.limits import MAX_EXPANDED_NODES, MAX_EXPANDED_TEXT

    expanded: dict[int, tuple[int, int]] = {}  # id(collection) -> (nodes, characters) it expands to
    in_progress: set[int] = set()
    # Iterative: block nesting can go deeper than Python's recursion limit within the size limit. Scalars (most
    # nodes) are counted where they are met, never pushed.
    stack: list[tuple[Node, bool]] = [(root, False)] if not isinstance(root, ScalarNode) else []
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            nodes, text = 1, 0
            for child in _children(node):
                if isinstance(child, ScalarNode):
                    nodes, text = nodes + 1, text + len(child.value)
                else:
                    nodes, text = nodes + expanded[id(child)][0], text + expanded[id(child)][1]
            limits = ((nodes, MAX_EXPANDED_NODES, "YAML nodes"), (text, MAX_EXPANDED_TEXT, "characters"))
            for size, limit, unit in limits:
                if size > limit:
                    errors.add(START, f"the manifest expands to more than {limit} {unit} (through aliases?)")
                    return False
            expanded[key] = (nodes, text)
            continue
        if key in expanded:
            continue
        if key in in_progress:  # reached again below itself: only an alias can do that
            errors.add(position_of(node), "this YAML anchor's value contains an alias of itself")
            return False
        in_progress.add(key)
        stack.append((node, True))
        stack.extend(
            (child, False)
            for child in _children(node)
            if not isinstance(child, ScalarNode) and id(child) not in expanded
        )
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _position_at(text: str, index: int) -> Position:
    before = text[:index]
    return Position(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def short_tag(node: Node) -> str:
    tag = node.tag or ""
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return tag


def describe(node: Node) -> str:
    """The node the way yaml.v2 names it in errors: ``!!map``, or ``!!str `abc``` (long values cut short)."""
    if isinstance(node, ScalarNode):
        value = node.value if len(node.value) <= 10 else node.value[:7] + "..."
        return f"{short_tag(node)} `{value}`"
    if isinstance(node, SequenceNode):
        return "!!seq"
    return "!!map"


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == NULL)


def to_int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)  # yaml.v2 reads a leading zero as octal
    return sign * int(digits)


def to_float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(lowered)


def go_float(value: float) -> str:  # noqa: PLR0911 - one return per case of Go's format
    """Format a float like Go's ``fmt.Sprintf("%v")``: shortest digits, exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


class Fields:
    """The keys of one YAML mapping: duplicates reported, ``<<`` merge keys applied, typed readers.

    Readers return ``None`` (or ``""`` for strings) when a key is absent or null, exactly like the zero
    values yaml.v2 leaves; a value of the wrong type is reported at the value and the owner is tainted.
    """

    __slots__ = ("errors", "keys", "owner", "values")

    def __init__(self, node: Node | None, errors: ErrorCollector, *, owner: Position, type_name: str) -> None:
        self.errors = errors
        self.owner = owner
        self.keys: dict[str, Node] = {}
        self.values: dict[str, Node] = {}
        if is_null(node):
            return
        assert node is not None
        if not isinstance(node, MappingNode):
            self.fail(node, f"cannot unmarshal {describe(node)} into {type_name}")
            return
        pairs = mapping_pairs(node, errors, owner=owner)
        errors.spend(1 + len(pairs))
        for key_node, value_node in pairs:
            self.keys[key_node.value] = key_node
            self.values[key_node.value] = value_node

    def fail(self, node: Node, message: str) -> None:
        self.errors.add(position_of(node), message)
        self.errors.taint(self.owner)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def node(self, key: str) -> Node | None:
        return self.values.get(key)

    def value_position(self, key: str) -> Position:
        return position_of(self.values[key])

    def positions(self) -> dict[str, Position]:
        """Where each present key's value starts, plus ``""`` for the owner itself."""
        found = {key: position_of(value) for key, value in self.values.items()}
        found[""] = self.owner
        return found

    def string(self, key: str) -> str:
        node = self.values.get(key)
        if node is None:
            return ""
        return read_string(node, self, key)

    def boolean(self, key: str) -> bool | None:
        node = self.values.get(key)
        if is_null(node):
            return None
        assert node is not None
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return node.value in _TRUE
        self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into bool")
        return None

    def integer(self, key: str) -> int | None:
        node = self.values.get(key)
        if is_null(node):
            return None
        assert node is not None
        if isinstance(node, ScalarNode) and node.tag == INT:
            return to_int(node.value)
        if isinstance(node, ScalarNode) and node.tag == FLOAT:
            number = to_float(node.value)
            if number.is_integer():
                return int(number)
        self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into int")
        return None

    def strings(self, key: str) -> tuple[str, ...] | None:
        node = self.values.get(key)
        if is_null(node):
            return None
        assert node is not None
        if not isinstance(node, SequenceNode):
            self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into []string")
            return None
        return tuple(read_string(item, self, key) for item in node.value)

    def string_or_strings(self, key: str) -> tuple[str, ...] | None:
        """A single string or a list of strings (Estafette's StringOrStringArray); an empty string is no value."""
        node = self.values.get(key)
        if is_null(node):
            return None
        assert node is not None
        if isinstance(node, SequenceNode):
            return self.strings(key)
        single = read_string(node, self, key)
        return (single,) if single else None

    def string_map(self, key: str) -> dict[str, str] | None:
        node = self.values.get(key)
        if is_null(node):
            return None
        assert node is not None
        if not isinstance(node, MappingNode):
            self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into map[string]string")
            return None
        return {
            key_node.value: "" if is_null(value) else read_string(value, self, key_node.value)
            for key_node, value in mapping_pairs(node, self.errors, owner=self.owner)
        }

    def mapping(self, key: str) -> list[tuple[ScalarNode, Node]]:
        """The ordered key/value nodes under ``key`` (stages, releases, ...); ``[]`` when absent or null."""
        node = self.values.get(key)
        if is_null(node):
            return []
        assert node is not None
        if not isinstance(node, MappingNode):
            self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into an ordered map of names")
            return []
        return mapping_pairs(node, self.errors, owner=self.owner)

    def sequence(self, key: str) -> list[Node]:
        node = self.values.get(key)
        if is_null(node):
            return []
        assert node is not None
        if not isinstance(node, SequenceNode):
            self.fail(node, f"field {key}: cannot unmarshal {describe(node)} into a list")
            return []
        return list(node.value)

    def reject_unknown(self, known: frozenset[str], type_name: str) -> None:
        """Strict decoding: every key outside ``known`` is an error at the key, as yaml.v2's UnmarshalStrict."""
        for key, key_node in self.keys.items():
            if key not in known:
                self.fail(key_node, f"field {key} not found in type {type_name}")

    def unknown(self, known: frozenset[str]) -> Iterator[tuple[str, Node]]:
        for key, value in self.values.items():
            if key not in known:
                yield key, value


def read_string(node: Node, fields: Fields, key: str) -> str:
    """A scalar as a string field holds it: resolved values in Go's spelling (``off`` → ``"false"``,
    ``3.0`` → ``"3"``), as Estafette's manifests come out; null is ``""``.
    """
    if isinstance(node, ScalarNode):
        if node.tag == STR:
            return node.value
        value = scalar_value(node)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    fields.fail(node, f"field {key}: cannot unmarshal {describe(node)} into string")
    return ""


def mapping_pairs(
    node: MappingNode, errors: ErrorCollector, *, owner: Position, depth: int = 0
) -> list[tuple[ScalarNode, Node]]:
    """The key/value pairs of a mapping in document order, merged-in keys first, duplicates reported."""
    if depth > MAX_DEPTH:
        errors.add(position_of(node), "YAML merge keys nest too deeply (a recursive alias?)")
        errors.taint(owner)
        return []
    merged: list[tuple[ScalarNode, Node]] = []
    explicit: dict[str, tuple[ScalarNode, Node]] = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag == MERGE:
            merged.extend(_merge_sources(value_node, errors, owner=owner, depth=depth))
            continue
        if not isinstance(key_node, ScalarNode):
            errors.add(position_of(key_node), f"cannot use {describe(key_node)} as a mapping key: keys are strings")
            errors.taint(owner)
            continue
        earlier = explicit.get(key_node.value)
        if earlier is not None:
            line = earlier[0].start_mark.line + 1
            errors.add(position_of(key_node), f'mapping key "{key_node.value}" already defined at line {line}')
            errors.taint(owner)
            continue
        explicit[key_node.value] = (key_node, value_node)
    pairs = [pair for pair in dict((key.value, (key, value)) for key, value in merged).values()]
    return [pair for pair in pairs if pair[0].value not in explicit] + list(explicit.values())


def _merge_sources(
    value: Node, errors: ErrorCollector, *, owner: Position, depth: int
) -> list[tuple[ScalarNode, Node]]:
    sources = value.value if isinstance(value, SequenceNode) else [value]
    pairs: list[tuple[ScalarNode, Node]] = []
    for source in sources:
        if not isinstance(source, MappingNode):
            errors.add(position_of(source), f"cannot merge {describe(source)} into a mapping: << takes mappings")
            errors.taint(owner)
            continue
        pairs.extend(mapping_pairs(source, errors, owner=owner, depth=depth + 1))
    return pairs


def plain_value(node: Node, errors: ErrorCollector, *, owner: Position) -> Any:
    """Convert a node to plain data the way Estafette keeps custom properties.

    Strings, ints and bools are kept, floats become Go's decimal text (``0.5`` → ``"0.5"``), nulls stay
    ``None``; mappings keep document order. Recursive aliases are reported, not followed.
    """
    return _plain(node, errors, owner, 0)


def _plain(node: Node, errors: ErrorCollector, owner: Position, depth: int) -> Any:
    errors.spend(1)
    if depth > MAX_DEPTH:
        errors.add(position_of(node), "YAML nests too deeply (a recursive alias?)")
        errors.taint(owner)
        return None
    if isinstance(node, ScalarNode):
        return scalar_value(node)
    if isinstance(node, SequenceNode):
        return [_plain(item, errors, owner, depth + 1) for item in node.value]
    assert isinstance(node, MappingNode)
    return {
        key.value: _plain(value, errors, owner, depth + 1)
        for key, value in mapping_pairs(node, errors, owner=owner, depth=depth)
    }


def scalar_value(node: ScalarNode) -> Any:
    tag = node.tag
    if tag == NULL:
        return None
    if tag == BOOL:
        return node.value in _TRUE
    try:
        if tag == INT:
            return to_int(node.value)
        if tag == FLOAT:
            return go_float(to_float(node.value))
    except (ValueError, OverflowError):
        pass  # resolved by pattern but not a number after all: keep the text, as a string field would
    return node.value
