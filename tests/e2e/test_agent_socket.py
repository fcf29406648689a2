"""The agent's WebSocket as a client sees it: real connections to the sandbox's broker API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import Text, ToolCall, ToolCalls


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


def socket_url(stack: Stack) -> str:
    return stack.api.url.replace("http://", "ws://") + "/v1/agent/ws"


def frames_until_done(socket: Any, message_id: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(socket.recv(timeout=20))
        frames.append(frame)
        if frame["type"] == "done" and frame["id"] == message_id:
            return frames


def test_a_turn_streams_ack_tools_deltas_and_done_in_order(stack: Stack) -> None:
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "The customer asks for balances."})]),
        approve("account-balances", "dynamodb:Query"),
        ToolCalls(
            [
                ToolCall(
                    "run_dynamodb_operation", {"resource": "account-balances", "operation": "query"}
                )
            ]
        ),
        Text("Your balances are ready: two accounts."),
    )
    token = stack.sign_in("alice.moreau")
    with connect(socket_url(stack), subprotocols=["bearer", token]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "m-1", "text": "My balance?"}))
        frames = frames_until_done(socket, "m-1")
    types = [f["type"] for f in frames]
    assert types[0] == "ack"
    assert types[-1] == "done"
    first_delta = types.index("delta")
    assert types.index("tool_finished") < first_delta  # tools ran before the answer streamed
    assert (
        "".join(f["text"] for f in frames if f["type"] == "delta")
        == "Your balances are ready: two accounts."
    )
    assert "secret" not in json.dumps(frames).lower()


def test_bad_tokens_never_open_a_socket(stack: Stack) -> None:
    for protocols in (["bearer", "not-a-token"], None):
        with (
            pytest.raises(InvalidStatus),
            connect(socket_url(stack), subprotocols=protocols),  # type: ignore[arg-type]
        ):
            pass


def test_malformed_messages_get_an_error_frame(stack: Stack) -> None:
    token = stack.sign_in("alice.moreau")
    with connect(socket_url(stack), subprotocols=["bearer", token]) as socket:  # type: ignore[list-item]
        socket.send("not json")
        frame = json.loads(socket.recv(timeout=10))
    assert frame["type"] == "error"
    assert frame["code"] == "invalid_message"


def test_a_disconnect_cancels_the_turn_in_flight(stack: Stack) -> None:
    # The model takes two seconds to ask for access; the client leaves at once. Had the
    # turn gone on, the tool would have asked the broker and its reviewer would have
    # used the second scripted reply.
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Balances."})], delay_seconds=2),
        approve("account-balances", "dynamodb:Query"),
    )
    token = stack.sign_in("alice.moreau")
    with connect(socket_url(stack), subprotocols=["bearer", token]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "m-2", "text": "My balance?"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "ack"
    time.sleep(3.5)
    # Cancelled before or during the model's slow answer: either way the reviewer's
    # reply was never asked for, so no access was requested for a departed client.
    assert stack.model.pending in (1, 2)


def test_another_users_connection_sees_none_of_the_first_users_turn(stack: Stack) -> None:
    stack.model.enqueue(Text("Only for Alice."), Text("Only for Ben."))
    alice_token, ben_token = stack.sign_in("alice.moreau"), stack.sign_in("ben.okafor")
    with (
        connect(socket_url(stack), subprotocols=["bearer", alice_token]) as alice,  # type: ignore[list-item]
        connect(socket_url(stack), subprotocols=["bearer", ben_token]) as ben,  # type: ignore[list-item]
    ):
        alice.send(json.dumps({"type": "message", "id": "a-1", "text": "Hi"}))
        alice_frames = frames_until_done(alice, "a-1")
        ben.send(json.dumps({"type": "message", "id": "b-1", "text": "Hi"}))
        ben_frames = frames_until_done(ben, "b-1")
    assert {f["id"] for f in alice_frames} == {"a-1"}
    assert {f["id"] for f in ben_frames} == {"b-1"}
    assert "Only for Alice." not in json.dumps(ben_frames)
