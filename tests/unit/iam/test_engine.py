"""Engine behaviour beyond the reference examples: failing closed, context, callers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_zero import iam
from agent_zero.domain.errors import InvalidInputError, MalformedPolicyError
from agent_zero.iam import CallerKind, Decision, PolicyKind, RequestContext, identify_caller

SESSION = "arn:aws:sts::111122223333:assumed-role/Target/req-1"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/Orders"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(
    effect: str = "Allow", condition: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"Effect": effect, "Action": "dynamodb:GetItem", "Resource": TABLE}
    if condition:
        body["Condition"] = condition
    body.update(extra)
    return body


def decide(
    identity: list[dict[str, Any]], context: dict[str, Any] | None = None, **kw: Any
) -> iam.EvaluationResult:
    return iam.evaluate(
        action="dynamodb:GetItem",
        resource=TABLE,
        principal=SESSION,
        identity_policies=identity,
        context=context,
        **kw,
    )


@pytest.mark.parametrize(
    ("operator", "value", "request_value"),
    [
        ("NumericLessThan", "10", "ten"),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", "yesterday"),
        ("IpAddress", "10.0.0.0/8", "not-an-ip"),
        ("BinaryEquals", "QUJD", "%%%"),
    ],
)
def test_unreadable_request_values_fail_closed_even_for_deny_statements(
    operator: str, value: str, request_value: str
) -> None:
    # A Deny whose condition cannot be evaluated must not be skipped: the request is denied.
    identity = [policy(stmt("Allow"), stmt("Deny", {operator: {"k:x": value}}))]
    result = decide(identity, {"k:x": request_value})
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.error is not None
    assert request_value in result.error or "base64" in result.error


def test_binary_equals_compares_bytes() -> None:
    identity = [policy(stmt(condition={"BinaryEquals": {"k:bin": "QUJD"}}))]
    assert decide(identity, {"k:bin": "QUJD"}).allowed
    assert not decide(identity, {"k:bin": "QUJE"}).allowed


def test_context_keys_are_case_insensitive_and_empty_lists_are_absent() -> None:
    context = RequestContext.of({"AWS:SourceIdentity": "alice", "dynamodb:LeadingKeys": []})
    assert context.get("aws:sourceidentity") == ("alice",)
    assert context.get("DYNAMODB:LEADINGKEYS") is None
    assert context.single("aws:SourceIdentity") == "alice"
    widened = context.with_values({"dynamodb:LeadingKeys": ["a", "b"], "aws:SourceIdentity": []})
    assert widened.get("dynamodb:leadingkeys") == ("a", "b")
    assert widened.single("dynamodb:leadingkeys") is None  # multivalued: not a variable value
    assert widened.get("aws:sourceidentity") is None


def test_booleans_and_numbers_in_context_become_iam_strings() -> None:
    context = RequestContext.of({"aws:SecureTransport": True, "s3:max-keys": 10})
    assert context.get("aws:securetransport") == ("true",)
    assert context.get("s3:max-keys") == ("10",)


@pytest.mark.parametrize(
    ("arn", "kind", "role"),
    [
        (SESSION, CallerKind.ROLE_SESSION, "role:111122223333:Target"),
        ("arn:aws:iam::111122223333:user/ops/Bob", CallerKind.USER, None),
        ("arn:aws:sts::111122223333:federated-user/Bob", CallerKind.FEDERATED_USER, None),
        ("arn:aws:iam::111122223333:root", CallerKind.ROOT, None),
        ("lambda.amazonaws.com", CallerKind.SERVICE, None),
    ],
)
def test_callers_are_recognised(arn: str, kind: CallerKind, role: str | None) -> None:
    caller = identify_caller(arn)
    assert caller.kind is kind
    assert caller.role == role


@pytest.mark.parametrize("garbage", ["", "alice", "arn:aws:iam::1:user/x", "arn:aws:s3:::bucket"])
def test_unknown_principals_are_refused(garbage: str) -> None:
    with pytest.raises(InvalidInputError):
        identify_caller(garbage)


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_a_resource_policy_naming_the_role_by_its_path_arn_names_the_session(effect: str) -> None:
    # The session ARN drops the role's path; IAM role names are unique per account,
    # so a Deny naming role/service/Target must still reach Target's sessions.
    resource_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/service/Target"},
                "Action": "dynamodb:GetItem",
                "Resource": TABLE,
            }
        ],
    }
    result = decide([policy(stmt("Allow"))], resource_policy=resource_policy)
    expected = Decision.ALLOW if effect == "Allow" else Decision.EXPLICIT_DENY
    assert result.decision is expected


def test_a_role_of_the_same_name_in_another_account_is_not_the_session_role() -> None:
    resource_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:role/Target"},
                "Action": "dynamodb:GetItem",
                "Resource": TABLE,
            }
        ],
    }
    assert decide([], resource_policy=resource_policy).decision is Decision.IMPLICIT_DENY


def test_root_is_allowed_unless_explicitly_denied() -> None:
    root = "arn:aws:iam::111122223333:root"
    allowed = iam.evaluate(action="dynamodb:DeleteTable", resource=TABLE, principal=root)
    denied = iam.evaluate(
        action="dynamodb:GetItem",
        resource=TABLE,
        principal=root,
        identity_policies=[policy(stmt("Deny"))],
    )
    assert allowed.allowed
    assert denied.decision is Decision.EXPLICIT_DENY


def test_all_matching_denies_are_reported_with_their_kinds() -> None:
    result = decide(
        [policy(stmt("Allow"), stmt("Deny", Sid="One"))],
        session_policy=policy(stmt("Deny", Sid="Two")),
    )
    assert result.decision is Decision.EXPLICIT_DENY
    assert [(r.policy_kind, r.sid) for r in result.reasons] == [
        (PolicyKind.IDENTITY, "One"),
        (PolicyKind.SESSION, "Two"),
    ]


def test_an_allow_lists_every_layer_that_agreed() -> None:
    result = decide(
        [policy(stmt(Sid="Identity"))],
        session_policy=policy(stmt(Sid="Session")),
        permissions_boundary=policy(stmt(Sid="Boundary")),
    )
    assert [r.sid for r in result.reasons] == ["Identity", "Boundary", "Session"]


def test_parsed_policies_are_reusable_and_rebound_to_the_kind_they_are_used_as() -> None:
    parsed = iam.parse_policy(policy(stmt()))
    as_session = iam.parse_policy(parsed, kind=PolicyKind.SESSION)
    assert as_session.kind is PolicyKind.SESSION
    assert iam.parse_policy(parsed) is parsed
    result = decide([parsed], session_policy=parsed)
    assert result.allowed
    assert {r.policy_kind for r in result.reasons} == {PolicyKind.IDENTITY, PolicyKind.SESSION}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "JSON object"),
        ("{", "not valid JSON"),
        ('{"Statement": []}' * 2, "not valid JSON"),
        (policy(stmt(Resource="arn:aws:dynamodb:${aws:region}:1:table/x")), "resource part"),
        (policy(stmt(Resource="arn:aws:*:us-east-1:1:table/x")), "service part"),
        (policy(stmt(Action="GetItem")), "service:action"),
        (policy(stmt(Sid=5)), "Sid"),
        (policy(stmt(condition={"ForSomeValues:StringEquals": {"a:b": "c"}})), "set operator"),
        (policy(stmt(condition={"StringEquals": {"a:b": []}})), "at least one value"),
        (policy(stmt(condition={"StringEquals": {"a:b": {"x": 1}}})), "strings, numbers"),
        (policy(stmt(condition={"Null": {"a:b": "maybe"}})), "true or false"),
        (policy(stmt(condition={"StringEquals": "a:b"})), "map keys"),
        ({"Statement": [stmt()], "Extra": 1}, "unknown policy element"),
        ({"Version": "2012-10-17"}, "Statement"),
    ],
)
def test_malformed_documents_say_what_is_wrong(document: Any, message: str) -> None:
    with pytest.raises(MalformedPolicyError, match=message):
        iam.parse_policy(document)


def test_malformed_policy_errors_point_at_the_statement() -> None:
    with pytest.raises(MalformedPolicyError) as raised:
        iam.parse_policy(policy(stmt(), {"Effect": "Allow", "Action": "s3:GetObject"}))
    assert raised.value.path == "Statement[1]"
    assert raised.value.code == "malformed_policy"
    assert raised.value.http_status == 400


def test_trust_policies_may_omit_resource() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/Broker"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    result = iam.evaluate(
        action="sts:AssumeRole",
        resource="arn:aws:iam::111122223333:role/Target",
        principal="arn:aws:sts::111122223333:assumed-role/Broker/lambda",
        identity_policies=[
            policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
        ],
        resource_policy=trust,
        resource_policy_required=True,
    )
    assert result.allowed


def test_root_passes_a_required_resource_policy_that_names_its_account() -> None:
    # A KMS key's default policy names the account root: the root user holds every
    # identity permission, so the account's delegation is enough for it.
    root = "arn:aws:iam::111122223333:root"
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    other_account = json.loads(
        json.dumps(key_policy).replace("111122223333:root", "999999999999:root")
    )

    def decrypt(policy: dict[str, Any]) -> Decision:
        return iam.evaluate(
            action="kms:Decrypt",
            resource="arn:aws:kms:us-east-1:111122223333:key/k-1",
            principal=root,
            resource_policy=policy,
            resource_policy_required=True,
        ).decision

    assert decrypt(key_policy) is Decision.ALLOW
    assert decrypt(other_account) is Decision.IMPLICIT_DENY
