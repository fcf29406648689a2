"""The Lambda entry points as the CDK stack deploys them, built from Settings alone and driven
with API Gateway's event shapes: the broker API (REST, IAM authorization), the web app (HTTP
API) and the agent's WebSocket functions. State lives in DynamoDB, sessions come from STS,
and every AWS call goes through the sandbox's IAM gateway as the function's own role."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from agent_zero.adapters.dynamodb import (
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBRequestStore,
    DynamoDBTables,
    create_tables,
)
from agent_zero.adapters.dynamodb.connections import connections_table_definition
from agent_zero.adapters.dynamodb.revoked_sessions import revoked_sessions_table_definition
from agent_zero.adapters.system import SystemClock
from agent_zero.client import BrokerClient, SigV4Key
from agent_zero.lambdas import agent_socket, broker_api, web
from agent_zero.sandbox.demo_bank import BROKER_ROLE_NAME, demo_bank
from agent_zero.settings import Settings
from agent_zero.wiring import StaticSecrets, broker_role_session, seed_directory
from e2e.test_agent_lambdas import API_ID, STAGE, balance_script, event, new_connection_id, posted
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.api_gateway import HttpApiTransport, RestApiIamTransport

ALICE, BEN = "alice.moreau", "ben.okafor"
AGENT_ROLE = "agent-zero-agent"
MODEL_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agent-zero/model-key"
SESSION_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agent-zero/web-key"
REST_URL = "https://rest123abc.execute-api.us-east-1.amazonaws.com"
WEB_URL = "https://http123abc.execute-api.us-east-1.amazonaws.com"
SOCKET_URL = f"wss://{API_ID}.execute-api.us-east-1.amazonaws.com/{STAGE}"


@pytest.fixture(scope="module", autouse=True)
def main_thread_loop() -> Iterator[asyncio.AbstractEventLoop]:
    # Mangum runs each request on the thread's event loop, which on Lambda lives as long as
    # the process; here it must be closed when the module is done.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack, main_thread_loop: asyncio.AbstractEventLoop) -> None:
    stack.model.reset()
    asyncio.set_event_loop(main_thread_loop)  # the worker's asyncio.run unsets it


@dataclass
class Deployment:
    settings: Settings
    secrets: StaticSecrets
    broker_session: boto3.Session  # the broker functions' role
    agent_session: boto3.Session  # the agent worker's identity
    tables: DynamoDBTables
    admin_dynamodb: Any

    @property
    def agent_caller_arn(self) -> str:
        account = self.settings.account_id
        return f"arn:aws:sts::{account}:assumed-role/{AGENT_ROLE}/agent-worker"


def _admin(stack: Stack, service: str) -> Any:
    record = stack.record
    return boto3.client(
        service,
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=record.admin_credentials.access_key_id,
        aws_secret_access_key=record.admin_credentials.secret_access_key,
    )


def _allow(actions: list[str], resources: list[str]) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def deployment(stack: Stack) -> Deployment:
    """What the stack creates, made in the sandbox: tables, the roles' grants, the secrets."""
    record = stack.record
    prefix = f"lambda-{uuid.uuid4().hex[:6]}-"
    tables = DynamoDBTables.with_prefix(prefix)
    dynamodb = _admin(stack, "dynamodb")
    create_tables(dynamodb, tables)
    revoked, connections = f"{prefix}revoked-sessions", f"{prefix}connections"
    dynamodb.create_table(**revoked_sessions_table_definition(revoked))
    dynamodb.create_table(**connections_table_definition(connections))
    arn = f"arn:aws:dynamodb:{record.region}:{record.account_id}:table/"
    broker_tables = [f"{arn}{name}" for name in (*dataclasses.astuple(tables), revoked)]
    iam = _admin(stack, "iam")
    # As the stack grants them: the broker role its tables, the agent its connections, the
    # sign-outs and the management API (and nothing that mints).
    iam.put_role_policy(
        RoleName=BROKER_ROLE_NAME,
        PolicyName="broker-tables",
        PolicyDocument=_allow(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:TransactWriteItems",
                "dynamodb:ConditionCheckItem",
            ],
            [*broker_tables, *(f"{t}/index/*" for t in broker_tables)],
        ),
    )
    agent_user = demo_bank().agent.iam_user_name
    iam.put_user_policy(
        UserName=agent_user,
        PolicyName="agent-worker",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                        ],
                        "Resource": f"{arn}{connections}",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "dynamodb:GetItem",  # the route function reads sign-outs
                        "Resource": f"{arn}{revoked}",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "execute-api:ManageConnections",
                        "Resource": f"arn:aws:execute-api:{record.region}:{record.account_id}:"
                        f"{API_ID}/{STAGE}/POST/@connections/*",
                    },
                ],
            }
        ),
    )
    bank = demo_bank(account_id=record.account_id, region=record.region)
    seed_directory(
        DynamoDBPrincipalDirectory(client=dynamodb, table=tables.principals),
        DynamoDBPolicyStore(client=dynamodb, table=tables.policies),
        bank,
        clock=SystemClock(),
    )
    settings = Settings(
        environment="aws",
        storage="dynamodb",
        region=record.region,
        account_id=record.account_id,
        aws_endpoint_url=record.aws_endpoint_url,
        table_prefix=prefix,
        revoked_sessions_table=revoked,
        connections_table=connections,
        cognito_user_pool_id=record.cognito.user_pool_id,
        cognito_client_id=record.cognito.client_id,
        cognito_endpoint_url=record.aws_endpoint_url,
        llm_provider="openai-compatible",
        llm_model="scripted-model",
        llm_base_url=stack.model.base_url,
        llm_api_key_secret_arn=MODEL_KEY_ARN,
        web_session_key_secret_arn=SESSION_KEY_ARN,
        web_secure_cookies=True,
        agent_role_arn=f"arn:aws:iam::{record.account_id}:role/agent-zero/{AGENT_ROLE}",
        broker_api_url=stack.api.url,
        websocket_management_url=f"{record.aws_endpoint_url}/{API_ID}/{STAGE}",
        agent_socket_url=SOCKET_URL,
        agent_worker_function="agent-zero-agent-worker",
        log_format="json",
    )
    secrets = StaticSecrets(
        {MODEL_KEY_ARN: "sk-test-not-a-real-key", SESSION_KEY_ARN: "k" * 8 + uuid.uuid4().hex}
    )
    agent = record.agent_credentials
    return Deployment(
        settings=settings,
        secrets=secrets,
        broker_session=broker_role_session(record),
        agent_session=boto3.Session(
            aws_access_key_id=agent.access_key_id,
            aws_secret_access_key=agent.secret_access_key,
            region_name=record.region,
        ),
        tables=tables,
        admin_dynamodb=dynamodb,
    )


