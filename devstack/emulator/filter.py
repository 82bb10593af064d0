"""The OData filter subset that Web PubSub REST calls accept (``filter=`` parameter).

Identifiers: userId, connectionId, protocol (strings) and groups (a collection).
Operators: eq ne gt ge lt le, and or not, in; parentheses.
Functions: tolower toupper trim substring indexof length startswith endswith contains concat.
Literals: 'text' ('' escapes a quote), integers, true/false, null.

No library implements this subset, so this is a small recursive-descent parser that
type-checks at parse time (type errors are 400s even when no connection matches) and
compiles to a predicate over a connection's fields.

Hostile input: nesting (parentheses, ``not``, function calls) is bounded by ``MAX_DEPTH`` in
the parser, so 300 parentheses or 1,000 ``not`` are a FilterError (400), never a
RecursionError; ``and``/``or`` chains are evaluated flat, so their length does not nest either.
Error messages do not quote the caller's text back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

STRING, INT, BOOL, NULL, COLLECTION = "string", "int", "bool", "null", "collection"
IDENTIFIERS = {"userid": STRING, "connectionid": STRING, "protocol": STRING, "groups": COLLECTION}
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
MAX_LENGTH = 4096
MAX_DEPTH = 32

Context = Mapping[str, Any]
Evaluator = Callable[[Context], Any]


class FilterError(ValueError):
    """The filter is not valid; the message is suitable for a 400 response."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "int", "name", "(", ")", ","
    value: Any
    pos: int


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<int>-?\d+)|(?P<name>[A-Za-z_]\w*)|(?P<punct>[(),]))"
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise FilterError(f"Invalid filter syntax: unexpected character at {pos}.")
        if match.group("str") is not None:
            tokens.append(_Token("str", match.group("str")[1:-1].replace("''", "'"), pos))
        elif match.group("int") is not None:
            tokens.append(_Token("int", int(match.group("int")), pos))
        elif match.group("name") is not None:
            tokens.append(_Token("name", match.group("name"), pos))
        else:
            tokens.append(_Token(match.group("punct"), None, pos))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class _Node:
    type: str
    fn: Evaluator


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def fail(self, why: str) -> FilterError:
        return FilterError(f"Invalid filter syntax: {why}")

    def enter(self) -> None:
        """Count one nesting level (paired with ``leave``); refuse more than MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"The filter is nested too deeply (more than {MAX_DEPTH} levels).")

    def leave(self) -> None:
        self.depth -= 1

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "name" and tok.value.lower() in words:
            self.i += 1
            return tok.value.lower()
        return None

    def expect(self, kind: str) -> _Token:
        tok = self.peek()
        if tok is None or tok.kind != kind:
            raise self.fail(f"expected '{kind}'.")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        if not self.tokens:
            raise self.fail("empty filter.")
        node = self.parse_or()
        if self.peek() is not None:
            raise self.fail(f"unexpected token at {self.peek().pos}.")  # type: ignore[union-attr]
        self.require(node, BOOL)
        return node

    def require(self, node: _Node, want: str) -> None:
        if node.type not in (want, NULL):
            raise self.fail(f"Type '{node.type}', expect '{want}'.")

    def parse_or(self) -> _Node:
        operands = [self.parse_and()]
        while self.keyword("or"):
            operands.append(self.parse_and())
        if len(operands) == 1:
            return operands[0]
        for node in operands:
            self.require(node, BOOL)
        return _Node(BOOL, _or([n.fn for n in operands]))

    def parse_and(self) -> _Node:
        operands = [self.parse_not()]
        while self.keyword("and"):
            operands.append(self.parse_not())
        if len(operands) == 1:
            return operands[0]
        for node in operands:
            self.require(node, BOOL)
        return _Node(BOOL, _and([n.fn for n in operands]))

    def parse_not(self) -> _Node:
        if self.keyword("not"):
            self.enter()
            inner = self.parse_not()
            self.leave()
            self.require(inner, BOOL)
            return _Node(BOOL, lambda ctx, f=inner.fn: not f(ctx))
        return self.parse_comparison()

    def parse_comparison(self) -> _Node:
        left = self.parse_value()
        op = self.keyword(*COMPARISONS)
        if op is not None:
            right = self.parse_value()
            return self.compare(op, left, right)
        if self.keyword("in"):
            return self.parse_in(left)
        return left

    def compare(self, op: str, left: _Node, right: _Node) -> _Node:
        if COLLECTION in (left.type, right.type):
            raise self.fail("Type 'collection' cannot be compared.")
        if NULL not in (left.type, right.type) and left.type != right.type:
            raise self.fail(f"Type '{left.type}', expect '{right.type}'.")
        if op in ("gt", "ge", "lt", "le") and BOOL in (left.type, right.type):
            raise self.fail(f"Type 'bool' does not support '{op}'.")
        return _Node(BOOL, _comparison(op, left.fn, right.fn))

    def parse_in(self, left: _Node) -> _Node:
        self.require(left, STRING)
        tok = self.peek()
        if tok is not None and tok.kind == "(":
            self.i += 1
            items = [self.parse_value()]
            while self.peek() is not None and self.peek().kind == ",":  # type: ignore[union-attr]
                self.i += 1
                items.append(self.parse_value())
            self.expect(")")
            for item in items:
                self.require(item, STRING)
            fns = [item.fn for item in items]
            return _Node(BOOL, lambda ctx: left.fn(ctx) in [f(ctx) for f in fns])
        right = self.parse_value()
        if right.type != COLLECTION:
            raise self.fail(f"Type '{right.type}', expect 'collection'.")
        return _Node(BOOL, lambda ctx: left.fn(ctx) in (right.fn(ctx) or ()))

    def parse_value(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end.")
        self.i += 1
        if tok.kind == "str":
            return _Node(STRING, lambda ctx, v=tok.value: v)
        if tok.kind == "int":
            return _Node(INT, lambda ctx, v=tok.value: v)
        if tok.kind == "(":
            self.enter()
            node = self.parse_or()
            self.expect(")")
            self.leave()
            return node
        if tok.kind != "name":
            raise self.fail(f"unexpected token at {tok.pos}.")
        name = tok.value.lower()
        if name in ("true", "false"):
            return _Node(BOOL, lambda ctx, v=name == "true": v)
        if name == "null":
            return _Node(NULL, lambda ctx: None)
        nxt = self.peek()
        if nxt is not None and nxt.kind == "(" and name in _FUNCTIONS:
            self.i += 1
            self.enter()
            args = [self.parse_or()]
            while self.peek() is not None and self.peek().kind == ",":  # type: ignore[union-attr]
                self.i += 1
                args.append(self.parse_or())
            self.expect(")")
            self.leave()
            return self.call(name, args)
        if name in IDENTIFIERS:
            return _Node(IDENTIFIERS[name], lambda ctx, n=name: ctx.get(n))
        raise self.fail(f"unknown identifier at {tok.pos}.")

    def call(self, name: str, args: list[_Node]) -> _Node:
        param_types, result, impl = _FUNCTIONS[name]
        if len(args) not in param_types:
            raise self.fail(f"wrong number of arguments for '{name}'.")
        for arg, want in zip(args, param_types[len(args)], strict=True):
            self.require(arg, want)
        fns = [a.fn for a in args]

        def run(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            if any(v is None for v in values):
                return None
            return impl(*values)

        return _Node(result, run)


def _substring(s: str, start: int, length: int | None = None) -> str:
    start = max(start, 0)
    return s[start:] if length is None else s[start : start + max(length, 0)]


_FUNCTIONS: dict[str, tuple[dict[int, tuple[str, ...]], str, Callable[..., Any]]] = {
    "tolower": ({1: (STRING,)}, STRING, str.lower),
    "toupper": ({1: (STRING,)}, STRING, str.upper),
    "trim": ({1: (STRING,)}, STRING, str.strip),
    "length": ({1: (STRING,)}, INT, len),
    "substring": ({2: (STRING, INT), 3: (STRING, INT, INT)}, STRING, _substring),
    "indexof": ({2: (STRING, STRING)}, INT, str.find),
    "startswith": ({2: (STRING, STRING)}, BOOL, str.startswith),
    "endswith": ({2: (STRING, STRING)}, BOOL, str.endswith),
    "contains": ({2: (STRING, STRING)}, BOOL, lambda s, t: t in s),
    "concat": ({2: (STRING, STRING)}, STRING, lambda s, t: s + t),
}


def _or(fns: list[Evaluator]) -> Evaluator:
    return lambda ctx: any(f(ctx) for f in fns)


def _and(fns: list[Evaluator]) -> Evaluator:
    return lambda ctx: all(f(ctx) for f in fns)


def _comparison(op: str, a: Evaluator, b: Evaluator) -> Evaluator:
    def run(ctx: Context) -> bool:
        x, y = a(ctx), b(ctx)
        if op == "eq":
            return x == y
        if op == "ne":
            return x != y
        if x is None or y is None:
            return False
        if op == "gt":
            return x > y
        if op == "ge":
            return x >= y
        if op == "lt":
            return x < y
        return x <= y

    return run


def compile_filter(text: str) -> Callable[[Context], bool]:
    """Parse a filter; the result maps {userid, connectionid, protocol, groups} -> bool."""
    if len(text) > MAX_LENGTH:
        raise FilterError("The filter is too long.")
    try:
        node = _Parser(text).parse()
    except RecursionError as exc:  # MAX_DEPTH should make this unreachable; fail closed anyway
        raise FilterError("The filter is nested too deeply.") from exc
    return lambda ctx: bool(node.fn(ctx))
