"""The request context: condition keys and their values, as IAM sees them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent_zero.domain.errors import InvalidInputError

ContextValue = str | bool | int | Sequence[str]
ContextInput = Mapping[str, ContextValue]


def _as_strings(key: object, value: object) -> tuple[str, ...]:
    # Only the shapes a request context really has; anything else is a caller bug,
    # refused with a clear error rather than stringified into a surprising match.
    if not isinstance(key, str) or not key:
        raise InvalidInputError("condition keys must be non-empty strings")
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidInputError(
        f"context value of {key!r} must be a string, bool, int or list of strings"
    )


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Condition keys (case-insensitive) mapped to their request values."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, context: ContextInput | RequestContext | None) -> RequestContext:
        """Normalise a plain mapping: lower-case keys, every value a tuple of strings."""
        if context is None:
            return _EMPTY
        if isinstance(context, RequestContext):
            return context
        return cls({str(key).lower(): _as_strings(key, value) for key, value in context.items()})

    def get(self, key: str) -> tuple[str, ...] | None:
        """Values of ``key``, or None when the key is absent or carries no value."""
        found = self.values.get(key.lower())
        return found if found else None

    def single(self, key: str) -> str | None:
        """The one value of a single-valued key; None if absent or multivalued."""
        found = self.get(key)
        if found is None or len(found) != 1:
            return None
        return found[0]

    def with_values(self, extra: ContextInput) -> RequestContext:
        """A copy with ``extra`` keys added or replaced (an empty list removes a key)."""
        merged = dict(self.values)
        for key, value in extra.items():
            strings = _as_strings(key, value)
            if strings:
                merged[str(key).lower()] = strings
            else:
                merged.pop(str(key).lower(), None)
        return RequestContext(merged)


_EMPTY = RequestContext()
