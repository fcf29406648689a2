"""The chat protocol, one set of JSON frames for the local WebSocket and API Gateway's.

The client sends ``message``; the server answers ``ack``, then ``delta`` (answer
text), ``tool_started`` / ``tool_finished`` (a display name and an outcome,
never credentials or raw rows), ``error`` (code, message) and finally ``done``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 4_000


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserMessage(_Frame):
    """What the client sends: one message of the conversation."""

    type: Literal["message"]
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class Ack(_Frame):
    """The message was accepted; a turn started."""

    type: Literal["ack"] = "ack"
    id: str


class Delta(_Frame):
    """More of the answer's text."""

    type: Literal["delta"] = "delta"
    id: str
    text: str


class ToolStarted(_Frame):
    """The agent began a step (a safe display name only)."""

    type: Literal["tool_started"] = "tool_started"
    id: str
    tool: str
    display: str


class ToolFinished(_Frame):
    """A step ended: ``ok``, ``denied``, ``pending`` or ``failed``, with a short summary."""

    type: Literal["tool_finished"] = "tool_finished"
    id: str
    tool: str
    outcome: Literal["ok", "denied", "pending", "failed"]
    summary: str


class Error(_Frame):
    """The turn failed; ``code`` is stable, ``message`` is for people."""

    type: Literal["error"] = "error"
    id: str
    code: str
    message: str


class Done(_Frame):
    """The turn ended (after an answer or an error)."""

    type: Literal["done"] = "done"
    id: str


ServerFrame = Ack | Delta | ToolStarted | ToolFinished | Error | Done
