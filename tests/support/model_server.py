"""A scripted OpenAI-compatible model server on 127.0.0.1, for tests of real client code paths.

openai >= 3 sends requests through httpx2, which respx cannot intercept, so tests
talk to this server over real HTTP instead. It implements what OpenAI-compatible
clients (pydantic-ai's ``OpenAIChatModel``, the ``openai`` SDK) use:

- ``POST /v1/chat/completions``, non-streamed (one JSON body) and streamed
  (``"stream": true``: server-sent ``chat.completion.chunk`` events, a usage
  chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``);
- ``GET /v1/models``.

**The script.** Each chat-completions request takes the next reply from a FIFO
queue filled with :meth:`ScriptedModelServer.enqueue`. A reply is one of:

- ``Structured(data)``: the structured output ``data`` (a dict), delivered the
  way the request asked for it. With ``response_format`` of type ``json_schema``
  or ``json_object`` it is the message content; with tools it is a call to the
  output tool (the one tool named ``final_result*``, else the only tool); with
  neither it is the content as JSON text.
- ``ToolCalls(calls)``: tool calls chosen by the test, each a ``ToolCall(name,
  arguments)`` where ``arguments`` is a dict or a raw string (so malformed JSON
  can be sent as arguments), optionally with ``text`` before them.
- ``Text(text, finish_reason="stop")``: plain assistant text (streamed in
  ``chunk_chars`` pieces); ``finish_reason="content_filter"`` imitates a filter.
- ``Refusal(text)``: an OpenAI structured-output refusal (``message.refusal``).
- ``HttpError(status, message)``: an OpenAI-shaped error body with that status.
- ``Raw(body, status=200, content_type=...)``: exactly these bytes, e.g. a
  truncated JSON document.

Every reply takes ``delay_seconds``: the server waits that long before it
answers (before the first chunk when streaming), giving up early when the
client disconnects, so client timeouts can be tested without slow shutdowns.
When the queue is empty the server answers HTTP 500 with "script exhausted" and
counts it in :attr:`ScriptedModelServer.unscripted`.

**What it saw.** Every request is recorded (method, path, headers, parsed JSON
body) in :attr:`ScriptedModelServer.requests`, so tests can assert on prompts,
tools and retries.

Usage::

    with run_model_server() as server:
        server.enqueue(Structured({"decision": "deny"}))
        client = OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "scripted-model"
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_MODEL = "scripted-model"
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Structured:
    """The structured output ``data``, as a tool call or JSON content (whichever was asked for)."""

    data: Mapping[str, Any]
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class ToolCall:
    """One tool call; ``arguments`` as a dict (sent as JSON) or a raw string (sent as is)."""

    name: str
    arguments: Mapping[str, Any] | str


@dataclass(frozen=True)
class ToolCalls:
    """The assistant calls these tools, optionally after some text."""

    calls: Sequence[ToolCall]
    text: str | None = None
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Text:
    """Plain assistant text with no tool call."""

    text: str
    finish_reason: str = "stop"
    chunk_chars: int = 16
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Refusal:
    """An OpenAI refusal: ``message.refusal`` set, no content, no tool call."""

    text: str
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with an OpenAI-shaped error body."""

    status: int
    message: str = "scripted failure"
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Raw:
    """Exactly this body, e.g. malformed JSON."""

    body: str
    status: int = 200
    content_type: str = "application/json"
    delay_seconds: float = 0.0


Reply = Structured | ToolCalls | Text | Refusal | HttpError | Raw


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def messages(self) -> list[JsonObject]:
        """The chat messages of a chat-completions request."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def texts(self, role: str) -> list[str]:
        """The text of every message with ``role``, content parts joined."""
        return [_content_text(m.get("content")) for m in self.messages if m.get("role") == role]


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


@dataclass
class ScriptedModelServer:
    """The script, the record of requests, and (once running) the base URL."""

    models: tuple[str, ...] = (DEFAULT_MODEL,)
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    unscripted: int = 0
    most_in_flight: int = 0  # the most chat requests being answered at one time
    _in_flight: int = 0
    _replies: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _closing: threading.Event = field(default_factory=threading.Event)

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the script, answered in order."""
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        """Forget the script and the recorded requests (between tests sharing one server)."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.unscripted = 0
            self.most_in_flight = 0

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat-completions requests, in order."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def app(self) -> Starlette:
        """The ASGI app serving this script."""
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        self._record(request, None)
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _chat_completions(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            self._record(request, raw.decode(errors="replace"))
            return _error(400, "the request body is not JSON")
        self._record(request, body)
        reply = self._next_reply()
        if reply is None:
            return _error(500, "script exhausted: no reply was enqueued for this request")
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if not await self._wait(request, reply.delay_seconds):
                return Response(status_code=499)  # the client is gone; nobody reads this
        finally:
            with self._lock:
                self._in_flight -= 1
        return self._answer(reply, body)

    def _record(self, request: Request, body: Any) -> None:
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers), body)
        with self._lock:
            self.requests.append(recorded)

    def _next_reply(self) -> Reply | None:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
            self.unscripted += 1
            return None

    async def _wait(self, request: Request, seconds: float) -> bool:
        """Sleep ``seconds``; False as soon as the client disconnects or the server closes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._closing.is_set() or await request.is_disconnected():
                return False
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return True

    def _answer(self, reply: Reply, body: JsonObject) -> Response:
        if isinstance(reply, HttpError):
            return _error(reply.status, reply.message)
        if isinstance(reply, Raw):
            return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
        turn = _turn_for(reply, body)
        completion_id = f"chatcmpl-{next(self._ids)}"
        model = str(body.get("model", DEFAULT_MODEL))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _chunks(turn, completion_id=completion_id, model=model, usage=include_usage)
            return StreamingResponse(_sse(chunks), media_type="text/event-stream")
        return JSONResponse(_completion(turn, completion_id=completion_id, model=model))


