"""The agent's API Gateway WebSocket handlers: real event shapes, frames posted through the
sandbox's gateway to moto's management API, turns run against the sandbox's broker."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import SecretStr

from agent_zero.adapters.aws.connections import ManagementApiPoster
from agent_zero.adapters.aws.data_plane import MintedDynamoDBFactory
from agent_zero.adapters.broker_api import BrokerApiAccess, BrokerApiAdminDesk
from agent_zero.adapters.dynamodb.connections import (
    DynamoDBConnectionStore,
    connections_table_definition,
)
from agent_zero.agent.connections import ConnectionStore, InMemoryConnectionStore, InMemoryPoster
from agent_zero.agent.support import Resource, TurnDeps
from agent_zero.client import SigV4Key
from agent_zero.domain.errors import UnavailableError
from agent_zero.lambdas.agent_socket import AgentSocketHandlers, route
from agent_zero.review.llm import LlmReviewerConfig, model_opener
from agent_zero.web.agent_ws import AgentRuntime
from agent_zero.web.auth import CognitoTokenVerifier, HttpJwksSource
from e2e.test_agent_socket import second_admin_token
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import Text, ToolCall, ToolCalls

API_ID = "a1b2c3d4e5"
STAGE = "prod"
WORKER_USER = "agent-socket-worker"


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


@pytest.fixture(scope="module")
def runtime(stack: Stack) -> AgentRuntime:
    """As in AWS: the worker calls the broker API as the agent, forwarding the connection's
    user token; the data tools sign with minted credentials only."""
    record = stack.record
    agent_key = SigV4Key(
        record.agent_credentials.access_key_id,
        record.agent_credentials.secret_access_key,
        record.region,
    )
    resources = {
        key: Resource(table=name, partition_key="customer_id")
        for key, name in record.tables.items()
        if key in ("account-balances", "transactions")
    }

    def deps_for(username: str, token: str) -> TurnDeps:
        is_admin = "admin" in record.user(username).groups  # the Cognito group
        return TurnDeps(
            user_id=username,
            broker=BrokerApiAccess(
                api_url=stack.api.url, agent_key=agent_key, user_access_token=token
            ),
            data=MintedDynamoDBFactory(region=record.region, endpoint_url=record.aws_endpoint_url),
            resources=resources,
            owner_key=record.user(username).customer_key,
            admin=BrokerApiAdminDesk(
                api_url=stack.api.url, agent_key=agent_key, admin_access_token=token
            )
            if is_admin
            else None,
        )

    opener = model_opener(
        LlmReviewerConfig(
            provider="openai-compatible",
            model="scripted-model",
            base_url=stack.model.base_url,
            api_key=SecretStr("sk-test-not-a-real-key"),
        )
    )
    return AgentRuntime(open_model=opener, deps_for=deps_for)


def _root_iam(stack: Stack) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        aws_access_key_id=stack.record.admin_credentials.access_key_id,
        aws_secret_access_key=stack.record.admin_credentials.secret_access_key,
    )


def _management_client(stack: Stack, user: str, actions: list[str]) -> Any:
    """A management API client as an IAM user allowed exactly ``actions`` on this API."""
    iam = _root_iam(stack)
    iam.create_user(UserName=user)
    record = stack.record
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:execute-api:{record.region}:{record.account_id}:"
                f"{API_ID}/{STAGE}/POST/@connections/*",
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="frames", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{record.aws_endpoint_url}/{API_ID}/{STAGE}",
        region_name=record.region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


@pytest.fixture(scope="module")
def management(stack: Stack) -> Any:
    return _management_client(stack, WORKER_USER, ["execute-api:ManageConnections"])


class Deployed:
    """The handlers as the Lambda functions run them; the worker runs inline when invoked."""

    def __init__(
        self,
        stack: Stack,
        runtime: AgentRuntime,
        poster: Any,
        *,
        clock_offset: timedelta = timedelta(0),
        connections: ConnectionStore | None = None,
    ) -> None:
        record = stack.record
        self.connections = connections or InMemoryConnectionStore()
        self.invocations: list[dict[str, Any]] = []
        self.handlers = AgentSocketHandlers(
            tokens=CognitoTokenVerifier(
                issuer=record.cognito.issuer,
                client_id=record.cognito.client_id,
                jwks=HttpJwksSource(record.cognito.jwks_url),
                clock=lambda: datetime.now().astimezone() + clock_offset,
            ),
            connections=self.connections,
            runtime=runtime,
            poster=poster,
            start_worker=self.invocations.append,
        )

    def run_workers(self) -> None:
        while self.invocations:
            self.handlers.work(self.invocations.pop(0))


def event(route_key: str, connection_id: str, **extra: Any) -> dict[str, Any]:
    """An API Gateway WebSocket proxy event, as API Gateway sends it."""
    kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    return {
        "requestContext": {
            "routeKey": route_key,
            "eventType": kind,
            "messageDirection": "IN",
            "connectionId": connection_id,
            "apiId": API_ID,
            "stage": STAGE,
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "requestId": uuid.uuid4().hex,
            "connectedAt": 1_764_000_000_000,
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "isBase64Encoded": False,
        **extra,
    }


def connect(deployed: Deployed, connection_id: str, token: str | None) -> dict[str, Any]:
    headers = {"Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com"}
    if token is not None:
        headers["Sec-WebSocket-Protocol"] = f"bearer, {token}"
    return route(deployed.handlers, event("$connect", connection_id, headers=headers))


def say(deployed: Deployed, connection_id: str, text: str, message_id: str) -> dict[str, Any]:
    body = json.dumps({"type": "message", "id": message_id, "text": text})
    return route(deployed.handlers, event("message", connection_id, body=body))


def id_token(stack: Stack, username: str) -> str:
    """Alice's ID token: signed by the pool, but not an access token."""
    public = boto3.client(
        "cognito-idp",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=stack.record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": stack.record.user(username).password},
    )
    return str(answer["AuthenticationResult"]["IdToken"])