@pytest.fixture(scope="module")
def broker_function(deployment: Deployment) -> broker_api.Handler:
    return broker_api.build_handler(
        deployment.settings, deployment.broker_session, secrets=deployment.secrets
    )


def agent_client(
    deployment: Deployment, handler: broker_api.Handler, user_token: str, *, caller: str = ""
) -> BrokerClient:
    """The agent worker calling the REST API: signed with its role session, API Gateway's
    verified caller being ``caller`` (the agent's role session unless given)."""
    transport = RestApiIamTransport(
        handler,
        caller_arn=caller or deployment.agent_caller_arn,
        account_id=str(deployment.settings.account_id),
    )
    key = SigV4Key("ASIAAGENTWORKERTEST1", "worker-secret", "us-east-1", "worker-session-token")
    return BrokerClient(
        REST_URL,
        sigv4=key,
        on_behalf_of=user_token,
        http=httpx.Client(transport=transport),
    )


def test_the_agent_asks_for_a_customer_through_the_iam_authorized_api(
    stack: Stack,
    deployment: Deployment,
    broker_function: broker_api.Handler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    reason = "The customer asks for the balances of her accounts."
    with (
        caplog.at_level(logging.INFO, logger="agent_zero"),
        agent_client(deployment, broker_function, stack.sign_in(ALICE)) as agent,
    ):
        answer = agent.request_access(reason)
    assert answer.status == "approved"
    assert answer.body["principal_id"] == ALICE
    assert answer.body["acting_agent_id"] == "support-assistant"
    # The credentials are STS's, scoped by IAM at the gateway to Alice's rows.
    dynamodb = stack.dynamodb(BrokerClient.session_from(answer, region="us-east-1"))
    table = stack.record.tables["account-balances"]

    def rows(customer: str) -> Any:
        return dynamodb.query(
            TableName=table,
            KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": {"S": customer}},
        )["Items"]

    assert rows("c-1001")
    with pytest.raises(ClientError, match="AccessDenied"):
        rows("c-1002")
    # Recorded in the stack's DynamoDB tables, and logged as one decision without the reason.
    stored = DynamoDBRequestStore(
        client=deployment.admin_dynamodb, table=deployment.tables.requests
    ).get(answer.request_id)
    assert stored is not None
    assert stored.request.acting_agent_id == "support-assistant"
    decisions = [r for r in caplog.records if getattr(r, "event", None) == "access_decision"]
    assert [(r.outcome, r.request_id) for r in decisions] == [("approved", answer.request_id)]  # type: ignore[attr-defined]
    assert reason not in caplog.text


def test_only_sessions_of_the_agents_role_are_served(
    stack: Stack, deployment: Deployment, broker_function: broker_api.Handler
) -> None:
    account = deployment.settings.account_id
    others = [
        f"arn:aws:sts::{account}:assumed-role/agent-zero-broker/someone",  # another role
        f"arn:aws:iam::{account}:user/{AGENT_ROLE}",  # a user named like the role
        f"arn:aws:sts::999999999999:assumed-role/{AGENT_ROLE}/x",  # the role's name elsewhere
        "",  # no verified caller at all
    ]
    token = stack.sign_in(ALICE)
    for caller in others:
        transport = RestApiIamTransport(broker_function, caller_arn=caller, account_id=str(account))
        with httpx.Client(transport=transport, base_url=REST_URL) as http:
            # A client's own copy of the trusted header changes nothing.
            answer = http.post(
                "/v1/access-requests",
                json={"reason": "Balances."},
                headers={
                    "Authorization": "AWS4-HMAC-SHA256 Credential=ASIAX/20261126/us-east-1/"
                    "execute-api/aws4_request, SignedHeaders=host;x-agent-zero-on-behalf-of;"
                    "x-amz-date, Signature=" + "0" * 64,
                    "X-Agent-Zero-On-Behalf-Of": token,
                    "X-Agent-Zero-Verified-Caller-Arn": deployment.agent_caller_arn,
                },
            )
        assert answer.status_code == 401, caller
        assert answer.json()["error"] == "unauthenticated"
    assert stack.model.chat_requests == []


def test_the_users_token_must_be_covered_by_the_agents_signature(
    stack: Stack, deployment: Deployment, broker_function: broker_api.Handler
) -> None:
    transport = RestApiIamTransport(
        broker_function,
        caller_arn=deployment.agent_caller_arn,
        account_id=str(deployment.settings.account_id),
    )
    with httpx.Client(transport=transport, base_url=REST_URL) as http:
        answer = http.post(
            "/v1/access-requests",
            json={"reason": "Balances."},
            headers={
                "Authorization": "AWS4-HMAC-SHA256 Credential=ASIAX/20261126/us-east-1/"
                "execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
                "X-Agent-Zero-On-Behalf-Of": stack.sign_in(ALICE),
            },
        )
    assert answer.status_code == 401
    assert "must be signed" in answer.json()["message"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def web_client(deployment: Deployment, handler: Any) -> httpx.Client:
    transport = HttpApiTransport(handler, account_id=str(deployment.settings.account_id))
    return httpx.Client(transport=transport, base_url=WEB_URL)


def sign_in(stack: Stack, client: httpx.Client, username: str) -> None:
    token = csrf_of(client.get("/login").text)
    password = stack.record.user(username).password
    answer = client.post(
        "/login", data={"csrf": token, "next": "/chat", "username": username, "password": password}
    )
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["location"] == "/chat"


@pytest.fixture(scope="module")
def web_function(deployment: Deployment) -> Any:
    return web.build_handler(
        deployment.settings, deployment.broker_session, secrets=deployment.secrets
    )


def test_the_web_function_serves_pages_and_the_peoples_api(
    stack: Stack, deployment: Deployment, web_function: Any
) -> None:
    with web_client(deployment, web_function) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        sign_in(stack, client, BEN)
        cookie = next(c for c in client.cookies.jar if c.name)
        assert cookie.secure  # HTTPS only on AWS
        chat = client.get("/chat")
        assert chat.status_code == 200
        assert "Support chat" in chat.text
        stack.model.enqueue(approve("support-tickets", "dynamodb:Query"))
        people = client.post(
            "/v1/access-requests",
            json={"reason": "My open support tickets."},
            headers={"Authorization": f"Bearer {stack.sign_in(BEN)}"},
        )
        assert people.status_code == 200, people.text
        assert people.json()["principal_id"] == BEN
        signed = client.post(
            "/v1/access-requests",
            json={"reason": "Balances."},
            headers={
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20261126/us-east-1/"
                "execute-api/aws4_request, SignedHeaders=host, Signature=" + "0" * 64
            },
        )
    assert signed.status_code == 401
    assert "IAM-authorized API" in signed.json()["message"]


def test_a_sign_out_on_one_instance_ends_the_session_on_every_instance(
    stack: Stack, deployment: Deployment, web_function: Any
) -> None:
    # A second cold start: its own memory, the same cookie key and revoked-sessions table.
    other_instance = web.build_handler(
        deployment.settings, deployment.broker_session, secrets=deployment.secrets
    )
    with (
        web_client(deployment, web_function) as first,
        web_client(deployment, other_instance) as second,
    ):
        sign_in(stack, first, ALICE)
        second.cookies = httpx.Cookies(first.cookies)
        assert second.get("/chat").status_code == 200
        page = first.get("/chat").text
        assert first.post("/logout", data={"csrf": csrf_of(page)}).status_code == 303
        after = second.get("/chat")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login")


class LambdaInvokeRecorder(BaseHTTPRequestHandler):
    """Lambda's Invoke API on loopback: records asynchronous invocations, answers 202."""

    invocations: list[tuple[str, str, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        name = self.path.split("/functions/", 1)[1].split("/", 1)[0]
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        type(self).invocations.append((name, kind, json.loads(body)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def lambda_service() -> Iterator[tuple[Any, list[tuple[str, str, dict[str, Any]]]]]:
    invocations: list[tuple[str, str, dict[str, Any]]] = []
    recorder = type("Recorder", (LambdaInvokeRecorder,), {"invocations": invocations})
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        region_name="us-east-1",
        aws_access_key_id="AKIALAMBDATEST000001",
        aws_secret_access_key="lambda-test-secret",
    )
    try:
        yield client, invocations
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_websocket_functions_hand_a_turn_to_the_worker_which_answers(
    stack: Stack, deployment: Deployment, lambda_service: tuple[Any, list[Any]]
) -> None:
    client, invocations = lambda_service
    # Configured as the stack configures them: the route function knows no model and no
    # broker; the worker knows both and no worker to invoke.
    full = deployment.settings
    routes = agent_socket.build_handlers(
        full.model_copy(
            update={"broker_api_url": None, "llm_provider": "none", "llm_api_key_secret_arn": None}
        ),
        deployment.agent_session,
        secrets=StaticSecrets({}),
        lambda_client=client,
    )
    handlers = agent_socket.build_handlers(
        full.model_copy(update={"agent_worker_function": None}),
        deployment.agent_session,
        secrets=deployment.secrets,
        lambda_client=client,
    )
    balance_script(stack)
    connection = new_connection_id()
    headers = {"Sec-WebSocket-Protocol": f"bearer, {stack.sign_in(ALICE)}"}
    connected = agent_socket.route(routes, event("$connect", connection, headers=headers))
    assert connected["statusCode"] == 200
    body = json.dumps({"type": "message", "id": "m-1", "text": "My balance?"})
    assert agent_socket.route(routes, event("message", connection, body=body)) == {
        "statusCode": 200
    }
    # Handed off asynchronously, with the message and the connection, never the token.
    [(function, kind, payload)] = invocations
    assert (function, kind) == ("agent-zero-agent-worker", "Event")
    assert payload == {
        "connection_id": connection,
        "message": {"type": "message", "id": "m-1", "text": "My balance?"},
    }
    handlers.work(payload)  # what the worker function does with that event
    frames = posted(stack, connection)
    assert [f["type"] for f in frames][-1] == "done"
    finished = [(f["tool"], f["outcome"]) for f in frames if f["type"] == "tool_finished"]
    assert finished == [("request_aws_access", "ok"), ("run_dynamodb_operation", "ok")]
    assert "SessionToken" not in json.dumps(frames)


def test_the_chat_page_connects_to_the_websocket_api_with_the_sessions_token(
    stack: Stack, deployment: Deployment, web_function: Any
) -> None:
    with web_client(deployment, web_function) as client:
        assert client.post("/chat/socket-token").status_code == 403  # nobody signed in
        sign_in(stack, client, BEN)
        chat = client.get("/chat")
        assert f'data-socket-url="{SOCKET_URL}"' in chat.text
        policy = chat.headers["content-security-policy"]
        assert f"connect-src 'self' wss://{API_ID}.execute-api.us-east-1.amazonaws.com;" in policy
        csrf = csrf_of(chat.text)
        assert client.post("/chat/socket-token", data={"csrf": "forged"}).status_code == 403
        elsewhere = client.post(
            "/chat/socket-token", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
        given = client.post("/chat/socket-token", data={"csrf": csrf})
        assert given.status_code == 200
        assert given.headers["cache-control"] == "no-store"
        token = given.json()["token"]
        # It is Ben's own access token: what the WebSocket API's $connect verifies.
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["principal_id"] == BEN
    # Where the chat runs on the app's own socket (the sandbox), there is no such endpoint.
    assert httpx.post(f"{stack.api.url}/chat/socket-token").status_code == 404


def test_the_deployed_entry_point_builds_itself_from_the_environment(
    stack: Stack, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Lambda gives the function: AGENT_ZERO_* from the stack, the role's credentials in
    # AWS_* variables. No secret ARN: the model key is not needed without a model.
    settings = deployment.settings
    frozen = deployment.broker_session.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]
    for name, value in {
        "AGENT_ZERO_ENVIRONMENT": "aws",
        "AGENT_ZERO_STORAGE": "dynamodb",
        "AGENT_ZERO_REGION": settings.region,
        "AGENT_ZERO_ACCOUNT_ID": str(settings.account_id),
        "AGENT_ZERO_AWS_ENDPOINT_URL": str(settings.aws_endpoint_url),
        "AGENT_ZERO_TABLE_PREFIX": settings.table_prefix,
        "AGENT_ZERO_REVOKED_SESSIONS_TABLE": settings.revoked_sessions_table,
        "AGENT_ZERO_COGNITO_USER_POOL_ID": str(settings.cognito_user_pool_id),
        "AGENT_ZERO_COGNITO_CLIENT_ID": str(settings.cognito_client_id),
        "AGENT_ZERO_COGNITO_ENDPOINT_URL": str(settings.cognito_endpoint_url),
        "AGENT_ZERO_AGENT_ROLE_ARN": str(settings.agent_role_arn),
        "AGENT_ZERO_LOG_FORMAT": "json",
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        "AWS_SESSION_TOKEN": str(frozen.token),
    }.items():
        monkeypatch.setenv(name, value)
    broker_api._cold_start.cache_clear()
    try:
        transport = RestApiIamTransport(
            broker_api.handler,
            caller_arn=deployment.agent_caller_arn,
            account_id=str(settings.account_id),
        )
        key = SigV4Key("ASIAAGENTWORKERTEST1", "worker-secret", "us-east-1", "token")
        with BrokerClient(
            REST_URL,
            sigv4=key,
            on_behalf_of=stack.sign_in(BEN),
            http=httpx.Client(transport=transport),
        ) as agent:
            me = agent.me()
            # No model configured: a person decides, so the request waits.
            pending = agent.request_access("The customer asks about a card payment.")
    finally:
        broker_api._cold_start.cache_clear()
        for name in ("agent_zero", "mangum"):  # what configure_logging took over
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert me["principal_id"] == BEN
    assert me["acting_agent_id"] == "support-assistant"
    assert pending.status == "pending"
    assert stack.model.chat_requests == []
