"""Assembler expressions: tokens, a parser to a small tree, and an evaluator.

Operators and their precedence follow GNU as (not C): ``* / % << >>`` bind tightest, then
``| & ^ !`` (``!`` is or-not), then ``+ - == != <> < > <= >=``, then ``&& ||``. Comparisons are
-1 when true, as in GNU as. Operands are numbers (``42``, ``0x2a``, ``0b101``, ``052``, ``'*'``),
symbols, ``.`` (the address of the current statement) and the relocation functions ``%hi``,
``%lo``, ``%pcrel_hi`` and ``%pcrel_lo``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ExprError", "Node", "Unresolved", "evaluate", "parse_expr", "symbols_in"]


class ExprError(ValueError):
    """A malformed expression or one that cannot be evaluated."""


class Unresolved(ExprError):
    """The expression names a symbol whose value is not known (yet)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"undefined symbol '{name}'")


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|\d+)(?![\w$])
    | (?P<char>'(?:\\.|[^\\'])'?)
    | (?P<mod>%[a-z_]+)
    | (?P<sym>[A-Za-z_.$][\w.$]*|\d+[bf](?![\w$]))
    | (?P<op><<|>>|==|!=|<>|<=|>=|&&|\|\||[-+*/%&|^~!()<>])
    )""",
    re.VERBOSE,
)

_ESCAPES = {
    "n": 10,
    "t": 9,
    "r": 13,
    "0": 0,
    "\\": 92,
    "'": 39,
    '"': 34,
    "a": 7,
    "b": 8,
    "f": 12,
    "v": 11,
    "e": 27,
}

#: Tree nodes: ("num", value) | ("sym", name) | ("dot",) | ("neg"/"not"/"lnot", a) |
#: ("bin", op, a, b) | ("mod", name, a)
Node = tuple

_LEVELS = (
    ("&&", "||"),
    ("+", "-", "==", "!=", "<>", "<", ">", "<=", ">="),
    ("|", "&", "^", "!"),
    ("*", "/", "%", "<<", ">>"),
)
RELOC_FUNCS = ("hi", "lo", "pcrel_hi", "pcrel_lo")


def _tokenize(text: str, local_label: Callable[[str], str] | None) -> list[tuple[str, object]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected character {text[pos:].strip()[:1]!r} in expression {text.strip()!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "num":
            if len(value) > 1 and value[0] == "0" and value[1] not in "xXbB":
                if any(c in "89" for c in value):
                    raise ExprError(f"bad octal number {value!r}")
                tokens.append(("num", int(value, 8)))
            else:
                tokens.append(("num", int(value, 0)))
        elif kind == "char":
            body = value[1:-1] if value.endswith("'") and len(value) > 2 else value[1:]
            if body.startswith("\\"):
                if body[1] not in _ESCAPES:
                    raise ExprError(f"unknown escape in character {value!r}")
                tokens.append(("num", _ESCAPES[body[1]]))
            else:
                tokens.append(("num", ord(body)))
        elif kind == "mod":
            name = value[1:]
            if name not in RELOC_FUNCS:
                raise ExprError(
                    f"unknown relocation function {value!r}; known: "
                    + ", ".join("%" + r for r in RELOC_FUNCS)
                )
            tokens.append(("mod", name))
        elif kind == "sym":
            if value[0].isdigit():
                if local_label is None:
                    raise ExprError(f"local label reference {value!r} not allowed here")
                value = local_label(value)
            tokens.append(("dot", None) if value == "." else ("sym", value))
        else:
            tokens.append(("op", value))
    return tokens


class _Parser:
    def __init__(self, tokens, text):
        self.tokens, self.pos, self.text = tokens, 0, text

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, op):
        tok = self.take()
        if tok != ("op", op):
            raise ExprError(f"expected {op!r} in expression {self.text!r}")

    def binary(self, level=0):
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            kind, value = self.peek()
            if kind == "op" and value in _LEVELS[level]:
                self.take()
                left = ("bin", value, left, self.binary(level + 1))
            else:
                return left

    def unary(self):
        kind, value = self.take()
        if kind == "op" and value in "-~!+":
            operand = self.unary()
            return {"-": ("neg", operand), "~": ("not", operand), "!": ("lnot", operand), "+": operand}[value]
        if kind == "op" and value == "(":
            node = self.binary()
            self.expect(")")
            return node
        if kind == "num":
            return ("num", value)
        if kind == "sym":
            return ("sym", value)
        if kind == "dot":
            return ("dot",)
        if kind == "mod":
            self.expect("(")
            node = self.binary()
            self.expect(")")
            return ("mod", value, node)
        if kind is None:
            raise ExprError(
                f"expression {self.text!r} ends too early" if self.text.strip() else "missing expression"
            )
        raise ExprError(f"unexpected {value!r} in expression {self.text!r}")


def parse_expr(text: str, local_label: Callable[[str], str] | None = None) -> Node:
    """Parse ``text`` to a tree. ``local_label`` maps references like ``1f``/``2b`` to symbol
    names (the assembler knows which definition they mean)."""
    parser = _Parser(_tokenize(text, local_label), text.strip())
    node = parser.binary()
    if parser.pos != len(parser.tokens):
        raise ExprError(f"unexpected {parser.peek()[1]!r} in expression {text.strip()!r}")
    return node


def symbols_in(node: Node) -> set[str]:
    if node[0] == "sym":
        return {node[1]}
    out = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            out |= symbols_in(child)
    return out


def relocs_in(node: Node) -> set[str]:
    """The relocation functions used in ``node``."""
    out = {node[1]} if node[0] == "mod" else set()
    for child in node[1:]:
        if isinstance(child, tuple):
            out |= relocs_in(child)
    return out


def _div(a, b, op):
    if b == 0:
        raise ExprError(f"division by zero in '{op}'")
    q = abs(a) // abs(b)
    q = q if (a >= 0) == (b >= 0) else -q
    return q if op == "/" else a - q * b


@dataclass
class Env:
    """What an expression is evaluated against.

    ``symbol(name)`` returns a value or raises :class:`Unresolved`; ``dot`` is the address of the
    statement (None where it is not known); ``reloc(name, node, env)`` evaluates ``%name(node)``.
    """

    symbol: Callable[[str], int]
    dot: int | None = None
    reloc: Callable[[str, Node, Env], int] | None = None


def evaluate(node: Node, env: Env) -> int:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "sym":
        return env.symbol(node[1])
    if kind == "dot":
        if env.dot is None:
            raise Unresolved(".")
        return env.dot
    if kind == "neg":
        return -evaluate(node[1], env)
    if kind == "not":
        return ~evaluate(node[1], env)
    if kind == "lnot":
        return int(not evaluate(node[1], env))
    if kind == "mod":
        if env.reloc is None:
            raise ExprError(f"%{node[1]} is only allowed in an instruction operand")
        return env.reloc(node[1], node[2], env)
    _, op, a, b = node
    x, y = evaluate(a, env), evaluate(b, env)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op in "/%":
        return _div(x, y, op)
    if op == "<<":
        return x << (y & 63)
    if op == ">>":
        return x >> (y & 63)
    if op == "&":
        return x & y
    if op == "|":
        return x | y
    if op == "^":
        return x ^ y
    if op == "!":
        return x | ~y
    if op == "&&":
        return int(bool(x) and bool(y))
    if op == "||":
        return int(bool(x) or bool(y))
    result = {"==": x == y, "!=": x != y, "<>": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[
        op
    ]
    return -1 if result else 0
