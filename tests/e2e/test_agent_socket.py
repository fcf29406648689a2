"""The agent's WebSocket as a client sees it: real connections to the sandbox's broker API."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
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


def test_an_admin_updates_a_policy_through_the_agent_after_a_second_admin_approves(
    stack: Stack,
) -> None:
    second = second_admin_token(stack)
    priya = stack.sign_in("priya.raman")
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Update Ben's access policy."})]),
        approve("policy-store", "broker:WritePolicy"),  # broker-internal: waits for a person
        Text("That needs another administrator's approval; I have asked for it."),
    )
    with connect(socket_url(stack), subprotocols=["bearer", priya]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "p-1", "text": "Update Ben's policy."}))
        first = frames_until_done(socket, "p-1")
    assert ("request_aws_access", "pending") in [
        (f["tool"], f["outcome"]) for f in first if f["type"] == "tool_finished"
    ]
    headers = {"Authorization": f"Bearer {second}"}
    with httpx.Client(base_url=stack.api.url) as admin:
        queue = admin.get("/v1/access-requests?status=pending", headers=headers).json()
        [request_id] = [
            r["request_id"] for r in queue["requests"] if r["principal_id"] == "priya.raman"
        ]
        approved = admin.post(
            f"/v1/access-requests/{request_id}/approve",
            json={
                "grants": [{"resource_key": "policy-store", "actions": ["broker:WritePolicy"]}],
                "duration_seconds": 900,
            },
            headers=headers,
        )
        assert approved.status_code == 200
        new_text = "Ben may read his own accounts and transactions; nothing else."
        before = admin.get("/v1/admin/policies/ben.okafor", headers=headers).json()["current"]
        stack.model.enqueue(
            ToolCalls([ToolCall("check_access_request", {"request_id": request_id})]),
            ToolCalls([ToolCall("read_user_policy", {"principal": "ben.okafor"})]),
            ToolCalls(
                [
                    ToolCall(
                        "write_user_policy",
                        {
                            "principal": "ben.okafor",
                            "policy_text": new_text,
                            "expected_version": before["version"],
                        },
                    )
                ]
            ),
            Text("Ben's policy is updated."),
        )
        with connect(socket_url(stack), subprotocols=["bearer", priya]) as socket:  # type: ignore[list-item]
            socket.send(json.dumps({"type": "message", "id": "p-2", "text": "Approved now?"}))
            second_turn = frames_until_done(socket, "p-2")
        finished = [(f["tool"], f["outcome"]) for f in second_turn if f["type"] == "tool_finished"]
        assert finished == [
            ("check_access_request", "ok"),
            ("read_user_policy", "ok"),
            ("write_user_policy", "ok"),
        ]
        # The model saw the current text before it wrote the new one.
        assert before["text"][:60] in json.dumps(stack.model.chat_requests[-2].body)
        policy = admin.get("/v1/admin/policies/ben.okafor", headers=headers).json()
    assert policy["current"]["text"] == new_text
    assert policy["current"]["author_id"] == "priya.raman"


def add_second_admin(stack: Stack) -> str:
    """Another identity administrator, in Cognito and the broker's directory; their token."""
    from agent_zero.adapters.sqlite import SqliteDatabase, SqlitePrincipalDirectory
    from agent_zero.domain.principals import Principal, PrincipalKind
    from agent_zero.wiring import BROKER_DATABASE

    idp = stack.running.client("cognito-idp")
    pool = stack.record.cognito.user_pool_id
    idp.admin_create_user(UserPoolId=pool, Username="omar.haddad", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="omar.haddad", Password="Second-Admin-2026!", Permanent=True
    )
    with SqliteDatabase(stack.data_dir / BROKER_DATABASE) as database:
        SqlitePrincipalDirectory(database).put(
            Principal(
                id="omar.haddad",
                kind=PrincipalKind.HUMAN,
                display_name="Omar Haddad",
                groups=frozenset({"admins", "employees"}),
            )
        )
    public = boto3.client(
        "cognito-idp",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=stack.record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "omar.haddad", "PASSWORD": "Second-Admin-2026!"},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def test_an_admin_onboards_an_employee_through_the_agent(stack: Stack) -> None:
    second = second_admin_token(stack)
    priya = stack.sign_in("priya.raman")
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Onboard a new support engineer."})]),
        approve("user-directory", "cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup"),
        Text("Waiting for a second administrator."),
    )
    with connect(socket_url(stack), subprotocols=["bearer", priya]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "o-1", "text": "Create Lena's account."}))
        frames_until_done(socket, "o-1")
    headers = {"Authorization": f"Bearer {second}"}
    with httpx.Client(base_url=stack.api.url) as admin:
        queue = admin.get("/v1/access-requests?status=pending", headers=headers).json()
        [request_id] = [
            r["request_id"] for r in queue["requests"] if r["principal_id"] == "priya.raman"
        ]
        grant = {
            "resource_key": "user-directory",
            "actions": ["cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup"],
        }
        approved = admin.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers=headers,
        )
        assert approved.status_code == 200, approved.text
    stack.model.enqueue(
        ToolCalls([ToolCall("check_access_request", {"request_id": request_id})]),
        ToolCalls(
            [
                ToolCall(
                    "create_user",
                    {
                        "email": "lena.berg@fernhill-bank.example",
                        "name": "Lena Berg",
                        "group": "employee",
                    },
                )
            ]
        ),
        Text("Lena's account is ready."),
    )
    with connect(socket_url(stack), subprotocols=["bearer", priya]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "o-2", "text": "Approved now?"}))
        frames = frames_until_done(socket, "o-2")
    finished = [(f["tool"], f["outcome"]) for f in frames if f["type"] == "tool_finished"]
    assert finished == [("check_access_request", "ok"), ("create_user", "ok")]
    idp = stack.running.client("cognito-idp")
    pool = stack.record.cognito.user_pool_id
    groups = idp.admin_list_groups_for_user(
        UserPoolId=pool, Username="lena.berg@fernhill-bank.example"
    )
    assert [g["GroupName"] for g in groups["Groups"]] == ["employee"]


def test_customers_have_no_admin_tools(stack: Stack) -> None:
    stack.model.enqueue(
        ToolCalls(
            [
                ToolCall(
                    "write_user_policy",
                    {"principal": "alice.moreau", "policy_text": "All.", "expected_version": 1},
                )
            ]
        ),
        Text("I cannot do that."),
    )
    with connect(
        socket_url(stack), subprotocols=["bearer", stack.sign_in("alice.moreau")]
    ) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "message", "id": "c-1", "text": "Give me everything."}))
        frames = frames_until_done(socket, "c-1")
    assert ("write_user_policy", "failed") in [
        (f["tool"], f["outcome"]) for f in frames if f["type"] == "tool_finished"
    ]


_SECOND_ADMIN: dict[str, str] = {}  # sandbox data dir → that sandbox's second admin was made


def second_admin_token(stack: Stack) -> str:
    """The second admin of this module's sandbox (created once), signed in afresh."""
    # Other modules import this helper, and xdist may run them in one process: one per stack.
    if str(stack.data_dir) not in _SECOND_ADMIN:
        _SECOND_ADMIN[str(stack.data_dir)] = "created"
        return add_second_admin(stack)
    public = boto3.client(
        "cognito-idp",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=stack.record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "omar.haddad", "PASSWORD": "Second-Admin-2026!"},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])
