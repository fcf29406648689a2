"""Wildcard, ARN and policy-variable matching as the IAM policy language defines it.

A policy string is compiled once into a ``Template``: literal pieces where ``*``
and ``?`` are wildcards, and variables (``${aws:username}``) resolved per
request. Text produced by a variable is always matched literally, so a value
containing ``*`` cannot widen a pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent_zero.iam.context import RequestContext

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^,'\s][^,']*?)\s*(?:,\s*'([^']*)'\s*)?")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Variable:
    """A ``${key}`` or ``${key, 'default'}`` reference inside a policy string."""

    key: str
    default: str | None


@dataclass(frozen=True, slots=True)
class Literal:
    """Text that came from a special variable (``${*}``): never a wildcard."""

    text: str


Piece = str | Literal | Variable  # a plain str is policy text, wildcards active


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string split into text and variables."""

    pieces: tuple[Piece, ...]

    @property
    def has_variables(self) -> bool:
        """Whether the value depends on the request context."""
        return any(isinstance(piece, Variable) for piece in self.pieces)

    def resolve(self, context: RequestContext) -> tuple[Piece, ...] | None:
        """Replace variables by their values; None when one has no value."""
        resolved: list[Piece] = []
        for piece in self.pieces:
            if isinstance(piece, Variable):
                value = context.single(piece.key)
                if value is None:
                    value = piece.default
                if value is None:
                    return None
                resolved.append(Literal(value))
            else:
                resolved.append(piece)
        return tuple(resolved)


def parse_template(text: str, *, variables: bool) -> Template:
    """Split ``text`` into pieces; with ``variables`` False it is all literal policy text."""
    if not variables or "${" not in text:
        return Template((text,))
    pieces: list[Piece] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            pieces.append(text[position : match.start()])
        body = match.group(1)
        if body in _SPECIAL:
            pieces.append(Literal(_SPECIAL[body]))
        else:
            parsed = _VARIABLE_BODY.fullmatch(body)
            if parsed is None:
                pieces.append(match.group(0))
            else:
                pieces.append(Variable(parsed.group(1).lower(), parsed.group(2)))
        position = match.end()
    if position < len(text):
        pieces.append(text[position:])
    return Template(tuple(pieces))


def plain_text(pieces: tuple[Piece, ...]) -> str:
    """The exact string the pieces spell (wildcards taken as characters)."""
    return "".join(piece if isinstance(piece, str) else _text_of(piece) for piece in pieces)


def _text_of(piece: Literal | Variable) -> str:
    if isinstance(piece, Literal):
        return piece.text
    raise ValueError("unresolved variable")


def has_wildcard(pieces: tuple[Piece, ...]) -> bool:
    """Whether any policy-text piece contains ``*`` or ``?``."""
    return any(isinstance(piece, str) and ("*" in piece or "?" in piece) for piece in pieces)


@lru_cache(maxsize=8192)
def compile_glob(pieces: tuple[Piece, ...], ignore_case: bool) -> re.Pattern[str]:
    """A regular expression for a wildcard pattern; ``*`` spans any text, ``/`` included."""
    parts: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            for char in piece:
                if char == "*":
                    parts.append(".*")
                elif char == "?":
                    parts.append(".")
                else:
                    parts.append(re.escape(char))
        else:
            parts.append(re.escape(_text_of(piece)))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def glob_matches(pieces: tuple[Piece, ...], value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the wildcard pattern made of ``pieces``."""
    if not has_wildcard(pieces):
        text = plain_text(pieces)
        return text.lower() == value.lower() if ignore_case else text == value
    return compile_glob(pieces, ignore_case).fullmatch(value) is not None


def split_arn(value: str) -> tuple[str, ...] | None:
    """The six parts of an ARN (the last keeps its colons), or None if not an ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return tuple(parts)


def arn_matches(pattern: tuple[Piece, ...], value: str) -> bool:
    """ARN matching: each of the six colon-separated parts is matched on its own."""
    target = split_arn(value)
    if target is None:
        return False
    segments = split_pieces_on_colons(pattern)
    if segments is None:
        return False
    return all(glob_matches(segment, part) for segment, part in zip(segments, target, strict=True))


def split_pieces_on_colons(pieces: tuple[Piece, ...]) -> tuple[tuple[Piece, ...], ...] | None:
    """Split pattern pieces into the six ARN segments (policy text colons only)."""
    segments: list[list[Piece]] = [[]]
    for piece in pieces:
        if isinstance(piece, str) and len(segments) < 6:
            chunks = piece.split(":", 6 - len(segments))
            segments[-1].append(chunks[0])
            for chunk in chunks[1:]:
                segments.append([chunk])
        else:
            segments[-1].append(piece)
    if len(segments) != 6:
        return None
    return tuple(tuple(segment) for segment in segments)