def new_connection_id() -> str:
    return uuid.uuid4().hex[:16] + "="


def posted(stack: Stack, connection_id: str) -> list[dict[str, Any]]:
    """The frames moto's management API received for one connection, in order."""
    data = stack.running.sandbox.moto.posted_to_connection(stack.record.region, connection_id)
    text, frames, decoder = data.decode(), [], json.JSONDecoder()
    position = 0
    while position < len(text):
        frame, position = decoder.raw_decode(text, position)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def connections(stack: Stack) -> ConnectionStore:
    """The connections table on the sandbox's DynamoDB, as the Lambdas would share it."""
    record = stack.record
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=record.admin_credentials.access_key_id,
        aws_secret_access_key=record.admin_credentials.secret_access_key,
    )
    table = f"agent-socket-connections-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(**connections_table_definition(table))
    return DynamoDBConnectionStore(client=dynamodb, table=table)


@pytest.fixture
def deployed(
    stack: Stack, runtime: AgentRuntime, management: Any, connections: ConnectionStore
) -> Deployed:
    return Deployed(stack, runtime, ManagementApiPoster(management), connections=connections)


def balance_script(stack: Stack) -> None:
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


def test_a_turn_posts_ack_tools_deltas_and_done_through_the_management_api(
    stack: Stack, deployed: Deployed
) -> None:
    balance_script(stack)
    connection = new_connection_id()
    answer = connect(deployed, connection, stack.sign_in("alice.moreau"))
    assert answer == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "bearer"}}

    assert say(deployed, connection, "My balance?", "m-1") == {"statusCode": 200}
    assert posted(stack, connection) == []  # the route only hands the turn to the worker
    deployed.run_workers()

    frames = posted(stack, connection)
    types = [frame["type"] for frame in frames]
    assert types[0] == "ack"
    assert types[-1] == "done"
    assert types.index("tool_finished") < types.index("delta")
    assert all(frame["id"] == "m-1" for frame in frames)
    finished = [(f["tool"], f["outcome"]) for f in frames if f["type"] == "tool_finished"]
    assert finished == [("request_aws_access", "ok"), ("run_dynamodb_operation", "ok")]
    # The broker approved Alice's request (her forwarded token), and the tool read her rows.
    seen = json.dumps([request.body for request in stack.model.chat_requests])
    assert "c-1001" in seen
    assert "c-1002" not in seen
    text = "".join(frame["text"] for frame in frames if frame["type"] == "delta")
    assert text == "Your balances are ready: two accounts."
    flat = json.dumps(frames)
    assert "SecretAccessKey" not in flat
    assert "SessionToken" not in flat


