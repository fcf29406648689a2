"""Log output: plain text locally, one JSON object per line on AWS (CloudWatch reads the
fields, and the stack's metric filter counts decisions from them).

Only fields passed as ``extra`` and the message are written: a log call never carries a
token, a credential or a free-text reason, so neither does its JSON.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
DECISION_EVENT = "access_decision"  # the stack's metric filter matches this event name


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__  # the type only: no message text
        return json.dumps(entry, default=str, separators=(",", ":"))


# Mangum logs the traceback of any failure the app re-raises (Starlette re-raises after its
# 500 page), message and all: its records take the same formatter, which keeps the type only.
_ADAPTER_LEVELS = {"mangum": logging.WARNING}


def configure_logging(log_format: Literal["text", "json"], *, level: int = logging.INFO) -> None:
    """Send ``agent_zero`` (and Mangum's) logs to stderr, which Lambda ships to CloudWatch."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter("%(levelname)s %(message)s")
    )
    for name, at_least in {"agent_zero": level, **_ADAPTER_LEVELS}.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(max(level, at_least))
        logger.propagate = False
