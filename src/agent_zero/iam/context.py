"""The request context: condition keys and their values, as IAM sees them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ContextValue = str | bool | int | Sequence[str]
ContextInput = Mapping[str, ContextValue]


def _as_strings(value: ContextValue) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


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
        return cls({key.lower(): _as_strings(value) for key, value in context.items()})

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
            strings = _as_strings(value)
            if strings:
                merged[key.lower()] = strings
            else:
                merged.pop(key.lower(), None)
        return RequestContext(merged)


_EMPTY = RequestContext()