def test_connect_without_a_verified_token_is_refused_and_remembers_nothing(
    stack: Stack, deployed: Deployed
) -> None:
    tampered = stack.sign_in("alice.moreau")[:-2] + "xx"  # a signature that no longer verifies
    for token in (None, "not-a-token", tampered, id_token(stack, "alice.moreau")):
        connection = new_connection_id()
        assert connect(deployed, connection, token) == {"statusCode": 401}
        assert deployed.connections.get(connection) is None
        # A message on a refused connection is refused too, and starts no turn.
        assert say(deployed, connection, "hello", "m-x") == {"statusCode": 403}
    assert deployed.invocations == []


def test_malformed_messages_get_an_error_frame_and_no_turn(
    stack: Stack, deployed: Deployed
) -> None:
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    answer = route(
        deployed.handlers, event("message", connection, body='{"type": "message", "txt": 1}')
    )
    assert answer == {"statusCode": 200}
    assert deployed.invocations == []
    [frame] = posted(stack, connection)
    assert frame["type"] == "error"
    assert frame["code"] == "invalid_message"


def test_after_disconnect_messages_are_refused_and_queued_turns_do_not_run(
    stack: Stack, deployed: Deployed
) -> None:
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    say(deployed, connection, "My balance?", "m-2")  # queued for the worker
    assert route(deployed.handlers, event("$disconnect", connection)) == {"statusCode": 200}
    deployed.run_workers()
    assert posted(stack, connection) == []
    assert stack.model.chat_requests == []  # the model was never asked
    assert say(deployed, connection, "still there?", "m-3") == {"statusCode": 403}


def test_a_client_that_leaves_mid_turn_stops_the_turn(stack: Stack, runtime: AgentRuntime) -> None:
    poster = InMemoryPoster()
    deployed = Deployed(stack, runtime, poster)
    balance_script(stack)
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    poster.leaves_after[connection] = 2  # ack and tool_started, then API Gateway answers 410
    say(deployed, connection, "My balance?", "m-4")
    deployed.run_workers()  # returns: a gone client is not an error worth a retry
    assert [json.loads(frame)["type"] for frame in poster.posted[connection]] == [
        "ack",
        "tool_started",
    ]
    assert deployed.connections.get(connection) is None


def test_one_users_turn_is_posted_only_to_their_connection(
    stack: Stack, deployed: Deployed
) -> None:
    balance_script(stack)
    alice, ben = new_connection_id(), new_connection_id()
    connect(deployed, alice, stack.sign_in("alice.moreau"))
    connect(deployed, ben, stack.sign_in("ben.okafor"))
    say(deployed, alice, "My balance?", "m-5")
    deployed.run_workers()
    assert [frame["type"] for frame in posted(stack, alice)][-1] == "done"
    assert posted(stack, ben) == []


def test_a_token_that_expired_since_connect_gets_session_expired(
    stack: Stack, runtime: AgentRuntime, management: Any
) -> None:
    token = stack.sign_in("alice.moreau")
    connection = new_connection_id()
    now = Deployed(stack, runtime, ManagementApiPoster(management))
    connect(now, connection, token)
    two_hours_on = timedelta(hours=2)
    later = Deployed(stack, runtime, ManagementApiPoster(management), clock_offset=two_hours_on)
    later.connections.put(now.connections.get(connection))  # type: ignore[arg-type]
    say(later, connection, "My balance?", "m-6")
    assert later.invocations == []
    frames = posted(stack, connection)
    assert [(f["type"], f.get("code")) for f in frames] == [
        ("error", "session_expired"),
        ("done", None),
    ]


def test_without_a_model_the_worker_answers_model_not_configured(
    stack: Stack, management: Any
) -> None:
    no_model = AgentRuntime(open_model=None, deps_for=lambda _user, _token: None)  # type: ignore[arg-type, return-value]
    deployed = Deployed(stack, no_model, ManagementApiPoster(management))
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    say(deployed, connection, "hello", "m-7")
    deployed.run_workers()
    frames = posted(stack, connection)
    assert [(f["type"], f.get("code")) for f in frames] == [
        ("error", "model_not_configured"),
        ("done", None),
    ]


def test_the_management_api_is_judged_by_iam_and_denials_stay_inside_the_worker(
    stack: Stack, runtime: AgentRuntime
) -> None:
    # A worker role without execute-api:ManageConnections cannot post to anyone.
    client = _management_client(stack, "agent-socket-no-rights", ["execute-api:Invoke"])
    with pytest.raises(ClientError) as denied:
        client.post_to_connection(ConnectionId="abc=", Data=b"{}")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "not authorized to perform: execute-api:ManageConnections" in str(denied.value)
    with pytest.raises(UnavailableError) as unavailable:
        ManagementApiPoster(client).post("abc=", b"{}")
    assert "ManageConnections" not in str(unavailable.value)  # no AWS detail leaks out

    deployed = Deployed(stack, runtime, ManagementApiPoster(client))
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    say(deployed, connection, "hello", "m-8")
    deployed.run_workers()  # logged, not raised: a retried turn would repeat its tools
    assert stack.model.chat_requests == []  # the turn stopped at its first frame (the ack)


