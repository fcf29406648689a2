"""The real clock and identifier source."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


class SystemClock:
    """The wall clock in UTC."""

    def now(self) -> datetime:
        """Now."""
        return datetime.now(UTC)


class RandomIds:
    """Request ids that are unguessable and sortable by time."""

    def request_id(self) -> str:
        """``req-<time>-<random>``."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return f"req-{stamp}-{secrets.token_hex(6)}"
