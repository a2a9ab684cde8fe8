"""``when`` expressions: govaluate-compatible syntax, parsed by a small recursive-descent parser.

Grammar, loosest binding first (as govaluate's operator precedence)::

    expression  = ternary
    ternary     = or [ "?" ternary [ ":" ternary ] ] | or "??" ternary
    or          = and { "||" and }
    and         = comparison { "&&" comparison }
    comparison  = additive [ ("=="|"!="|">"|"<"|">="|"<="|"=~"|"!~"|"in") additive ]
    additive    = multiplicative { ("+"|"-") multiplicative }
    multiplicative = unary { ("*"|"/"|"%") unary }
    unary       = ("!"|"-") unary | primary
    primary     = number | string | "true" | "false" | identifier | "(" expression { "," expression } ")"

Strings are single- or double-quoted; numbers are floats; ``=~``/``!~`` search with an RE2 regex;
``in`` takes a parenthesised list. ``${ESTAFETTE_X}`` and ``$ESTAFETTE_X`` are replaced by their values
from ``environ`` before parsing (other ``$`` references are left alone). Nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.manifest.regex import compile_go, search

MAX_EXPRESSION_LENGTH = 10_000


class WhenError(ValueError):
    """The expression is empty, malformed, refers to an unknown parameter or does not give a boolean.

    ``summary`` says what is wrong without quoting the expression or any value, for when the expression
    had ``ESTAFETTE_*`` variables substituted into it (their values may be secrets).
    """

    def __init__(self, message: str, *, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message


def evaluate_when(expression: str, parameters: Mapping[str, str], environ: Mapping[str, str] | None = None) -> bool:
    """Evaluate a stage's ``when`` with parameters such as ``status``, ``branch``, ``action``, ``trigger``
    and ``server``; raise ``WhenError`` with a clear message instead of guessing.
    """
    text = substitute_environment(expression, environ or {}).strip()
    try:
        return _evaluate_text(text, parameters)
    except WhenError as exc:
        if text == expression.strip():
            raise
        # never echo substituted values: they may be secrets
        raise WhenError(
            f"{exc.summary} in when expression {expression.strip()!r} "
            "(after substituting its ESTAFETTE_* variables, whose values are not shown)"
        ) from None


def _evaluate_text(text: str, parameters: Mapping[str, str]) -> bool:
    if not text:
        raise WhenError("When expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise WhenError(f"When expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    result = _evaluate(_Parser(text).parse(), parameters)
    if not isinstance(result, bool):
        raise WhenError(
            f"Result of evaluating when expression is not of type boolean: {text}",
            summary="Result of evaluating when expression is not of type boolean",
        )
    return result


_ENV_REFERENCE = re.compile(r"\$\{(ESTAFETTE_[A-Za-z0-9_]*)\}|\$(ESTAFETTE_[A-Za-z0-9_]*)")


def substitute_environment(expression: str, environ: Mapping[str, str]) -> str:
    return _ENV_REFERENCE.sub(lambda match: environ.get(match.group(1) or match.group(2), ""), expression)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op", "end"
    value: Any
    offset: int


_OPERATORS = sorted(
    [
        "==",
        "!=",
        ">=",
        "<=",
        "=~",
        "!~",
        "&&",
        "||",
        "??",
        ">",
        "<",
        "!",
        "?",
        ":",
        "(",
        ")",
        ",",
        "+",
        "-",
        "*",
        "/",
        "%",
    ],
    key=len,
    reverse=True,
)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in "'\"":
            value, end = _read_string(text, index)
            tokens.append(_Token("string", value, index))
            index = end
            continue
        if char == "[":  # govaluate's escaped parameter name: [some name]
            end = text.find("]", index)
            if end < 0:
                raise WhenError(
                    f"Unclosed parameter bracket at position {index + 1} in when expression: {text}",
                    summary="Unclosed parameter bracket",
                )
            tokens.append(_Token("name", text[index + 1 : end], index))
            index = end + 1
            continue
        if number := _NUMBER.match(text, index):
            tokens.append(_Token("number", float(number.group(0)), index))
            index = number.end()
            continue
        if name := _NAME.match(text, index):
            tokens.append(_Token("name", name.group(0), index))
            index = name.end()
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, index)), None)
        if operator is None:
            raise WhenError(
                f"Invalid character {char!r} at position {index + 1} in when expression: {text}",
                summary="Invalid character",
            )
        tokens.append(_Token("op", operator, index))
        index += len(operator)
    tokens.append(_Token("end", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise WhenError(
        f"Unclosed string literal at position {start + 1} in when expression: {text}", summary="Unclosed string literal"
    )


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Parameter:
    name: str


@dataclass(frozen=True)
class _List:
    items: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Unary:
    operator: str
    operand: _Expr


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: _Expr
    right: _Expr


@dataclass(frozen=True)
class _Ternary:
    condition: _Expr
    when_true: _Expr
    when_false: _Expr | None


@dataclass(frozen=True)
class _Coalesce:
    value: _Expr
    fallback: _Expr


_Expr = _Literal | _Parameter | _List | _Unary | _Binary | _Ternary | _Coalesce


def _evaluate(node: _Expr, params: Mapping[str, str]) -> Any:  # noqa: PLR0911 - one branch per node type
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Parameter):
        if node.name not in params:
            raise WhenError(f"No parameter '{node.name}' found.", summary="Unknown parameter")
        return params[node.name]
    if isinstance(node, _List):
        return [_evaluate(item, params) for item in node.items]
    if isinstance(node, _Unary):
        operand = _evaluate(node.operand, params)
        return not _need(operand, bool, "!") if node.operator == "!" else -_need(operand, float, "-")
    if isinstance(node, _Ternary):
        if _need(_evaluate(node.condition, params), bool, "?"):
            return _evaluate(node.when_true, params)
        return _evaluate(node.when_false, params) if node.when_false is not None else None
    if isinstance(node, _Coalesce):
        value = _evaluate(node.value, params)
        return value if value is not None else _evaluate(node.fallback, params)
    return _evaluate_binary(node, params)


def _evaluate_binary(node: _Binary, params: Mapping[str, str]) -> Any:
    operator = node.operator
    left = _evaluate(node.left, params)
    if operator in ("&&", "||"):  # short-circuit, as govaluate does
        if _need(left, bool, operator) == (operator == "||"):
            return left
        return _need(_evaluate(node.right, params), bool, operator)
    right = _evaluate(node.right, params)
    if operator in ("==", "!="):
        return _equal(left, right) == (operator == "==")
    if operator == "in":
        return any(_equal(left, option) for option in (right if isinstance(right, list) else [right]))
    if operator in ("=~", "!~"):
        return _regex(operator, left, right)
    return (_compare if operator in (">", "<", ">=", "<=") else _arithmetic)(operator, left, right)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "nil"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return repr(value) if isinstance(value, str) else _type_name(value)


def _need(value: Any, kind: type, operator: str) -> Any:
    if not isinstance(value, kind) or (kind is float and isinstance(value, bool)):
        wanted = {bool: "a bool", float: "a number", str: "a string"}[kind]
        raise WhenError(
            f"Value {_render(value)} cannot be used with the operator '{operator}', it is not {wanted}",
            summary=f"A value that is not {wanted} is used with the operator '{operator}'",
        )
    return value


def _equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and bool(left == right)


def _compare(operator: str, left: Any, right: Any) -> bool:
    if not (isinstance(left, str) and isinstance(right, str)):
        left, right = _need(left, float, operator), _need(right, float, operator)
    if operator == ">":
        return bool(left > right)
    if operator == "<":
        return bool(left < right)
    if operator == ">=":
        return bool(left >= right)
    return bool(left <= right)


def _regex(operator: str, left: Any, right: Any) -> bool:
    pattern = compile_go(_need(right, str, operator))
    if pattern is None:
        raise WhenError(
            f"Unable to compile regular expression {right!r} for operator '{operator}'",
            summary=f"Invalid regular expression for operator '{operator}'",
        )
    found = search(pattern, _need(left, str, operator))
    return found if operator == "=~" else not found


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    if operator == "+" and (isinstance(left, str) or isinstance(right, str)):
        return (left if isinstance(left, str) else _render(left)) + (
            right if isinstance(right, str) else _render(right)
        )
    a, b = _need(left, float, operator), _need(right, float, operator)
    if operator in ("/", "%") and b == 0:
        raise WhenError(f"Division by zero with operator '{operator}'")
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator == "*":
        return a * b
    return a / b if operator == "/" else math.fmod(a, b)


_COMPARATORS = ("==", "!=", ">=", "<=", ">", "<", "=~", "!~", "in")
MAX_NESTING = 100


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> _Expr:
        node = self.ternary()
        token = self.tokens[self.index]
        if token.kind != "end":
            self.fail(token, "Unexpected")
        return node

    def accept(self, *operators: str) -> str | None:
        token = self.tokens[self.index]
        # `in` is an operator spelled like a name
        if token.kind in ("op", "name") and token.value in operators:
            self.index += 1
            return str(token.value)
        return None

    def fail(self, token: _Token, what: str) -> None:
        shown = "end of expression" if token.kind == "end" else repr(self.text[token.offset :][:20])
        raise WhenError(
            f"{what} {shown} at position {token.offset + 1} in when expression: {self.text}",
            summary=f"Syntax error ({what.lower()} {'end of expression' if token.kind == 'end' else 'token'})",
        )

    def ternary(self) -> _Expr:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise WhenError(f"When expression nests more than {MAX_NESTING} levels deep")
        node = self.logical("||")
        if self.accept("??"):
            node = _Coalesce(node, self.ternary())
        elif self.accept("?"):
            when_true = self.ternary()
            node = _Ternary(node, when_true, self.ternary() if self.accept(":") else None)
        self.depth -= 1
        return node

    def logical(self, operator: str) -> _Expr:
        operand = (lambda: self.logical("&&")) if operator == "||" else self.comparison
        node = operand()
        while self.accept(operator):
            node = _Binary(operator, node, operand())
        return node

    def comparison(self) -> _Expr:
        node = self.arithmetic(("+", "-"))
        operator = self.accept(*_COMPARATORS)
        if operator is not None:
            node = _Binary(operator, node, self.arithmetic(("+", "-")))
        return node

    def arithmetic(self, operators: tuple[str, ...]) -> _Expr:
        tighter = (lambda: self.arithmetic(("*", "/", "%"))) if operators == ("+", "-") else self.unary
        node = tighter()
        while operator := self.accept(*operators):
            node = _Binary(operator, node, tighter())
        return node

    def unary(self) -> _Expr:
        operator = self.accept("!", "-")
        if operator is not None:
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise WhenError(f"When expression nests more than {MAX_NESTING} levels deep")
            node = _Unary(operator, self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> _Expr:
        token = self.tokens[self.index]
        self.index += 1
        if token.kind in ("number", "string"):
            return _Literal(token.value)
        if token.kind == "name" and token.value in ("true", "false"):
            return _Literal(token.value == "true")
        if token.kind == "name" and token.value != "in":
            return _Parameter(str(token.value))
        if token.kind == "op" and token.value == "(":
            items = [self.ternary()]
            while self.accept(","):
                items.append(self.ternary())
            if not self.accept(")"):
                self.fail(self.tokens[self.index], "Expected ')' but found")
            return items[0] if len(items) == 1 else _List(tuple(items))
        self.fail(token, "Unexpected")
        raise AssertionError("fail() raises")
