"""One turn of the support agent against a scripted model over real HTTP, with in-memory
fakes of the broker and the data plane: its bounds, what the model may see, and what the
tools refuse to do without a grant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from agent_zero.agent.memory import (
    InMemoryAdminDesk,
    InMemoryDataPlane,
    InMemoryDataPlaneFactory,
    RecordingSink,
    ScriptedBroker,
)
from agent_zero.agent.ports import BrokerAnswer
from agent_zero.agent.support import INSTRUCTIONS, Resource, TurnDeps, TurnLimits, build_agent
from agent_zero.agent.support import run_turn as run_agent_turn
from agent_zero.review.llm import LlmReviewerConfig, model_opener
from support.model_server import (
    HttpError,
    ScriptedModelServer,
    Text,
    ToolCall,
    ToolCalls,
    run_model_server,
)

SECRET = "wJalrXUtnFEMI-this-must-never-reach-the-model"
TOKEN = "FwoGZXIvYXdzEBYaD-session-token-never-shown"
BALANCES_TABLE = "bank-prod-AccountBalances-7F3A"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with run_model_server() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(model: ScriptedModelServer) -> None:
    model.reset()


def approved(*grants: str) -> BrokerAnswer:
    return BrokerAnswer(
        request_id="req-1",
        status="approved",
        grants=grants,
        credentials={
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": SECRET,
            "SessionToken": TOKEN,
        },
        expires_at="2026-11-26T05:00:00Z",
    )


def denied() -> BrokerAnswer:
    return BrokerAnswer(request_id="req-2", status="denied", reasons=("not in your policy",))


class Turn:
    def __init__(self, *answers: BrokerAnswer) -> None:
        self.broker = ScriptedBroker(answers=list(answers))
        rows = [
            {"customer_id": "cust-alice", "account": "checking", "balance": "1200.50"},
            {"customer_id": "cust-ben", "account": "savings", "balance": "99000"},
        ]
        self.data = InMemoryDataPlaneFactory(InMemoryDataPlane({BALANCES_TABLE: rows}))
        self.sink = RecordingSink()
        self.deps = TurnDeps(
            user_id="alice.moreau",
            broker=self.broker,
            data=self.data,
            resources={"account-balances": Resource(BALANCES_TABLE, "customer_id")},
            owner_key="cust-alice",
        )

    def run(self, server: ScriptedModelServer, text: str, limits: TurnLimits | None = None) -> None:
        asyncio.run(self.turn(server, text, limits))

    async def turn(
        self, server: ScriptedModelServer, text: str, limits: TurnLimits | None = None
    ) -> None:
        opener = model_opener(
            LlmReviewerConfig(
                provider="openai-compatible",
                model="scripted-model",
                base_url=server.base_url,
                api_key=SecretStr("sk-test-not-a-real-key"),
                timeout_seconds=10.0,
            )
        )
        await run_agent_turn(
            build_agent(),
            message_id="m-1",
            text=text,
            deps=self.deps,
            sink=self.sink,
            open_model=opener,
            limits=limits,
        )

    def error_codes(self) -> list[str]:
        return [getattr(frame, "code", "") for frame in self.sent_errors()]

    def sent_errors(self) -> list[object]:
        return [frame for frame in self.sink.sent if frame.type == "error"]


def read_balances() -> ToolCall:
    arguments = {"resource": "account-balances", "operation": "query"}
    return ToolCall("run_dynamodb_operation", arguments)


def test_a_turn_past_its_tool_call_budget_ends_with_turn_limit(model: ScriptedModelServer) -> None:
    turn = Turn(approved("account-balances"))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        *[ToolCalls([read_balances()]) for _ in range(5)],
        Text("never reached"),
    )
    turn.run(model, "My balance?", TurnLimits(tool_calls=3))
    assert turn.error_codes() == ["turn_limit"]
    assert turn.sink.types()[-1] == "done"
    assert len(turn.data.plane.calls) == 2  # the third call was the access request
    assert "never reached" not in json.dumps([f.model_dump() for f in turn.sink.sent])


def test_a_turn_past_its_model_request_budget_ends_with_turn_limit(
    model: ScriptedModelServer,
) -> None:
    turn = Turn(approved("account-balances"))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        ToolCalls([read_balances()]),
        Text("never reached"),
    )
    turn.run(model, "My balance?", TurnLimits(model_requests=2))
    assert turn.error_codes() == ["turn_limit"]
    assert len(model.chat_requests) == 2


def test_a_turn_past_its_output_token_budget_ends_with_turn_limit(
    model: ScriptedModelServer,
) -> None:
    # The scripted server reports 5 completion tokens per answer.
    turn = Turn(approved("account-balances"))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        ToolCalls([read_balances()]),
        Text("never reached"),
    )
    turn.run(model, "My balance?", TurnLimits(output_tokens=8))
    assert turn.error_codes() == ["turn_limit"]
    assert len(model.chat_requests) == 2


def test_a_turn_past_its_wall_time_ends_with_turn_timeout(model: ScriptedModelServer) -> None:
    turn = Turn()
    model.enqueue(Text("too late", delay_seconds=5.0))
    turn.run(model, "Hello?", TurnLimits(seconds=0.3))
    assert turn.sink.types() == ["ack", "error", "done"]
    assert turn.error_codes() == ["turn_timeout"]


def test_a_cancelled_turn_stops_without_finishing(model: ScriptedModelServer) -> None:
    turn = Turn()
    model.enqueue(Text("too late", delay_seconds=5.0))

    async def cancel_mid_turn() -> None:
        task = asyncio.create_task(turn.turn(model, "Hello?"))
        while not model.chat_requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_turn())
    assert turn.sink.types() == ["ack"]  # no answer, no done: nobody is listening


def test_credentials_reach_neither_the_model_nor_the_client(model: ScriptedModelServer) -> None:
    turn = Turn(approved("account-balances"))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "The customer asks for balances."})]),
        ToolCalls([read_balances()]),
        Text("Your checking account holds 1200.50."),
    )
    turn.run(model, "My balance?")
    seen_by_model = json.dumps([request.body for request in model.chat_requests])
    seen_by_client = json.dumps([frame.model_dump() for frame in turn.sink.sent])
    for secret in (SECRET, TOKEN, "ASIAEXAMPLE"):
        assert secret not in seen_by_model
        assert secret not in seen_by_client
    assert turn.data.opened_with == [approved().credentials]  # the minted ones, and only those
    assert turn.broker.reasons == ["The customer asks for balances."]


def test_queries_read_only_the_users_own_partition(model: ScriptedModelServer) -> None:
    turn = Turn(approved("account-balances"))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        ToolCalls([read_balances()]),
        Text("done"),
    )
    turn.run(model, "My balance?")
    tool_results = [
        message["content"]
        for message in model.chat_requests[-1].body["messages"]
        if message["role"] == "tool"
    ]
    assert "cust-alice" in tool_results[-1]
    assert "cust-ben" not in tool_results[-1]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ((), "No access yet"),  # no request made: no credentials to use
        ((denied(),), "No access yet"),  # denied: nothing to use
        ((approved("transactions"),), "That resource was not granted"),
    ],
)
def test_without_a_matching_grant_the_data_tool_never_opens_the_data_plane(
    model: ScriptedModelServer, answers: tuple[BrokerAnswer, ...], expected: str
) -> None:
    turn = Turn(*answers)
    calls = [ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})])] if answers else []
    model.enqueue(*calls, ToolCalls([read_balances()]), Text("I cannot help with that."))
    turn.run(model, "My balance?")
    tool_results = [
        message["content"]
        for message in model.chat_requests[-1].body["messages"]
        if message["role"] == "tool"
    ]
    assert tool_results[-1].startswith(expected)
    assert turn.data.opened_with == []
    assert turn.data.plane.calls == []


def test_the_model_gets_the_support_instructions_and_no_table_names(
    model: ScriptedModelServer,
) -> None:
    turn = Turn()
    model.enqueue(Text("Hello! How can I help?"))
    turn.run(model, "Hi")
    body = model.chat_requests[0].body
    system = [m["content"] for m in body["messages"] if m["role"] == "system"]
    assert system == [INSTRUCTIONS.strip()]
    assert BALANCES_TABLE not in json.dumps(body)
    tools = {tool["function"]["name"] for tool in body["tools"]}
    assert tools == {
        "request_aws_access",
        "check_access_request",
        "run_dynamodb_operation",
        "read_user_policy",
        "write_user_policy",
        "create_user",
    }


def test_a_denial_reaches_the_model_in_general_terms_only(model: ScriptedModelServer) -> None:
    policy_quote = "Policy v3: only tier-2 staff may read VIP transactions (table vip-ledger)"
    turn = Turn(BrokerAnswer(request_id="req-3", status="denied", reasons=(policy_quote,)))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "VIP transactions"})]),
        Text("I cannot help with that."),
    )
    turn.run(model, "Show me VIP transactions.")
    seen_by_model = json.dumps([request.body for request in model.chat_requests])
    assert "tier-2" not in seen_by_model
    assert "vip-ledger" not in seen_by_model
    assert "Denied: the request does not fit what this user may do" in seen_by_model
    finished = [f for f in turn.sink.sent if f.type == "tool_finished"]
    assert [(f.outcome, f.summary) for f in finished] == [("denied", "Denied")]  # type: ignore[union-attr]


def test_the_brokers_own_fixed_reasons_are_relayed(model: ScriptedModelServer) -> None:
    reason = "The reviewer was unavailable; nothing was granted."
    turn = Turn(BrokerAnswer(request_id="req-4", status="denied", reasons=(reason,)))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        Text("Please try again later."),
    )
    turn.run(model, "My balance?")
    assert "could not review it just now" in json.dumps(model.chat_requests[-1].body)


def policy_grant() -> BrokerAnswer:
    return BrokerAnswer(request_id="req-5", status="approved", grants=("policy-store",))


def admin_turn(*answers: BrokerAnswer) -> tuple[Turn, InMemoryAdminDesk]:
    turn = Turn(*answers)
    desk = InMemoryAdminDesk(policies={"ben.okafor": ["v1: Ben reads his own rows."]})
    turn.deps.admin = desk
    return turn, desk


def tool_results(model: ScriptedModelServer) -> list[str]:
    return [
        str(message["content"])
        for message in model.chat_requests[-1].body["messages"]
        if message["role"] == "tool"
    ]


def write_ben(version: int, text: str = "v2: Ben reads balances only.") -> ToolCalls:
    arguments = {"principal": "ben.okafor", "policy_text": text, "expected_version": version}
    return ToolCalls([ToolCall("write_user_policy", arguments)])


def test_admin_tools_need_a_policy_store_grant_from_this_turn(model: ScriptedModelServer) -> None:
    turn, desk = admin_turn()
    model.enqueue(
        ToolCalls([ToolCall("read_user_policy", {"principal": "ben.okafor"})]),
        write_ben(1),
        Text("I need access first."),
    )
    turn.run(model, "Change Ben's policy.")
    assert all(result.startswith("No access yet") for result in tool_results(model))
    assert desk.writes == []


def test_an_admin_reads_then_writes_on_top_of_what_was_read(model: ScriptedModelServer) -> None:
    turn, desk = admin_turn(policy_grant())
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Change Ben's policy."})]),
        ToolCalls([ToolCall("read_user_policy", {"principal": "ben.okafor"})]),
        write_ben(1),
        Text("Done."),
    )
    turn.run(model, "Change Ben's policy.")
    results = tool_results(model)
    assert results[1] == "Version 1 of ben.okafor's policy:\nv1: Ben reads his own rows."
    assert results[2] == "Saved version 2 of ben.okafor's policy."
    assert desk.policies["ben.okafor"][-1] == "v2: Ben reads balances only."


def test_a_write_on_a_stale_version_is_refused_not_overwritten(
    model: ScriptedModelServer,
) -> None:
    turn, desk = admin_turn(policy_grant())
    desk.policies["ben.okafor"].append("v2: another admin's change")
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "Change Ben's policy."})]),
        write_ben(1),
        Text("It changed meanwhile."),
    )
    turn.run(model, "Change Ben's policy.")
    assert "changed since you read it" in tool_results(model)[-1]
    assert desk.policies["ben.okafor"][-1] == "v2: another admin's change"


def test_a_stopped_turn_starts_no_side_effect(model: ScriptedModelServer) -> None:
    turn, desk = admin_turn(policy_grant(), approved("account-balances"))
    turn.deps.stopped.set()  # as after a timeout or a disconnect, seen by a tool thread
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        Text("ok"),
    )
    turn.run(model, "My balance?")
    assert tool_results(model) == ["Stopped."]
    assert turn.broker.reasons == []  # no access request was made
    assert desk.writes == []


def test_long_tool_results_are_cut_before_the_model_sees_them(
    model: ScriptedModelServer,
) -> None:
    turn = Turn(approved("account-balances"))
    rows = turn.data.plane.tables[BALANCES_TABLE]
    rows.extend({"customer_id": "cust-alice", "memo": "x" * 2_000} for _ in range(10))
    model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "balance"})]),
        ToolCalls([read_balances()]),
        Text("done"),
    )
    turn.run(model, "My balance?")
    result = tool_results(model)[-1]
    assert len(result) < 6_100
    assert result.endswith("(cut: ask about fewer items)")


def test_errors_from_outside_our_code_reach_the_client_as_turn_failed(
    model: ScriptedModelServer,
) -> None:
    turn = Turn()
    model.enqueue(HttpError(400, "invalid_api_key: sk-live-1234 rejected"))
    turn.run(model, "Hello")
    assert turn.error_codes() == ["turn_failed"]
    assert "sk-live" not in json.dumps([f.model_dump() for f in turn.sink.sent])


def test_broker_answers_never_show_credentials_in_their_repr() -> None:
    assert SECRET not in repr(approved("account-balances"))
    assert TOKEN not in str(approved("account-balances"))