def _error(status: int, message: str) -> JSONResponse:
    error = {"message": message, "type": "scripted_error", "param": None, "code": str(status)}
    return JSONResponse({"error": error}, status_code=status)


@dataclass(frozen=True)
class _Turn:
    """One assistant turn, independent of how it is delivered."""

    content: str | None = None
    refusal: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    chunk_chars: int = 16


def _turn_for(reply: Structured | ToolCalls | Text | Refusal, body: JsonObject) -> _Turn:
    if isinstance(reply, Text):
        return _Turn(reply.text, finish_reason=reply.finish_reason, chunk_chars=reply.chunk_chars)
    if isinstance(reply, Refusal):
        return _Turn(refusal=reply.text)
    if isinstance(reply, ToolCalls):
        return _Turn(reply.text, tool_calls=tuple(reply.calls), finish_reason="tool_calls")
    response_format = body.get("response_format") or {}
    tool = _output_tool(body.get("tools") or [])
    if response_format.get("type") in ("json_schema", "json_object") or tool is None:
        return _Turn(json.dumps(reply.data))
    return _Turn(tool_calls=(ToolCall(tool, reply.data),), finish_reason="tool_calls")


def _output_tool(tools: list[JsonObject]) -> str | None:
    names = [str(t.get("function", {}).get("name", "")) for t in tools]
    output = [n for n in names if n.startswith("final_result")]
    if len(output) == 1:
        return output[0]
    return names[0] if len(names) == 1 else None


def _arguments(call: ToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _usage() -> JsonObject:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _completion(turn: _Turn, *, completion_id: str, model: str) -> JsonObject:
    message: JsonObject = {"role": "assistant", "content": turn.content, "refusal": turn.refusal}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{completion_id}_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call)},
            }
            for i, call in enumerate(turn.tool_calls)
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": turn.finish_reason}],
        "usage": _usage(),
    }


def _chunks(turn: _Turn, *, completion_id: str, model: str, usage: bool) -> list[JsonObject]:
    def chunk(delta: JsonObject, finish_reason: str | None = None) -> JsonObject:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    size = max(1, turn.chunk_chars)
    chunks = [chunk({"role": "assistant", "content": ""})]
    text = turn.content or ""
    chunks += [chunk({"content": text[i : i + size]}) for i in range(0, len(text), size)]
    if turn.refusal:
        chunks.append(chunk({"refusal": turn.refusal}))
    for index, call in enumerate(turn.tool_calls):
        head = {"index": index, "id": f"call_{completion_id}_{index}", "type": "function"}
        chunks.append(chunk({"tool_calls": [{**head, "function": {"name": call.name}}]}))
        arguments = _arguments(call)
        chunks += [
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "function": {"arguments": arguments[i : i + size]}}
                    ]
                }
            )
            for i in range(0, len(arguments), size)
        ]
    chunks.append(chunk({}, turn.finish_reason))
    if usage:
        chunks.append({**chunk({}), "choices": [], "usage": _usage()})
    return chunks


async def _sse(chunks: list[JsonObject]) -> AsyncIterator[str]:
    for item in chunks:
        yield f"data: {json.dumps(item)}\n\n"
    yield "data: [DONE]\n\n"


@contextmanager
def run_model_server(
    models: tuple[str, ...] = (DEFAULT_MODEL,), *, startup_timeout: float = 10.0
) -> Iterator[ScriptedModelServer]:
    """Serve a fresh script on 127.0.0.1 (a free port) in a thread; stop it on exit."""
    script = ScriptedModelServer(models=models)
    config = uvicorn.Config(
        script.app(),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        loop="asyncio",
        http="h11",
        ws="none",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="scripted-model-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(startup_timeout)
            raise RuntimeError("the scripted model server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    script.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield script
    finally:
        script._closing.set()
        server.should_exit = True
        thread.join(startup_timeout)