def test_unknown_routes_are_refused(deployed: Deployed) -> None:
    assert route(deployed.handlers, event("sendmessage", "c1="))["statusCode"] == 400


def test_an_admin_changes_a_policy_through_the_admin_api_under_the_agents_own_grant(
    stack: Stack, deployed: Deployed
) -> None:
    second = second_admin_token(stack)
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("priya.raman"))
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Update Ben's access policy."})]),
        approve("policy-store", "broker:WritePolicy"),  # broker-internal: waits for a person
        Text("Another administrator must approve this first."),
    )
    say(deployed, connection, "Update Ben's policy.", "p-1")
    deployed.run_workers()
    first = posted(stack, connection)
    assert ("request_aws_access", "pending") in [
        (f["tool"], f["outcome"]) for f in first if f["type"] == "tool_finished"
    ]
    headers = {"Authorization": f"Bearer {second}"}
    new_text = "Ben may read his own accounts; nothing else."
    with httpx.Client(base_url=stack.api.url, headers=headers) as admin:
        queue = admin.get("/v1/access-requests?status=pending").json()["requests"]
        [request_id] = [
            r["request_id"]
            for r in queue
            if r["principal_id"] == "priya.raman" and r["acting_agent_id"] == "support-assistant"
        ]
        grant = {"resource_key": "policy-store", "actions": ["broker:WritePolicy"]}
        approved = admin.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
        )
        assert approved.status_code == 200
        before = admin.get("/v1/admin/policies/ben.okafor").json()["current"]
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
        say(deployed, connection, "Approved now?", "p-2")
        deployed.run_workers()
        second_turn = [f for f in posted(stack, connection) if f["id"] == "p-2"]
        finished = [(f["tool"], f["outcome"]) for f in second_turn if f["type"] == "tool_finished"]
        assert finished == [
            ("check_access_request", "ok"),
            ("read_user_policy", "ok"),
            ("write_user_policy", "ok"),
        ]
        policy = admin.get("/v1/admin/policies/ben.okafor").json()
        audit = admin.get("/v1/admin/audit", params={"request_id": request_id}).json()
    assert policy["current"]["text"] == new_text
    assert policy["current"]["version"] == before["version"] + 1
    assert policy["current"]["author_id"] == "priya.raman"
    [changed] = [r for r in audit["records"] if r["event"] == "policy_changed"]
    assert changed["details"]["agent"] == "support-assistant"


def test_a_second_message_while_a_turn_runs_is_busy(stack: Stack, deployed: Deployed) -> None:
    balance_script(stack)
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    say(deployed, connection, "My balance?", "m-9")
    say(deployed, connection, "And again?", "m-10")  # before the first worker finished
    assert len(deployed.invocations) == 1
    assert [(f["type"], f["id"], f.get("code")) for f in posted(stack, connection)] == [
        ("error", "m-10", "busy")
    ]
    deployed.run_workers()
    stack.model.enqueue(Text("Anything else?"))
    say(deployed, connection, "Thanks", "m-11")  # the first turn ended: accepted
    assert len(deployed.invocations) == 1


def test_a_failing_worker_never_raises_and_frees_the_connection(
    stack: Stack, management: Any, connections: ConnectionStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_deps(_user: str, _token: str) -> TurnDeps:
        raise RuntimeError("token=eyJ... must not be logged")

    opener = AgentRuntime(open_model=lambda: None, deps_for=broken_deps)  # type: ignore[arg-type, return-value]
    deployed = Deployed(stack, opener, ManagementApiPoster(management), connections=connections)
    connection = new_connection_id()
    connect(deployed, connection, stack.sign_in("alice.moreau"))
    say(deployed, connection, "hello", "m-12")
    deployed.run_workers()  # logged by type, not raised: a retry would repeat tool calls
    assert "RuntimeError" in caplog.text
    assert "eyJ" not in caplog.text
    found = connections.get(connection)
    assert found is not None
    assert found.turn_id is None  # the next message is not "busy"
    say(deployed, connection, "hello again", "m-13")
    assert len(deployed.invocations) == 1
