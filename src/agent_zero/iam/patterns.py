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


@dataclass(frozen=True, slots=True)
class _Segment:
    """Text between two ``*``: characters, with ``?`` positions marked as wildcards."""

    text: str
    any_char: tuple[bool, ...] | None  # None when the segment has no ``?``

    def __len__(self) -> int:
        return len(self.text)

    def matches_at(self, value: str, start: int) -> bool:
        if self.any_char is None:
            return value.startswith(self.text, start)
        if start + len(self.text) > len(value):
            return False
        return all(
            wild or char == value[start + offset]
            for offset, (char, wild) in enumerate(zip(self.text, self.any_char, strict=True))
        )

    def find(self, value: str, start: int, end: int) -> int:
        """The leftmost position >= start where the segment matches inside value[:end]."""
        if self.any_char is None:
            return value.find(self.text, start, end)
        for position in range(start, end - len(self.text) + 1):
            if self.matches_at(value, position):
                return position
        return -1


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled wildcard pattern; matching is linear-time (no regex backtracking).

    ``*`` spans any text, ``/`` and ``:`` included; ``?`` is one character. A
    pattern is the segments between its stars: the first must be a prefix, the
    last a suffix, and the middle ones are found leftmost-first, which is exact
    for this grammar and never revisits text.
    """

    segments: tuple[_Segment, ...]  # one segment means "no star"
    ignore_case: bool

    def matches(self, value: str) -> bool:
        """Whether the whole of ``value`` matches the pattern."""
        if self.ignore_case:
            value = value.lower()
        segments = self.segments
        first = segments[0]
        if len(segments) == 1:
            return len(value) == len(first) and first.matches_at(value, 0)
        last = segments[-1]
        end = len(value) - len(last)
        if end < len(first) or not first.matches_at(value, 0) or not last.matches_at(value, end):
            return False
        position = len(first)
        for middle in segments[1:-1]:
            found = middle.find(value, position, end)
            if found < 0:
                return False
            position = found + len(middle)
        return True


def _segment(chars: list[tuple[str, bool]], ignore_case: bool) -> _Segment:
    text = "".join(char for char, _ in chars)
    wild = tuple(is_wild for _, is_wild in chars)
    return _Segment(text.lower() if ignore_case else text, wild if any(wild) else None)


@lru_cache(maxsize=8192)
def compile_glob(pieces: tuple[Piece, ...], ignore_case: bool) -> Glob:
    """Compile a wildcard pattern; text from variables and ``${*}`` specials is literal."""
    segments: list[_Segment] = []
    current: list[tuple[str, bool]] = []
    for piece in pieces:
        if isinstance(piece, str):
            for char in piece:
                if char == "*":
                    segments.append(_segment(current, ignore_case))
                    current = []
                else:
                    current.append((char, char == "?"))
        else:
            current += [(char, False) for char in _text_of(piece)]
    segments.append(_segment(current, ignore_case))
    return Glob(tuple(segments), ignore_case)


def glob_matches(pieces: tuple[Piece, ...], value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the wildcard pattern made of ``pieces``."""
    if not has_wildcard(pieces):
        text = plain_text(pieces)
        return text.lower() == value.lower() if ignore_case else text == value
    return compile_glob(pieces, ignore_case).matches(value)


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
