"""IAM evaluation engine checked against the AWS documentation examples.

Every case comes from a page in /work/shared/reference/aws/ (named in its id or
docstring) or from /work/shared/FINDINGS.md ("AWS semantics that bite"). The
documentation is the specification: where the engine disagrees, the test stays.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_zero import iam
from agent_zero.iam import Decision, MalformedPolicyError, PolicyKind, parse_policy

ALLOW = Decision.ALLOW
DENY = Decision.EXPLICIT_DENY
IMPLICIT = Decision.IMPLICIT_DENY

IDENTITY = PolicyKind.IDENTITY
SESSION = PolicyKind.SESSION
BOUNDARY = PolicyKind.PERMISSIONS_BOUNDARY
RESOURCE = PolicyKind.RESOURCE

ACCT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/Target"
SESSION_ARN = f"arn:aws:sts::{ACCT}:assumed-role/Target/req-1"
FED_ARN = f"arn:aws:sts::{ACCT}:federated-user/Bob"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Orders"

Doc = dict[str, Any]


def user(name: str = "Bob", account: str = ACCT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def doc(*statements: Doc, version: str | None = "2012-10-17") -> Doc:
    policy: Doc = {"Statement": list(statements)}
    if version is not None:
        policy["Version"] = version
    return policy


def stmt(effect: str, action: Any, resource: Any = "*", condition: Doc | None = None, **extra: Any):
    statement: Doc = {"Effect": effect, "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


def allow(action: Any, resource: Any = "*", condition: Doc | None = None, **extra: Any) -> Doc:
    return stmt("Allow", action, resource, condition, **extra)


def deny(action: Any, resource: Any = "*", condition: Doc | None = None, **extra: Any) -> Doc:
    return stmt("Deny", action, resource, condition, **extra)


def rp_allow(principal: Any, action: Any, resource: Any, **extra: Any) -> Doc:
    """A resource-policy Allow; a bare string principal means {"AWS": principal}."""
    return allow(action, resource, Principal=_principal(principal), **extra)


def rp_deny(principal: Any, action: Any, resource: Any, **extra: Any) -> Doc:
    return deny(action, resource, Principal=_principal(principal), **extra)


def _principal(principal: Any) -> Any:
    return principal if principal == "*" or isinstance(principal, dict) else {"AWS": principal}


def evaluate(
    action: str,
    resource: str,
    *identity: Doc | str,
    principal: str | None = None,
    context: dict[str, Any] | None = None,
    session: Doc | None = None,
    boundary: Doc | None = None,
    resource_policy: Doc | None = None,
    required: bool = False,
):
    return iam.evaluate(
        action=action,
        resource=resource,
        principal=principal or user(),
        identity_policies=list(identity),
        session_policy=session,
        permissions_boundary=boundary,
        resource_policy=resource_policy,
        context=context or {},
        resource_policy_required=required,
    )


def decide(action: str, resource: str, *identity: Doc | str, **kwargs: Any) -> Decision:
    return evaluate(action, resource, *identity, **kwargs).decision


def reason_sids(result: Any, effect: str | None = None) -> set[str | None]:
    return {r.sid for r in result.reasons if effect is None or r.effect == effect}


# --------------------------------------------------------------------------------------
# evaluation-logic: "Example identity-based and resource-based policy evaluation"
# --------------------------------------------------------------------------------------

CARLOS = user("carlossalazar", "123456789012")
CARLOS_IDENTITY = doc(
    allow(
        [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "arn:aws:s3:::*",
        Sid="AllowS3ListRead",
    ),
    allow(
        "s3:*",
        ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
        Sid="AllowS3Self",
    ),
    deny("s3:*", "arn:aws:s3:::*log*", Sid="DenyS3Logs"),
)
CARLOS_BUCKET_POLICY = doc(
    rp_allow(CARLOS, "s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"])
)


def test_evaluation_logic_carlos_put_to_logs_bucket_is_explicitly_denied():
    """evaluation-logic: 'the identity-based policy explicitly denies Carlos access to any
    S3 buckets used for logging. Carlos is denied access.'"""
    result = evaluate(
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar-logs/report.txt",
        CARLOS_IDENTITY,
        principal=CARLOS,
    )
    assert result.decision == DENY
    assert result.denied_by == IDENTITY
    deciding = [r for r in result.reasons if r.effect == "Deny"]
    assert [(r.sid, r.statement_index, r.policy_kind) for r in deciding] == [
        ("DenyS3Logs", 2, IDENTITY)
    ]


def test_evaluation_logic_carlos_put_to_own_bucket_allowed_by_both_policies():
    """evaluation-logic: 'Both the identity-based policy and the resource-based policy
    allow the request. Therefore, AWS allows the request.'"""
    result = evaluate(
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar/notes.txt",
        CARLOS_IDENTITY,
        principal=CARLOS,
        resource_policy=CARLOS_BUCKET_POLICY,
    )
    assert result.decision == ALLOW
    assert result.denied_by is None


@pytest.mark.parametrize(
    ("identity", "bucket_policy", "expected_kind"),
    [
        pytest.param([CARLOS_IDENTITY], None, IDENTITY, id="identity-allows-no-bucket-policy"),
        pytest.param([], CARLOS_BUCKET_POLICY, RESOURCE, id="bucket-policy-allows-no-identity"),
    ],
)
def test_evaluation_logic_one_policy_type_allowing_is_enough(
    identity, bucket_policy, expected_kind
):
    """evaluation-logic Important: 'If either the identity-based policy or the
    resource-based policy within the same account allows the request and the other
    doesn't, the request is still allowed.'"""
    result = evaluate(
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar/notes.txt",
        *identity,
        principal=CARLOS,
        resource_policy=bucket_policy,
    )
    assert result.decision == ALLOW
    allowing = [r for r in result.reasons if r.effect == "Allow"]
    assert any(r.policy_kind == expected_kind for r in allowing)
    if expected_kind == IDENTITY:
        assert "AllowS3Self" in reason_sids(result, "Allow")


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        pytest.param("s3:GetBucketLocation", "arn:aws:s3:::other-bucket", ALLOW, id="list-read"),
        pytest.param("s3:PutObject", "arn:aws:s3:::other-bucket/x", IMPLICIT, id="put-other"),
        pytest.param("s3:DeleteBucket", "arn:aws:s3:::carlossalazar", ALLOW, id="self-bucket"),
        pytest.param("s3:GetBucketLocation", "arn:aws:s3:::old-logs", DENY, id="list-logs"),
    ],
)
def test_evaluation_logic_carlos_statements(action, resource, expected):
    """evaluation-logic: AllowS3ListRead lists any bucket, AllowS3Self gives full access
    to his own bucket, DenyS3Logs denies any bucket with 'log' in its name."""
    result = evaluate(action, resource, CARLOS_IDENTITY, principal=CARLOS)
    assert result.decision == expected
    if expected == IMPLICIT:
        assert result.denied_by == IDENTITY


def test_evaluation_logic_carlos_bucket_policy_explicit_deny_overrides_allows():
    """evaluation-logic: 'If either of them explicitly denied the statement, the request
    would have been denied.'"""
    bucket_policy = doc(
        *CARLOS_BUCKET_POLICY["Statement"],
        rp_deny(CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/*", Sid="NoWrites"),
    )
    result = evaluate(
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar/notes.txt",
        CARLOS_IDENTITY,
        principal=CARLOS,
        resource_policy=bucket_policy,
    )
    assert result.decision == DENY
    assert result.denied_by == RESOURCE
    assert "NoWrites" in reason_sids(result, "Deny")


REPORTS_POLICY = doc(
    allow(["iam:Get*", "iam:List*"], Sid="AllowGetList"),
    deny("iam:*Report", Sid="DenyReports"),
)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("iam:GetUser", ALLOW, id="Get*-allowed"),
        pytest.param("iam:ListAccessKeys", ALLOW, id="List*-allowed"),
        pytest.param("iam:CreatePolicy", IMPLICIT, id="CreatePolicy-implicitly-denied"),
        pytest.param("iam:GetOrganizationsAccessReport", DENY, id="GetOrganizationsAccessReport"),
        pytest.param("iam:GetCredentialReport", DENY, id="Get*Report-deny-wins"),
    ],
)
def test_evaluation_logic_iam_report_deny_example(action, expected):
    """evaluation-logic 'The difference between explicit and implicit denies':
    AllowGetList + DenyReports (iam:*Report)."""
    result = evaluate(action, f"arn:aws:iam::{ACCT}:user/Bob", REPORTS_POLICY)
    assert result.decision == expected
    if expected == DENY:
        assert "DenyReports" in reason_sids(result, "Deny")
    if expected == ALLOW:
        assert "AllowGetList" in reason_sids(result, "Allow")


def test_evaluation_logic_iam_report_deny_beats_another_policy_granting_reports():
    """evaluation-logic: 'If someone adds another policy to this principal to grant them
    access to IAM reports, such as iam:GenerateCredentialReport, report-related requests
    are still denied because of this explicit deny.'"""
    extra = doc(allow("iam:GenerateCredentialReport", Sid="GrantReports"))
    result = evaluate("iam:GenerateCredentialReport", "*", REPORTS_POLICY, extra)
    assert result.decision == DENY
    assert result.denied_by == IDENTITY
    assert "DenyReports" in reason_sids(result, "Deny")
    assert decide("iam:GenerateCredentialReport", "*", extra) == ALLOW


# --------------------------------------------------------------------------------------
# evaluation-logic + access_policies "Session policies": intersections and boundaries
# --------------------------------------------------------------------------------------

GET_ITEM = doc(allow("dynamodb:GetItem", TABLE, Sid="ReadOrders"))
PUT_ITEM = doc(allow("dynamodb:PutItem", TABLE, Sid="WriteOrders"))
ALL_DDB = doc(allow("dynamodb:*", "*", Sid="AllDynamo"))


def test_evaluation_logic_role_session_without_session_policy_is_limited_only_by_identity():
    """evaluation-logic step Session policies: 'If there is no session policy, the code
    checks whether the principal is a role session. If [so], the request is Allowed.'"""
    result = evaluate("dynamodb:GetItem", TABLE, GET_ITEM, principal=SESSION_ARN)
    assert result.decision == ALLOW
    assert "ReadOrders" in reason_sids(result, "Allow")
    assert decide("dynamodb:PutItem", TABLE, GET_ITEM, principal=SESSION_ARN) == IMPLICIT


def test_evaluation_logic_federated_user_without_session_policy_is_implicitly_denied():
    """evaluation-logic: '...checks whether the principal is a role session ... Otherwise,
    the request is implicitly denied.' (federated-user session)"""
    result = evaluate("dynamodb:GetItem", TABLE, GET_ITEM, principal=FED_ARN)
    assert result.decision == IMPLICIT
    assert result.denied_by == SESSION


def test_access_policies_federated_user_session_is_intersection_of_identity_and_session():
    """access_policies Session policies: 'The resulting session's permissions are the
    intersection of the identity-based policy and the session policy.' (GetFederationToken)"""
    assert decide("dynamodb:GetItem", TABLE, ALL_DDB, principal=FED_ARN, session=GET_ITEM) == ALLOW
    result = evaluate("dynamodb:PutItem", TABLE, ALL_DDB, principal=FED_ARN, session=GET_ITEM)
    assert result.decision == IMPLICIT
    assert result.denied_by == SESSION


def test_access_policies_session_policy_limits_role_identity_permissions():
    """access_policies Session policies: 'The permissions for a session are the
    intersection of the identity-based policies ... and the session policies.'"""
    result = evaluate("dynamodb:PutItem", TABLE, ALL_DDB, principal=SESSION_ARN, session=GET_ITEM)
    assert result.decision == IMPLICIT
    assert result.denied_by == SESSION
    assert (
        decide("dynamodb:GetItem", TABLE, ALL_DDB, principal=SESSION_ARN, session=GET_ITEM) == ALLOW
    )


def test_access_policies_session_policy_does_not_grant_permissions():
    """access_policies: 'Session policies limit permissions for a created session, but do
    not grant permissions.'"""
    result = evaluate("dynamodb:PutItem", TABLE, GET_ITEM, principal=SESSION_ARN, session=ALL_DDB)
    assert result.decision == IMPLICIT
    assert result.denied_by == IDENTITY


def test_evaluation_logic_explicit_deny_in_session_policy_overrides_allow():
    """evaluation-logic: 'An explicit deny in any policy overrides any allows.'"""
    session = doc(allow("dynamodb:*"), deny("dynamodb:GetItem", TABLE, Sid="NoReads"))
    result = evaluate("dynamodb:GetItem", TABLE, ALL_DDB, principal=SESSION_ARN, session=session)
    assert result.decision == DENY
    assert result.denied_by == SESSION
    assert "NoReads" in reason_sids(result, "Deny")


@pytest.mark.parametrize(
    ("action", "identity", "expected", "denied_by"),
    [
        pytest.param("dynamodb:GetItem", ALL_DDB, ALLOW, None, id="both-allow"),
        pytest.param("dynamodb:PutItem", ALL_DDB, IMPLICIT, BOUNDARY, id="boundary-lacks"),
        pytest.param("dynamodb:GetItem", PUT_ITEM, IMPLICIT, IDENTITY, id="identity-lacks"),
    ],
)
def test_evaluation_logic_permissions_boundary_intersection(action, identity, expected, denied_by):
    """evaluation-logic 'Evaluating identity-based policies with permissions boundaries':
    'the resulting permissions are the intersection of the two categories.'"""
    result = evaluate(action, TABLE, identity, boundary=GET_ITEM)
    assert result.decision == expected
    assert result.denied_by == denied_by


def test_evaluation_logic_explicit_deny_in_permissions_boundary():
    """evaluation-logic: 'An explicit deny in either of these policies overrides the allow.'"""
    boundary = doc(allow("*"), deny("dynamodb:DeleteTable", Sid="BoundaryDeny"))
    result = evaluate("dynamodb:DeleteTable", TABLE, ALL_DDB, boundary=boundary)
    assert result.decision == DENY
    assert result.denied_by == BOUNDARY
    assert "BoundaryDeny" in reason_sids(result, "Deny")


def test_access_policies_session_boundary_identity_three_way_intersection():
    """access_policies: 'the resulting session's permissions are the intersection of the
    session policy, the permissions boundary, and the identity-based policy.'"""
    identity = doc(allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], TABLE))
    boundary = doc(allow(["dynamodb:GetItem", "dynamodb:PutItem"], TABLE))
    session = doc(allow(["dynamodb:GetItem", "dynamodb:Query"], TABLE))
    kwargs = {"principal": SESSION_ARN, "boundary": boundary, "session": session}
    assert decide("dynamodb:GetItem", TABLE, identity, **kwargs) == ALLOW
    put = evaluate("dynamodb:PutItem", TABLE, identity, **kwargs)
    assert (put.decision, put.denied_by) == (IMPLICIT, SESSION)
    query = evaluate("dynamodb:Query", TABLE, identity, **kwargs)
    assert (query.decision, query.denied_by) == (IMPLICIT, BOUNDARY)


# --------------------------------------------------------------------------------------
# evaluation-logic "Resource-based policies" table + access_policies Session policies
# --------------------------------------------------------------------------------------

OTHER_ACTION = doc(allow("dynamodb:DescribeTable", TABLE))


@pytest.mark.parametrize(
    ("principal", "named", "identity", "session", "boundary", "expected", "denied_by"),
    [
        pytest.param(
            SESSION_ARN,
            SESSION_ARN,
            [],
            OTHER_ACTION,
            OTHER_ACTION,
            ALLOW,
            None,
            id="role-session-ARN-not-limited-by-identity-boundary-or-session",
        ),
        pytest.param(
            SESSION_ARN,
            ROLE_ARN,
            [],
            None,
            None,
            ALLOW,
            None,
            id="role-ARN-no-session-policy-no-boundary",
        ),
        pytest.param(
            SESSION_ARN,
            ROLE_ARN,
            [],
            OTHER_ACTION,
            None,
            IMPLICIT,
            SESSION,
            id="role-ARN-limited-by-session-policy",
        ),
        pytest.param(
            SESSION_ARN,
            ROLE_ARN,
            [],
            None,
            OTHER_ACTION,
            IMPLICIT,
            BOUNDARY,
            id="role-ARN-limited-by-boundary",
        ),
        pytest.param(
            SESSION_ARN,
            ROLE_ARN,
            [],
            GET_ITEM,
            None,
            ALLOW,
            None,
            id="role-ARN-session-policy-allows-intersection",
        ),
        pytest.param(
            user(),
            user(),
            [],
            None,
            OTHER_ACTION,
            ALLOW,
            None,
            id="iam-user-ARN-not-limited-by-identity-or-boundary",
        ),
        pytest.param(
            SESSION_ARN,
            "*",
            [],
            OTHER_ACTION,
            None,
            ALLOW,
            None,
            id="principal-star-allows-despite-session-implicit-deny",
        ),
        pytest.param(
            FED_ARN,
            FED_ARN,
            [],
            OTHER_ACTION,
            None,
            ALLOW,
            None,
            id="federated-user-session-ARN-not-limited-by-session-policy",
        ),
        pytest.param(
            FED_ARN,
            FED_ARN,
            [],
            None,
            None,
            ALLOW,
            None,
            id="federated-user-session-ARN-without-any-session-policy",
        ),
        pytest.param(
            FED_ARN,
            user(),
            [],
            OTHER_ACTION,
            None,
            IMPLICIT,
            None,
            id="federating-iam-user-ARN-limited-by-session-policy",
        ),
        pytest.param(
            SESSION_ARN,
            ACCT,
            [],
            None,
            None,
            IMPLICIT,
            None,
            id="account-id-grants-nothing-on-its-own",
        ),
        pytest.param(
            SESSION_ARN,
            f"arn:aws:iam::{ACCT}:root",
            [],
            None,
            None,
            IMPLICIT,
            None,
            id="account-root-ARN-grants-nothing-on-its-own",
        ),
        pytest.param(
            SESSION_ARN,
            f"arn:aws:iam::{ACCT}:root",
            [GET_ITEM],
            None,
            None,
            ALLOW,
            None,
            id="account-root-ARN-plus-identity-allow",
        ),
        pytest.param(
            user(),
            user("Alice"),
            [],
            None,
            None,
            IMPLICIT,
            None,
            id="other-user-named-does-not-apply",
        ),
    ],
)
def test_evaluation_logic_resource_policy_principal_types(
    principal, named, identity, session, boundary, expected, denied_by
):
    """evaluation-logic 'Resource-based policies and implicit denies in other policy types
    (same account)': role ARN, role session ARN, IAM user, federated user sessions."""
    result = evaluate(
        "dynamodb:GetItem",
        TABLE,
        *identity,
        principal=principal,
        session=session,
        boundary=boundary,
        resource_policy=doc(rp_allow(named, "dynamodb:GetItem", TABLE, Sid="TablePolicy")),
    )
    assert result.decision == expected
    if denied_by is not None:
        assert result.denied_by == denied_by
    if expected == ALLOW and not identity:
        assert any(r.policy_kind == RESOURCE and r.sid == "TablePolicy" for r in result.reasons)


def test_evaluation_logic_resource_policy_deny_for_session_overrides_identity_allow():
    """evaluation-logic: 'An explicit deny in either of these policies overrides the allow.'"""
    resource_policy = doc(rp_deny(SESSION_ARN, "dynamodb:*", TABLE, Sid="BlockSession"))
    result = evaluate(
        "dynamodb:GetItem", TABLE, ALL_DDB, principal=SESSION_ARN, resource_policy=resource_policy
    )
    assert result.decision == DENY
    assert result.denied_by == RESOURCE
    assert "BlockSession" in reason_sids(result, "Deny")


def test_access_policies_session_policy_deny_overrides_resource_policy_naming_session():
    """access_policies Session policies: 'An explicit deny in any of these policies overrides
    the allow.' — even for a grant made directly to the session ARN."""
    session = doc(allow("*"), deny("dynamodb:GetItem", TABLE, Sid="SessionDeny"))
    result = evaluate(
        "dynamodb:GetItem",
        TABLE,
        principal=SESSION_ARN,
        session=session,
        resource_policy=doc(rp_allow(SESSION_ARN, "dynamodb:GetItem", TABLE)),
    )
    assert result.decision == DENY
    assert result.denied_by == SESSION
    assert "SessionDeny" in reason_sids(result, "Deny")


def test_grammar_resource_policy_deny_naming_another_principal_does_not_apply():
    """grammar principal_block: a statement applies only to the principal it names."""
    resource_policy = doc(rp_deny(user("Alice"), "dynamodb:*", TABLE))
    assert decide("dynamodb:GetItem", TABLE, ALL_DDB, resource_policy=resource_policy) == ALLOW


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        pytest.param(user("Bob"), DENY, id="Bob-not-excluded-is-denied"),
        pytest.param(user("Alice"), ALLOW, id="Alice-excluded-by-NotPrincipal"),
    ],
)
def test_grammar_not_principal_deny(principal, expected):
    """grammar: principal_block = ("Principal" | "NotPrincipal"); a Deny with NotPrincipal
    applies to everyone except the listed principals (listed, as AWS recommends, together
    with the account ARN, which does not exempt the account's other users)."""
    excluded = [user("Alice"), f"arn:aws:iam::{ACCT}:root"]
    resource_policy = doc(
        deny("dynamodb:*", TABLE, NotPrincipal={"AWS": excluded}, Sid="OnlyAlice")
    )
    result = evaluate(
        "dynamodb:GetItem", TABLE, ALL_DDB, principal=principal, resource_policy=resource_policy
    )
    assert result.decision == expected
    if expected == DENY:
        assert result.denied_by == RESOURCE
        assert "OnlyAlice" in reason_sids(result, "Deny")


ASSUME_TARGET = doc(allow("sts:AssumeRole", ROLE_ARN))


@pytest.mark.parametrize(
    ("identity", "trust", "expected", "denied_by"),
    [
        pytest.param([ASSUME_TARGET], None, IMPLICIT, RESOURCE, id="identity-alone-not-enough"),
        pytest.param(
            [ASSUME_TARGET],
            doc(rp_allow(user("Alice"), "sts:AssumeRole", ROLE_ARN)),
            IMPLICIT,
            RESOURCE,
            id="trust-names-someone-else",
        ),
        pytest.param(
            [ASSUME_TARGET],
            doc(rp_allow(f"arn:aws:iam::{ACCT}:root", "sts:AssumeRole", ROLE_ARN)),
            ALLOW,
            None,
            id="trust-names-account-plus-identity-allow",
        ),
        pytest.param(
            [],
            doc(rp_allow(f"arn:aws:iam::{ACCT}:root", "sts:AssumeRole", ROLE_ARN)),
            IMPLICIT,
            None,
            id="trust-names-account-without-identity-allow",
        ),
        pytest.param(
            [],
            doc(rp_allow(user(), "sts:AssumeRole", ROLE_ARN)),
            ALLOW,
            None,
            id="trust-names-user-directly",
        ),
    ],
)
def test_evaluation_logic_role_trust_policy_must_explicitly_allow(
    identity, trust, expected, denied_by
):
    """evaluation-logic: 'IAM role trust policies and KMS key policies are exceptions to
    this logic, because they must explicitly allow access for principals.'"""
    result = evaluate("sts:AssumeRole", ROLE_ARN, *identity, resource_policy=trust, required=True)
    assert result.decision == expected
    if denied_by is not None:
        assert result.denied_by == denied_by


# --------------------------------------------------------------------------------------
# elements_notaction
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        pytest.param("s3:GetObject", "arn:aws:s3:::bucket/key", ALLOW, id="s3-get-object"),
        pytest.param("s3:PutBucketPolicy", "arn:aws:s3:::bucket", ALLOW, id="s3-other"),
        pytest.param("s3:DeleteBucket", "arn:aws:s3:::bucket", IMPLICIT, id="DeleteBucket"),
        pytest.param("s3:deletebucket", "arn:aws:s3:::bucket", IMPLICIT, id="case-insensitive"),
        pytest.param(
            "ec2:TerminateInstances",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
            IMPLICIT,
            id="other-service-not-applicable-to-s3-resources",
        ),
    ],
)
def test_notaction_allow_all_s3_except_delete_bucket(action, resource, expected):
    """notaction: '"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource":
    "arn:aws:s3:::*"' allows all S3 actions except DeleteBucket, and nothing elsewhere."""
    policy = doc({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})
    assert decide(action, resource, policy) == expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("dynamodb:GetItem", ALLOW, id="dynamodb"),
        pytest.param("s3:GetObject", ALLOW, id="s3"),
        pytest.param("iam:CreateUser", IMPLICIT, id="iam"),
    ],
)
def test_notaction_allow_everything_except_iam(action, expected):
    """notaction: '"NotAction": "iam:*", "Resource": "*"' allows every action in every
    AWS service except for IAM."""
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(action, f"arn:aws:iam::{ACCT}:user/X", policy) == expected


MFA_DENY = doc(
    {
        "Sid": "DenyAllUsersNotUsingMFA",
        "Effect": "Deny",
        "NotAction": "iam:*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
)


@pytest.mark.parametrize(
    ("action", "context", "expected"),
    [
        pytest.param("s3:GetObject", {}, DENY, id="non-iam-no-mfa-key"),
        pytest.param(
            "s3:GetObject", {"aws:MultiFactorAuthPresent": "false"}, DENY, id="non-iam-mfa-false"
        ),
        pytest.param(
            "s3:GetObject", {"aws:MultiFactorAuthPresent": "true"}, ALLOW, id="non-iam-mfa-true"
        ),
        pytest.param("iam:ListUsers", {}, ALLOW, id="iam-action-not-denied"),
    ],
)
def test_notaction_deny_non_iam_actions_without_mfa(action, context, expected):
    """notaction 'NotAction with Deny': DenyAllUsersNotUsingMFA with BoolIfExists."""
    result = evaluate(action, "arn:aws:s3:::b/k", MFA_DENY, doc(allow("*")), context=context)
    assert result.decision == expected
    if expected == DENY:
        assert "DenyAllUsersNotUsingMFA" in reason_sids(result, "Deny")


def test_notaction_deny_alone_does_not_grant_access():
    """notaction: 'this would not grant the user access to any actions; it would only
    explicitly deny all other actions except IAM actions.'"""
    ctx = {"aws:MultiFactorAuthPresent": "true"}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", MFA_DENY, context=ctx) == IMPLICIT
    assert decide("iam:ListUsers", "*", MFA_DENY, context=ctx) == IMPLICIT


# --------------------------------------------------------------------------------------
# elements_notresource
# --------------------------------------------------------------------------------------

HR_DENY = doc(
    {
        "Effect": "Deny",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
    }
)


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        pytest.param("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv", ALLOW, id="payroll"),
        pytest.param("s3:ListBucket", "arn:aws:s3:::HRBucket/Payroll", ALLOW, id="payroll-folder"),
        pytest.param("s3:GetObject", "arn:aws:s3:::HRBucket/Other/x.csv", DENY, id="other-folder"),
        pytest.param("s3:GetObject", "arn:aws:s3:::OtherBucket/x", DENY, id="other-bucket"),
        pytest.param(
            "ec2:StartInstances",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
            ALLOW,
            id="ec2-not-affected",
        ),
    ],
)
def test_notresource_hrpayroll_deny_everything_but_payroll(action, resource, expected):
    """notresource: HRPayroll group, Deny s3:* with NotResource HRBucket/Payroll(/*)."""
    assert decide(action, resource, HR_DENY, doc(allow("*"))) == expected


def test_notresource_deny_alone_does_not_grant_access():
    """notresource: 'Note, however, that this policy does not grant the user access to any
    resources.'"""
    assert decide("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv", HR_DENY) == IMPLICIT


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        pytest.param("iam:PutUserPolicy", f"arn:aws:iam::{ACCT}:user/Bob", ALLOW, id="iam"),
        pytest.param("s3:GetObject", "arn:aws:s3:::OtherBucket/x", ALLOW, id="other-bucket"),
        pytest.param("s3:ListBucket", "arn:aws:s3:::HRBucket", IMPLICIT, id="HRBucket-itself"),
    ],
)
def test_notresource_allow_star_except_hrbucket_is_dangerous(action, resource, expected):
    """notresource: '"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::HRBucket"
    ... allows all actions in AWS on all resources except the HRBucket S3 bucket.'"""
    policy = doc({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::HRBucket"})
    assert decide(action, resource, policy) == expected


# --------------------------------------------------------------------------------------
# elements_resource and elements_action: wildcards
# --------------------------------------------------------------------------------------

TEST_WILDCARD = doc(allow("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("1/test/object.jpg", ALLOW, id="1/test/object.jpg"),
        pytest.param("1/2/test/object.jpg", ALLOW, id="1/2/test/object.jpg"),
        pytest.param("1/2/test/3/object.jpg", ALLOW, id="1/2/test/3/object.jpg"),
        pytest.param("1/2/3/test/4/object.jpg", ALLOW, id="1/2/3/test/4/object.jpg"),
        pytest.param("1///test///object.jpg", ALLOW, id="1///test///object.jpg"),
        pytest.param("1/test/.jpg", ALLOW, id="1/test/.jpg"),
        pytest.param("/test/object.jpg", ALLOW, id="/test/object.jpg"),
        pytest.param("1/test/", ALLOW, id="1/test/"),
        pytest.param("1-test/object.jpg", IMPLICIT, id="NOT-1-test/object.jpg"),
        pytest.param("test/object.jpg", IMPLICIT, id="NOT-test/object.jpg"),
        pytest.param("1/2/test.jpg", IMPLICIT, id="NOT-1/2/test.jpg"),
    ],
)
def test_resource_doc_example_bucket_star_test_star_wildcard_list(key, expected):
    """elements_resource 'Using wildcards in resource ARNs': the
    DOC-EXAMPLE-BUCKET/*/test/* object list (matches and non-matches)."""
    resource = f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}"
    assert decide("s3:GetObject", resource, TEST_WILDCARD) == expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        pytest.param(
            f"arn:aws:iam::{ACCT}:user/accounting/*",
            f"arn:aws:iam::{ACCT}:user/accounting/alice",
            ALLOW,
            id="iam-path-accounting",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCT}:user/accounting/*",
            f"arn:aws:iam::{ACCT}:user/engineering/bob",
            IMPLICIT,
            id="iam-path-other",
        ),
        pytest.param(
            "arn:aws:sqs:us-east-2:*:queue1",
            f"arn:aws:sqs:us-east-2:{ACCT}:queue1",
            ALLOW,
            id="star-in-account-segment",
        ),
        pytest.param(
            "arn:aws:sqs:us-east-2:*:queue1",
            f"arn:aws:sqs:us-west-2:{ACCT}:queue1",
            IMPLICIT,
            id="region-segment-mismatch",
        ),
        pytest.param(
            f"arn:aws:someservice:*:{ACCT}:finance/*",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/doc.txt",
            IMPLICIT,
            id="star-does-not-span-colons-before-resource-segment",
        ),
        pytest.param(
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:app:*",
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:app:log-stream:s1",
            ALLOW,
            id="final-segment-may-contain-colons",
        ),
        pytest.param(
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Order?",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Orders",
            ALLOW,
            id="question-mark-one-char",
        ),
        pytest.param(
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Order?",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Order",
            IMPLICIT,
            id="question-mark-needs-a-char",
        ),
        pytest.param(
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Order?",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Orderss",
            IMPLICIT,
            id="question-mark-exactly-one-char",
        ),
        pytest.param(
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Orders",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Orders/index/ByDate",
            IMPLICIT,
            id="no-implicit-prefix-match",
        ),
    ],
)
def test_resource_arn_segment_wildcards(pattern, resource, expected):
    """elements_resource: 'wildcard characters (* and ?) within ARN segments (the parts
    separated by colons)'; the * may expand across '/' within a segment."""
    assert decide("someservice:Do", resource, doc(allow("*", pattern))) == expected


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param("books_table", ALLOW, id="books"),
        pytest.param("magazines_table", ALLOW, id="magazines"),
        pytest.param("comics_table", IMPLICIT, id="comics-not-listed"),
    ],
)
def test_resource_multiple_resources(table, expected):
    """elements_resource 'Specifying multiple resources': books_table and magazines_table."""
    policy = doc(
        allow(
            "dynamodb:*",
            [
                f"arn:aws:dynamodb:us-east-2:{ACCT}:table/books_table",
                f"arn:aws:dynamodb:us-east-2:{ACCT}:table/magazines_table",
            ],
        )
    )
    resource = f"arn:aws:dynamodb:us-east-2:{ACCT}:table/{table}"
    assert decide("dynamodb:GetItem", resource, policy) == expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("iam:CreateAccessKey", ALLOW, id="CreateAccessKey"),
        pytest.param("iam:DeleteAccessKey", ALLOW, id="DeleteAccessKey"),
        pytest.param("iam:ListAccessKeys", ALLOW, id="ListAccessKeys"),
        pytest.param("iam:UpdateAccessKey", ALLOW, id="UpdateAccessKey"),
        pytest.param("IAM:listaccesskeys", ALLOW, id="prefix-and-name-case-insensitive"),
        pytest.param("iam:CreateUser", IMPLICIT, id="CreateUser-not-matched"),
        pytest.param("sts:CreateAccessKey", IMPLICIT, id="other-service-same-name"),
    ],
)
def test_action_wildcard_inside_action_name(action, expected):
    """elements_action: '"Action": "iam:*AccessKey*"' applies to CreateAccessKey,
    DeleteAccessKey, ListAccessKeys and UpdateAccessKey; 'iam:ListAccessKeys is the same
    as IAM:listaccesskeys'."""
    assert decide(action, "*", doc(allow("iam:*AccessKey*"))) == expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("dynamodb:GetItem", ALLOW, id="GetItem"),
        pytest.param("dynamodb:BatchGetItem", IMPLICIT, id="BatchGetItem-anchored"),
        pytest.param("sqs:SendMessage", ALLOW, id="list-member"),
        pytest.param("sqs:ReceiveMessage", IMPLICIT, id="not-a-list-member"),
    ],
)
def test_action_list_and_anchored_wildcards(action, expected):
    """elements_action: multiple values for Action, and 'dynamodb:Get*' matches only
    actions that start with Get."""
    policy = doc(allow(["dynamodb:Get*", "SQS:SendMessage"]))
    assert decide(action, "*", policy) == expected


def test_grammar_action_star_matches_every_action():
    """grammar action_block: '"Action":"*"'."""
    policy = doc(allow("*"))
    assert decide("ec2:RunInstances", "*", policy) == ALLOW
    assert decide("dynamodb:DeleteTable", TABLE, policy) == ALLOW


# --------------------------------------------------------------------------------------
# condition_operators: String
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param({"aws:PrincipalTag/job-category": "iamuser-admin"}, ALLOW, id="tagged"),
        pytest.param({"aws:PrincipalTag/job-category": "dev"}, IMPLICIT, id="other-value"),
        pytest.param({"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"}, IMPLICIT, id="case"),
        pytest.param({}, IMPLICIT, id="tag-absent"),
    ],
)
def test_condition_operators_string_equals_principal_tag(context, expected):
    """condition_operators String: StringEquals aws:PrincipalTag/job-category
    iamuser-admin; 'If a user without the tag attempts ... the condition returns false'."""
    policy = doc(
        allow(
            "iam:*AccessKey*",
            f"arn:aws:iam::{ACCT}:user/*",
            {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        )
    )
    result = evaluate("iam:CreateAccessKey", user(), policy, context=context)
    assert result.decision == expected


@pytest.mark.parametrize(
    ("operator", "username", "expected"),
    [
        pytest.param("StringEquals", "johndoe", ALLOW, id="StringEquals-exact"),
        pytest.param("StringEquals", "JohnDoe", IMPLICIT, id="StringEquals-case-sensitive"),
        pytest.param("StringEqualsIgnoreCase", "JohnDoe", ALLOW, id="IgnoreCase-JohnDoe"),
        pytest.param("StringEqualsIgnoreCase", "johndoe", ALLOW, id="IgnoreCase-johndoe"),
        pytest.param("StringNotEquals", "JohnDoe", ALLOW, id="StringNotEquals-differs"),
        pytest.param("StringNotEquals", "johndoe", IMPLICIT, id="StringNotEquals-same"),
        pytest.param("StringNotEqualsIgnoreCase", "JohnDoe", IMPLICIT, id="NotEqualsIgnoreCase"),
        pytest.param("StringNotEqualsIgnoreCase", "janedoe", ALLOW, id="NotEqualsIgnoreCase-2"),
    ],
)
def test_condition_string_case_sensitivity_johndoe(operator, username, expected):
    """elements_condition: StringEquals aws:username johndoe: 'Users named JohnDoe are
    denied access'; StringEqualsIgnoreCase matches 'johndoe or JohnDoe'."""
    policy = doc(allow("s3:GetObject", "*", {operator: {"aws:username": "johndoe"}}))
    result = evaluate(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        policy,
        principal=user(username),
        context={"aws:username": username},
    )
    assert result.decision == expected


@pytest.mark.parametrize(
    ("policy_key", "context_key"),
    [
        pytest.param("aws:SourceIP", "AWS:SourceIp", id="aws:SourceIP==AWS:SourceIp"),
        pytest.param("AWS:USERNAME", "aws:username", id="upper-policy-key"),
        pytest.param("aws:ResourceTag/TagKey1", "aws:resourcetag/tagkey1", id="tag-key-case"),
    ],
)
def test_condition_key_names_are_case_insensitive(policy_key, context_key):
    """elements_condition: 'Condition key names are not case-sensitive. For example,
    including the aws:SourceIP condition key is equivalent to testing for AWS:SourceIp';
    tag key names: 'matches a resource tag key named either TagKey1 or tagkey1'."""
    policy = doc(allow("s3:GetObject", "*", {"StringEquals": {policy_key: "Value1"}}))
    ctx = {context_key: "Value1"}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == ALLOW
    ctx_other = {context_key: "value1"}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx_other) == IMPLICIT


HOME_DIR_POLICY = doc(
    allow(["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "arn:aws:s3:::*"),
    allow(
        "s3:ListBucket",
        "arn:aws:s3:::BUCKET-NAME",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
    ),
    allow(
        "s3:*",
        [
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}",
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*",
        ],
    ),
)


@pytest.mark.parametrize(
    ("action", "resource", "prefix", "expected"),
    [
        pytest.param("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", "", ALLOW, id="prefix-empty"),
        pytest.param("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", "home/", ALLOW, id="home/"),
        pytest.param(
            "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", "home/Bob/", ALLOW, id="home/Bob/"
        ),
        pytest.param(
            "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", "home/Alice/", IMPLICIT, id="home/Alice/"
        ),
        pytest.param(
            "s3:ListBucket",
            "arn:aws:s3:::BUCKET-NAME",
            "home/Bob/deeper/",
            IMPLICIT,
            id="no-wildcard-no-partial-match",
        ),
        pytest.param(
            "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", None, IMPLICIT, id="prefix-absent"
        ),
        pytest.param(
            "s3:PutObject", "arn:aws:s3:::BUCKET-NAME/home/Bob/cv.pdf", None, ALLOW, id="own-obj"
        ),
        pytest.param(
            "s3:PutObject",
            "arn:aws:s3:::BUCKET-NAME/home/Alice/cv.pdf",
            None,
            IMPLICIT,
            id="other-home-obj",
        ),
    ],
)
def test_condition_operators_stringlike_s3_prefix_home_username(action, resource, prefix, expected):
    """condition_operators: StringLike s3:prefix ["", "home/", "home/${aws:username}/"]
    home-directory example, with Resource home/${aws:username}/*."""
    context: dict[str, Any] = {"aws:username": "Bob"}
    if prefix is not None:
        context["s3:prefix"] = prefix
    assert decide(action, resource, HOME_DIR_POLICY, context=context) == expected


@pytest.mark.parametrize(
    ("team", "expected"),
    [
        pytest.param(None, DENY, id="tag-absent-negated-operator-true"),
        pytest.param("eng-data", ALLOW, id="like-pattern"),
        pytest.param("sales", DENY, id="not-like-pattern"),
        pytest.param("eng", DENY, id="star-needs-the-dash"),
    ],
)
def test_condition_operators_string_not_like_missing_key_is_true(team, expected):
    """condition_operators Important: 'If the policy condition requires that the key is
    not matched, such as StringNotLike or ArnNotLike, and the right key is not present,
    the condition is true.'"""
    policy = doc(
        allow("s3:GetObject"),
        deny("s3:GetObject", "*", {"StringNotLike": {"aws:PrincipalTag/team": "eng-*"}}),
    )
    context = {} if team is None else {"aws:PrincipalTag/team": team}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=context) == expected


# --------------------------------------------------------------------------------------
# condition_operators: Numeric
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_keys", "expected"),
    [
        pytest.param("10", ALLOW, id="10-equal"),
        pytest.param("9", ALLOW, id="9-less"),
        pytest.param("11", IMPLICIT, id="11-greater"),
        pytest.param("100", IMPLICIT, id="100-numeric-not-lexicographic"),
        pytest.param(None, IMPLICIT, id="key-absent"),
    ],
)
def test_condition_operators_numeric_less_than_equals_max_keys(max_keys, expected):
    """condition_operators Numeric: NumericLessThanEquals s3:max-keys 10 on example_bucket."""
    policy = doc(
        allow(
            "s3:ListBucket",
            "arn:aws:s3:::example_bucket",
            {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        )
    )
    context = {} if max_keys is None else {"s3:max-keys": max_keys}
    assert decide("s3:ListBucket", "arn:aws:s3:::example_bucket", policy, context=context) == (
        expected
    )


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "expected"),
    [
        pytest.param("NumericEquals", "10", "10", ALLOW, id="Equals"),
        pytest.param("NumericEquals", ["10", "20"], "20", ALLOW, id="Equals-any-of-values"),
        pytest.param("NumericEquals", "10", "11", IMPLICIT, id="Equals-no"),
        pytest.param("NumericNotEquals", "10", "11", ALLOW, id="NotEquals"),
        pytest.param("NumericNotEquals", ["10", "11"], "11", IMPLICIT, id="NotEquals-any-AND"),
        pytest.param("NumericLessThan", "2.5", "2.49", ALLOW, id="LessThan-decimal"),
        pytest.param("NumericLessThan", "2.5", "2.5", IMPLICIT, id="LessThan-equal"),
        pytest.param("NumericGreaterThan", "10", "10.5", ALLOW, id="GreaterThan"),
        pytest.param("NumericGreaterThan", "10", "10", IMPLICIT, id="GreaterThan-equal"),
        pytest.param("NumericGreaterThanEquals", "10", "10", ALLOW, id="GreaterThanEquals"),
        pytest.param("NumericGreaterThanEquals", "10", "-3", IMPLICIT, id="GTE-negative"),
    ],
)
def test_condition_operators_numeric_family(operator, policy_value, request_value, expected):
    """condition_operators Numeric table: NumericEquals, NumericNotEquals, NumericLessThan,
    NumericLessThanEquals, NumericGreaterThan, NumericGreaterThanEquals (integer or
    decimal)."""
    policy = doc(allow("s3:ListBucket", "*", {operator: {"s3:max-keys": policy_value}}))
    ctx = {"s3:max-keys": request_value}
    assert decide("s3:ListBucket", "arn:aws:s3:::b", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("resource_user", "mfa_age", "expected"),
    [
        pytest.param("Bob", "300", ALLOW, id="recent-mfa"),
        pytest.param("Bob", "3600", ALLOW, id="exactly-one-hour"),
        pytest.param("Bob", "7200", IMPLICIT, id="old-mfa"),
        pytest.param("Bob", None, IMPLICIT, id="not-present-access-keys"),
        pytest.param("Alice", "300", IMPLICIT, id="someone-elses-device"),
    ],
)
def test_condition_allow_remove_mfa_only_if_recent_mfa(resource_user, mfa_age, expected):
    """elements_condition 'The request context': AllowRemoveMfaOnlyIfRecentMfa with
    NumericLessThanEquals aws:MultiFactorAuthAge 3600 and Resource user/${aws:username}."""
    policy = doc(
        allow(
            ["iam:DeactivateMFADevice"],
            "arn:aws:iam::*:user/${aws:username}",
            {"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"}},
            Sid="AllowRemoveMfaOnlyIfRecentMfa",
        )
    )
    context = {"aws:username": "Bob"}
    if mfa_age is not None:
        context["aws:MultiFactorAuthAge"] = mfa_age
    result = evaluate(
        "iam:DeactivateMFADevice", user(resource_user), policy, principal=user(), context=context
    )
    assert result.decision == expected
    if expected == ALLOW:
        assert "AllowRemoveMfaOnlyIfRecentMfa" in reason_sids(result, "Allow")


# --------------------------------------------------------------------------------------
# condition_operators: Date (ISO 8601 and epoch)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy_value", "issued", "expected"),
    [
        pytest.param("2020-01-01T00:00:01Z", "2020-06-01T00:00:00Z", ALLOW, id="iso-after"),
        pytest.param("2020-01-01T00:00:01Z", "2019-12-31T23:59:59Z", IMPLICIT, id="iso-before"),
        pytest.param("2020-01-01T00:00:01Z", "2020-01-01T00:00:01Z", IMPLICIT, id="iso-equal"),
        pytest.param("2020-01-01T00:00:01Z", None, IMPLICIT, id="no-temp-credentials"),
        pytest.param("1577836801", "2020-06-01T00:00:00Z", ALLOW, id="epoch-policy-after"),
        pytest.param("1577836801", "2019-12-31T23:59:59Z", IMPLICIT, id="epoch-policy-before"),
        pytest.param("2020-01-01T00:00:01Z", "1590969600", ALLOW, id="epoch-request-after"),
        pytest.param("2020-01-01T01:00:01+01:00", "2020-01-01T00:00:02Z", ALLOW, id="offset-tz"),
        pytest.param("2020-01-01T01:00:01+01:00", "2020-01-01T00:00:00Z", IMPLICIT, id="tz-2"),
    ],
)
def test_condition_operators_date_greater_than_token_issue_time(policy_value, issued, expected):
    """condition_operators Date: DateGreaterThan aws:TokenIssueTime 2020-01-01T00:00:01Z;
    'You must specify date/time values with one of the W3C implementations of the ISO 8601
    date formats or in epoch (UNIX) time.' Key absent for access-key requests."""
    policy = doc(
        allow(
            "iam:*AccessKey*",
            f"arn:aws:iam::{ACCT}:user/*",
            {"DateGreaterThan": {"aws:TokenIssueTime": policy_value}},
        )
    )
    context = {} if issued is None else {"aws:TokenIssueTime": issued}
    assert decide("iam:ListAccessKeys", user(), policy, context=context) == expected


@pytest.mark.parametrize(
    ("operator", "policy_value", "now", "expected"),
    [
        pytest.param("DateEquals", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", ALLOW, id="Eq"),
        pytest.param(
            "DateEquals", "2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z", ALLOW, id="Eq-tz"
        ),
        pytest.param(
            "DateEquals", "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", IMPLICIT, id="Eq-no"
        ),
        pytest.param(
            "DateNotEquals", "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", ALLOW, id="NotEq"
        ),
        pytest.param(
            "DateLessThan", "2024-05-01T12:00:00Z", "2024-05-01T11:59:59Z", ALLOW, id="Lt"
        ),
        pytest.param(
            "DateLessThan", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", IMPLICIT, id="Lt-eq"
        ),
        pytest.param(
            "DateLessThanEquals", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", ALLOW, id="Lte"
        ),
        pytest.param(
            "DateGreaterThanEquals", "2024-05-01", "2024-05-01T00:00:00Z", ALLOW, id="Gte-date"
        ),
        pytest.param(
            "DateGreaterThanEquals", "2024-05-01", "2024-04-30T23:59:59Z", IMPLICIT, id="Gte-no"
        ),
        pytest.param("DateLessThan", "1714564800", "2024-05-01T11:00:00Z", ALLOW, id="Lt-epoch"),
        pytest.param(
            "DateEquals",
            "2024-05-01T12:00:00.000Z",
            "2024-05-01T12:00:00Z",
            ALLOW,
            id="Eq-fractional-seconds",
        ),
        pytest.param(
            "DateLessThan", "2024-05-01T12:00Z", "2024-05-01T11:59:00Z", ALLOW, id="w3c-hh:mmTZD"
        ),
        pytest.param(
            "DateGreaterThan", "1714564800", "2024-05-01T11:00:00Z", IMPLICIT, id="Gt-epoch"
        ),
    ],
)
def test_condition_operators_date_family_current_time(operator, policy_value, now, expected):
    """condition_operators Date table with aws:CurrentTime (ISO 8601 W3C forms and epoch;
    1714564800 is 2024-05-01T12:00:00Z)."""
    policy = doc(allow("s3:GetObject", "*", {operator: {"aws:CurrentTime": policy_value}}))
    ctx = {"aws:CurrentTime": now}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == expected


def test_condition_operators_date_epoch_time_key():
    """condition_operators Date: used 'with aws:CurrentTime key or aws:EpochTime key'."""
    policy = doc(allow("s3:GetObject", "*", {"DateGreaterThan": {"aws:EpochTime": "1577836801"}}))
    assert (
        decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context={"aws:EpochTime": "1700000000"})
        == ALLOW
    )
    assert (
        decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context={"aws:EpochTime": "1500000000"})
        == IMPLICIT
    )


# --------------------------------------------------------------------------------------
# condition_operators: Bool, Binary
# --------------------------------------------------------------------------------------

BOOLEAN_EXAMPLE = doc(
    {
        "Sid": "BooleanExample",
        "Action": "s3:*",
        "Effect": "Deny",
        "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)


@pytest.mark.parametrize(
    ("secure", "resource", "expected"),
    [
        pytest.param("false", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a.txt", DENY, id="http-object"),
        pytest.param("false", "arn:aws:s3:::DOC-EXAMPLE-BUCKET", DENY, id="http-bucket"),
        pytest.param("true", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a.txt", ALLOW, id="https"),
        pytest.param("false", "arn:aws:s3:::OTHER-BUCKET/a.txt", ALLOW, id="other-bucket"),
    ],
)
def test_condition_operators_bool_secure_transport(secure, resource, expected):
    """condition_operators Boolean: BooleanExample denies S3 on DOC-EXAMPLE-BUCKET 'if the
    request is not over SSL'."""
    result = evaluate(
        "s3:GetObject",
        resource,
        BOOLEAN_EXAMPLE,
        doc(allow("s3:*")),
        context={"aws:SecureTransport": secure},
    )
    assert result.decision == expected
    if expected == DENY:
        assert result.denied_by == IDENTITY
        assert "BooleanExample" in reason_sids(result, "Deny")


def test_condition_operators_bool_example_alone_allows_nothing():
    """condition_operators Boolean Important: 'This policy does not allow any actions.'"""
    ctx = {"aws:SecureTransport": "true"}
    result = evaluate(
        "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a", BOOLEAN_EXAMPLE, context=ctx
    )
    assert result.decision == IMPLICIT
    assert result.denied_by == IDENTITY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("QmluYXJ5VmFsdWVJbkJhc2U2NA==", ALLOW, id="same-bytes"),
        pytest.param("T3RoZXJWYWx1ZQ==", IMPLICIT, id="different-bytes"),
        pytest.param(None, IMPLICIT, id="key-absent"),
    ],
)
def test_condition_operators_binary_equals(value, expected):
    """condition_operators Binary: BinaryEquals compares 'byte for byte against a base-64
    encoded representation of the binary value in the policy'; absent key does not match."""
    policy = doc(
        allow(
            "s3:GetObject", "*", {"BinaryEquals": {"custom:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}
        )
    )
    context = {} if value is None else {"custom:blob": value}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=context) == expected


# --------------------------------------------------------------------------------------
# condition_operators: IpAddress / NotIpAddress
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_ip", "expected"),
    [
        pytest.param("203.0.113.0", ALLOW, id="range-start"),
        pytest.param("203.0.113.255", ALLOW, id="range-end"),
        pytest.param("203.0.114.1", IMPLICIT, id="outside"),
        pytest.param(None, IMPLICIT, id="vpc-endpoint-no-key"),
    ],
)
def test_condition_operators_ip_address_ipv4_range(source_ip, expected):
    """condition_operators IP: IpAddress aws:SourceIp 203.0.113.0/24 'must come from the
    IP range 203.0.113.0 to 203.0.113.255'; without the key 'the condition returns false'."""
    policy = doc(
        allow(
            "iam:*AccessKey*",
            f"arn:aws:iam::{ACCT}:user/*",
            {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        )
    )
    context = {} if source_ip is None else {"aws:SourceIp": source_ip}
    assert decide("iam:ListAccessKeys", user(), policy, context=context) == expected


@pytest.mark.parametrize(
    ("source_ip", "expected"),
    [
        pytest.param("203.0.113.77", ALLOW, id="ipv4"),
        pytest.param("2001:DB8:1234:5678::1", ALLOW, id="ipv6-in-prefix"),
        pytest.param("2001:db8:1234:5678:ffff:ffff:ffff:ffff", ALLOW, id="ipv6-lowercase-end"),
        pytest.param("2001:DB8:1234:5679::1", IMPLICIT, id="ipv6-outside"),
        pytest.param("198.51.100.1", IMPLICIT, id="ipv4-outside"),
    ],
)
def test_condition_operators_ip_address_mixed_ipv4_ipv6(source_ip, expected):
    """condition_operators IP: someservice:* with aws:SourceIp ["203.0.113.0/24",
    "2001:DB8:1234:5678::/64"]."""
    policy = doc(
        allow(
            "someservice:*",
            "*",
            {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        )
    )
    ctx = {"aws:SourceIp": source_ip}
    assert decide("someservice:DoThing", "*", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("source_ip", "expected"),
    [
        pytest.param("203.0.113.5", ALLOW, id="exact-address"),
        pytest.param("203.0.113.6", IMPLICIT, id="neighbour-outside-/32"),
    ],
)
def test_condition_operators_ip_address_without_prefix_means_slash_32(source_ip, expected):
    """condition_operators IP: 'If you specify an IP address without the associated routing
    prefix, IAM uses the default prefix value of /32.'"""
    policy = doc(allow("s3:GetObject", "*", {"IpAddress": {"aws:SourceIp": "203.0.113.5"}}))
    ctx = {"aws:SourceIp": source_ip}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("source_ip", "expected"),
    [
        pytest.param("203.0.113.9", ALLOW, id="inside-not-denied"),
        pytest.param("2001:db8:1234:5678::9", ALLOW, id="inside-ipv6-not-denied"),
        pytest.param("198.51.100.1", DENY, id="outside-denied"),
        pytest.param(None, DENY, id="absent-negated-operator-true"),
    ],
)
def test_condition_operators_not_ip_address_deny(source_ip, expected):
    """condition_operators NotIpAddress: 'All IP addresses except the specified IP address
    or range'; Important: a negated operator with the key absent is true."""
    policy = doc(
        allow("s3:*"),
        deny(
            "s3:*",
            "*",
            {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
            Sid="OfficeOnly",
        ),
    )
    context = {} if source_ip is None else {"aws:SourceIp": source_ip}
    result = evaluate("s3:GetObject", "arn:aws:s3:::b/k", policy, context=context)
    assert result.decision == expected
    if expected == DENY:
        assert "OfficeOnly" in reason_sids(result, "Deny")


# --------------------------------------------------------------------------------------
# condition_operators: ARN operators vs String operators
# --------------------------------------------------------------------------------------

FINANCE_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"
ODD_ARN = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
GOOD_ARN = "arn:aws:someservice:us-east-2:111122223333:finance/document.txt"


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        pytest.param("StringLike", ODD_ARN, ALLOW, id="StringLike-star-spans-colons"),
        pytest.param("ArnLike", ODD_ARN, IMPLICIT, id="ArnLike-matches-between-colons"),
        pytest.param("ArnEquals", ODD_ARN, IMPLICIT, id="ArnEquals-same-as-ArnLike"),
        pytest.param("ArnLike", GOOD_ARN, ALLOW, id="ArnLike-proper-finance-arn"),
        pytest.param("ArnEquals", GOOD_ARN, ALLOW, id="ArnEquals-wildcards-too"),
        pytest.param("ArnNotLike", ODD_ARN, ALLOW, id="ArnNotLike-odd"),
        pytest.param("ArnNotEquals", GOOD_ARN, IMPLICIT, id="ArnNotEquals-good"),
    ],
)
def test_condition_operators_arnlike_vs_stringlike_finance(operator, value, expected):
    """condition_operators ARN: pattern arn:aws:someservice:*:111122223333:finance/* and
    the store/abc value: 'With a StringLike condition, the match succeeds ... With an
    ArnLike condition ... the match fails'; 'ArnEquals and ArnLike ... behave identically'."""
    policy = doc(allow("someservice:*", "*", {operator: {"aws:SourceArn": FINANCE_PATTERN}}))
    ctx = {"aws:SourceArn": value}
    assert decide("someservice:Read", "*", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("source_arn", "expected"),
    [
        pytest.param(f"arn:aws:sns:us-east-2:{ACCT}:TOPIC-ID", ALLOW, id="the-topic"),
        pytest.param(f"arn:aws:sns:us-east-2:{ACCT}:OTHER", IMPLICIT, id="other-topic"),
        pytest.param(None, IMPLICIT, id="direct-call-no-source-arn"),
    ],
)
def test_condition_operators_arn_equals_sqs_source_arn(source_arn, expected):
    """condition_operators ARN: SQS:SendMessage with ArnEquals aws:SourceArn TOPIC-ID; 'If
    an IAM user attempts to perform this operation directly, the condition returns false'.
    Also 'SQS:SendMessage' (upper-case prefix) matches sqs:SendMessage."""
    policy = doc(
        allow(
            "SQS:SendMessage",
            f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID",
            {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-2:{ACCT}:TOPIC-ID"}},
        )
    )
    context = {} if source_arn is None else {"aws:SourceArn": source_arn}
    result = evaluate(
        "sqs:SendMessage", f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID", policy, context=context
    )
    assert result.decision == expected


def test_condition_operators_sqs_queue_policy_with_account_principal_grants_nothing_alone():
    """condition_operators ARN: the SQS queue resource policy with Principal {"AWS":
    account} grants nothing by itself; the account must delegate with an identity policy."""
    queue = f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID"
    topic = f"arn:aws:sns:us-east-2:{ACCT}:TOPIC-ID"
    queue_policy = doc(
        rp_allow(ACCT, "SQS:SendMessage", queue, Condition={"ArnEquals": {"aws:SourceArn": topic}})
    )
    ctx = {"aws:SourceArn": topic}
    assert decide("sqs:SendMessage", queue, resource_policy=queue_policy, context=ctx) == IMPLICIT
    identity = doc(allow("sqs:SendMessage", queue))
    assert (
        decide("sqs:SendMessage", queue, identity, resource_policy=queue_policy, context=ctx)
        == ALLOW
    )


ABSENT_KEY_CASES = [
    pytest.param("StringEquals", "x", IMPLICIT, id="StringEquals"),
    pytest.param("StringEqualsIgnoreCase", "x", IMPLICIT, id="StringEqualsIgnoreCase"),
    pytest.param("StringLike", "*", IMPLICIT, id="StringLike-star-still-needs-key"),
    pytest.param("NumericEquals", "1", IMPLICIT, id="NumericEquals"),
    pytest.param("NumericLessThan", "1", IMPLICIT, id="NumericLessThan"),
    pytest.param("DateGreaterThan", "2020-01-01T00:00:00Z", IMPLICIT, id="DateGreaterThan"),
    pytest.param("Bool", "false", IMPLICIT, id="Bool"),
    pytest.param("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", IMPLICIT, id="BinaryEquals"),
    pytest.param("IpAddress", "0.0.0.0/0", IMPLICIT, id="IpAddress-any"),
    pytest.param("ArnLike", "arn:*:*:*:*:*", IMPLICIT, id="ArnLike-any"),
    pytest.param("StringNotEquals", "x", ALLOW, id="StringNotEquals"),
    pytest.param("StringNotEqualsIgnoreCase", "x", ALLOW, id="StringNotEqualsIgnoreCase"),
    pytest.param("StringNotLike", "*", ALLOW, id="StringNotLike"),
    pytest.param("NumericNotEquals", "1", ALLOW, id="NumericNotEquals"),
    pytest.param("DateNotEquals", "2020-01-01T00:00:00Z", ALLOW, id="DateNotEquals"),
    pytest.param("NotIpAddress", "0.0.0.0/0", ALLOW, id="NotIpAddress"),
    pytest.param("ArnNotEquals", "arn:aws:sns:us-east-1:111122223333:t", ALLOW, id="ArnNotEquals"),
    pytest.param("ArnNotLike", "arn:*:*:*:*:*", ALLOW, id="ArnNotLike"),
    pytest.param("StringEqualsIfExists", "x", ALLOW, id="IfExists-absent-is-true"),
    pytest.param("NumericLessThanIfExists", "1", ALLOW, id="NumericIfExists"),
    pytest.param("ForAllValues:StringEquals", "x", ALLOW, id="ForAllValues-absent-true"),
    pytest.param("ForAllValues:StringNotEquals", "x", ALLOW, id="ForAllValues-negated-absent"),
    pytest.param("ForAnyValue:StringEquals", "x", IMPLICIT, id="ForAnyValue-absent-false"),
    pytest.param("ForAnyValue:StringNotEquals", "x", IMPLICIT, id="ForAnyValue-negated-absent"),
]


@pytest.mark.parametrize(("operator", "value", "expected"), ABSENT_KEY_CASES)
def test_condition_operators_key_absent_from_request_context(operator, value, expected):
    """condition_operators Important: 'If the key ... is not present in the request context,
    the values do not match and the condition is false. If the policy condition requires
    that the key is not matched ... the condition is true. This logic applies to all
    condition operators except ...IfExists and Null'; multi-value-conditions for the
    ForAllValues (true) / ForAnyValue (false) set operators."""
    policy = doc(allow("s3:GetObject", "*", {operator: {"custom:absent": value}}))
    ctx = {"custom:present": "x"}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param(["TopScore", "TopScoreDateTime", "UserId"], ALLOW, id="pattern-matches"),
        pytest.param(["UserId", "Wins"], IMPLICIT, id="one-outside-pattern"),
        pytest.param(["topscore"], IMPLICIT, id="case-sensitive"),
    ],
)
def test_dynamodb_example2_variation_forallvalues_string_like_pattern(attributes, expected):
    """dynamodb-specifying-conditions example 2 variations: 'To allow all attributes whose
    name matches a pattern, use StringLike instead of StringEquals, and use a
    multi-character pattern match wildcard character (*).'"""
    policy = doc(
        allow(
            "dynamodb:GetItem",
            GAME_SCORES,
            {"ForAllValues:StringLike": {"dynamodb:Attributes": ["Top*", "UserId"]}},
        )
    )
    ctx = {"dynamodb:Attributes": attributes}
    assert decide("dynamodb:GetItem", GAME_SCORES, policy, context=ctx) == expected


# --------------------------------------------------------------------------------------
# condition_operators: ...IfExists and Null
# --------------------------------------------------------------------------------------

INSTANCE = f"arn:aws:ec2:us-east-1:{ACCT}:instance/*"
IMAGE = "arn:aws:ec2:us-east-1::image/ami-12345678"


@pytest.mark.parametrize(
    ("operator", "resource", "instance_type", "expected"),
    [
        pytest.param("StringLike", IMAGE, None, IMPLICIT, id="DOESNOTWORK-image-has-no-key"),
        pytest.param("StringLike", INSTANCE, "t2.micro", ALLOW, id="DOESNOTWORK-instance"),
        pytest.param("StringLikeIfExists", IMAGE, None, ALLOW, id="IfExists-image"),
        pytest.param("StringLikeIfExists", INSTANCE, "t2.micro", ALLOW, id="IfExists-t2"),
        pytest.param("StringLikeIfExists", INSTANCE, "m3.large", ALLOW, id="IfExists-m3"),
        pytest.param("StringLikeIfExists", INSTANCE, "c5.large", IMPLICIT, id="IfExists-c5"),
    ],
)
def test_condition_operators_ifexists_ec2_instance_type(
    operator, resource, instance_type, expected
):
    """condition_operators '...IfExists': THISPOLICYDOESNOTWORK (StringLike ec2:InstanceType)
    vs the fixed RunInstance statement with StringLikeIfExists."""
    policy = doc(
        allow(
            "ec2:RunInstances",
            "*",
            {operator: {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
            Sid="RunInstance",
        ),
        allow(
            [
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeVpcs",
                "ec2:DescribeKeyPairs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            "*",
            Sid="DescribeActions",
        ),
    )
    context = {} if instance_type is None else {"ec2:InstanceType": instance_type}
    result = evaluate("ec2:RunInstances", resource, policy, context=context)
    assert result.decision == expected
    if expected == ALLOW:
        assert "RunInstance" in reason_sids(result, "Allow")


def test_condition_operators_ifexists_describe_actions_statement():
    """condition_operators '...IfExists': the DescribeActions statement lets the user view
    instances in the console."""
    policy = doc(allow(["ec2:DescribeImages", "ec2:DescribeInstances"], "*", Sid="DescribeActions"))
    result = evaluate("ec2:DescribeInstances", "*", policy)
    assert result.decision == ALLOW
    assert "DescribeActions" in reason_sids(result, "Allow")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(None, DENY, id="tag-missing-still-denied"),
        pytest.param("dev", DENY, id="other-value-denied"),
        pytest.param("prod", ALLOW, id="matching-value-not-denied"),
    ],
)
def test_condition_operators_deny_with_negated_ifexists_denies_when_key_missing(env, expected):
    """condition_operators '...IfExists': 'If you are using an "Effect": "Deny" element with
    a negated condition operator like StringNotEqualsIfExists, the request is still denied
    even if the tag is missing.'"""
    policy = doc(
        allow("ec2:*"),
        deny("ec2:*", "*", {"StringNotEqualsIfExists": {"aws:ResourceTag/env": "prod"}}),
    )
    context = {} if env is None else {"aws:ResourceTag/env": env}
    assert decide("ec2:StopInstances", INSTANCE, policy, context=context) == expected


@pytest.mark.parametrize(
    ("null_value", "context", "expected"),
    [
        pytest.param("true", {}, ALLOW, id="true-long-term-keys"),
        pytest.param(
            "true", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, IMPLICIT, id="true-temp-creds"
        ),
        pytest.param(
            "false", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, ALLOW, id="false-present"
        ),
        pytest.param("false", {}, IMPLICIT, id="false-absent"),
        pytest.param("true", {"aws:TokenIssueTime": []}, ALLOW, id="empty-list-is-absent"),
    ],
)
def test_condition_operators_null_token_issue_time(null_value, context, expected):
    """condition_operators Null: 'true (the key doesn't exist — it is null) or false (the
    key exists and its value is not null)'; ec2:* only without temporary credentials."""
    policy = doc(
        {
            "Action": "ec2:*",
            "Effect": "Allow",
            "Resource": "*",
            "Condition": {"Null": {"aws:TokenIssueTime": null_value}},
        }
    )
    assert decide("ec2:DescribeInstances", "*", policy, context=context) == expected


# --------------------------------------------------------------------------------------
# multi-value-conditions: AND / OR, ForAllValues, ForAnyValue
# --------------------------------------------------------------------------------------

AND_OR_CONDITION = {
    "StringEqualsIgnoreCase": {
        "aws:PrincipalTag/department": ["finance", "hr", "legal"],
        "aws:PrincipalTag/role": ["audit", "security"],
    },
    "StringEquals": {"aws:PrincipalAccount": "123456789012"},
}
BASE_CTX = {
    "aws:PrincipalTag/department": "HR",
    "aws:PrincipalTag/role": "audit",
    "aws:PrincipalAccount": "123456789012",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, ALLOW, id="all-conditions-true"),
        pytest.param({"aws:PrincipalTag/department": "Legal"}, ALLOW, id="OR-over-values"),
        pytest.param({"aws:PrincipalTag/department": "marketing"}, IMPLICIT, id="dept-no"),
        pytest.param({"aws:PrincipalTag/role": None}, IMPLICIT, id="second-key-missing-AND"),
        pytest.param({"aws:PrincipalAccount": "999999999999"}, IMPLICIT, id="operator-AND"),
    ],
)
def test_multi_value_conditions_multiple_keys_and_multiple_values_or(changes, expected):
    """multi-value-conditions 'Evaluation logic for conditions with multiple keys or values':
    multiple operators/keys are AND, multiple values for one key are OR."""
    context = {k: v for k, v in {**BASE_CTX, **changes}.items() if v is not None}
    policy = doc(allow("s3:GetObject", "*", AND_OR_CONDITION))
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=context) == expected


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        pytest.param("111111111111", ALLOW, id="listed-first-not-denied"),
        pytest.param("222222222222", ALLOW, id="listed-second-not-denied"),
        pytest.param("333333333333", DENY, id="unlisted-denied"),
    ],
)
def test_multi_value_conditions_negated_operator_multiple_values_is_and(account, expected):
    """multi-value-conditions Note: 'When multiple values are listed in a policy for negated
    matching condition operators such as StringNotEquals ... the effective permissions work
    like a logical AND.'"""
    policy = doc(
        allow("s3:*"),
        deny(
            "s3:*",
            "*",
            {"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}},
        ),
    )
    ctx = {"aws:PrincipalAccount": account}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == expected


@pytest.mark.parametrize(
    ("operator", "request_values", "expected"),
    [
        pytest.param("StringEquals", ["a", "b"], ALLOW, id="positive-any-request-value"),
        pytest.param("StringEquals", ["a", "c"], IMPLICIT, id="positive-none"),
        pytest.param("StringNotEquals", ["a", "b"], IMPLICIT, id="negated-is-not-positive"),
        pytest.param("StringNotEquals", ["a", "c"], ALLOW, id="negated-true-when-none-match"),
        pytest.param("StringLike", ["x", "b-1"], ALLOW, id="like-any"),
    ],
)
def test_multi_value_plain_operator_on_multivalued_key(operator, request_values, expected):
    """single-vs-multi-valued: unqualified operators against a multivalued request key —
    positive: any request value matches any policy value; negated: its negation."""
    value = "b*" if operator == "StringLike" else "b"
    policy = doc(allow("s3:GetObject", "*", {operator: {"aws:TagKeys": value}}))
    ctx = {"aws:TagKeys": request_values}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy, context=ctx) == expected


THREAD = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/Thread"


def _thread_get_policy(values: list[str]) -> Doc:
    return doc(
        allow(
            "dynamodb:GetItem",
            "arn:aws:dynamodb:*:*:table/Thread",
            {"ForAllValues:StringEquals": {"dynamodb:Attributes": values}},
        )
    )


@pytest.mark.parametrize(
    ("policy_values", "attributes", "expected"),
    [
        pytest.param(["ID", "Message", "Tags"], ["Message", "Tags"], ALLOW, id="Message+Tags"),
        pytest.param(["ID", "Message", "Tags"], ["ID", "Message", "Tags"], ALLOW, id="with-ID"),
        pytest.param(
            ["ID", "Message", "Tags"], ["Message", "UserName"], IMPLICIT, id="UserName-fails"
        ),
        pytest.param(
            ["PostDateTime", "Message", "Tags"],
            ["PostDateTime", "UserName"],
            IMPLICIT,
            id="eval-table-PostDateTime+UserName",
        ),
        pytest.param(["ID", "Message", "Tags"], ["message"], IMPLICIT, id="values-case-sensitive"),
    ],
)
def test_multi_value_conditions_forallvalues_thread_get_item(policy_values, attributes, expected):
    """multi-value-conditions: ForAllValues:StringEquals dynamodb:Attributes on the Thread
    table: 'if the user's request includes the UserName attribute, the request fails'."""
    ctx = {"dynamodb:Attributes": attributes}
    assert decide("dynamodb:GetItem", THREAD, _thread_get_policy(policy_values), context=ctx) == (
        expected
    )


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({}, id="key-absent"),
        pytest.param({"dynamodb:Attributes": []}, id="empty-list"),
    ],
)
def test_multi_value_conditions_forallvalues_with_allow_is_overly_permissive(context):
    """multi-value-conditions: ForAllValues 'also returns true if there are no keys in the
    request, or if the key values resolve to a null data set ... Do not use ForAllValues
    with an Allow effect because it can be overly permissive.'"""
    policy = _thread_get_policy(["PostDateTime", "Message", "Tags"])
    assert decide("dynamodb:GetItem", THREAD, policy, context=context) == ALLOW


THREAD_PUT_DENY = doc(
    allow("dynamodb:*"),
    deny(
        "dynamodb:PutItem",
        "arn:aws:dynamodb:*:*:table/Thread",
        {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}},
        Sid="ProtectKeys",
    ),
)


@pytest.mark.parametrize(
    ("action", "context", "expected"),
    [
        pytest.param(
            "dynamodb:PutItem",
            {"dynamodb:Attributes": ["PostDateTime", "Message"]},
            DENY,
            id="PostDateTime+Message-denied",
        ),
        pytest.param(
            "dynamodb:PutItem",
            {"dynamodb:Attributes": ["UserName", "Message", "PostDateTime"]},
            DENY,
            id="eval-table-UserName+Message+PostDateTime",
        ),
        pytest.param(
            "dynamodb:PutItem", {"dynamodb:Attributes": ["UserName"]}, ALLOW, id="UserName-only"
        ),
        pytest.param("dynamodb:PutItem", {}, ALLOW, id="absent-key-ForAnyValue-false"),
        pytest.param("dynamodb:PutItem", {"dynamodb:Attributes": []}, ALLOW, id="empty-list"),
        pytest.param("dynamodb:GetItem", {"dynamodb:Attributes": ["ID"]}, ALLOW, id="other-action"),
    ],
)
def test_multi_value_conditions_foranyvalue_deny_put_item(action, context, expected):
    """multi-value-conditions: Deny PutItem with ForAnyValue:StringEquals dynamodb:Attributes
    [ID, PostDateTime] on Thread; 'A condition operator modified by ForAnyValue returns
    false' for an empty set."""
    result = evaluate(action, THREAD, THREAD_PUT_DENY, context=context)
    assert result.decision == expected
    if expected == DENY:
        assert "ProtectKeys" in reason_sids(result, "Deny")


def test_multi_value_conditions_foranyvalue_allow_over_absent_key_is_false():
    """multi-value-conditions: ForAnyValue — 'For no matching key or a null dataset, the
    condition returns false.'"""
    policy = doc(
        allow("dynamodb:GetItem", "*", {"ForAnyValue:StringEquals": {"dynamodb:Attributes": "ID"}})
    )
    assert decide("dynamodb:GetItem", THREAD, policy) == IMPLICIT
    ctx = {"dynamodb:Attributes": ["Tags", "ID"]}
    assert decide("dynamodb:GetItem", THREAD, policy, context=ctx) == ALLOW


# --------------------------------------------------------------------------------------
# dynamodb-specifying-conditions + FINDINGS: LeadingKeys and the Scan trap
# --------------------------------------------------------------------------------------

GAME_SCORES = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"
AMZN_ID = "amzn1.account.AF6RHCF3HQLZ6BNU"


def _game_scores_policy(version: str | None = "2012-10-17") -> Doc:
    return doc(
        allow(
            [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            ],
            [GAME_SCORES],
            {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${www.amazon.com:user_id}"]}},
            Sid="FullAccessToUserItems",
        ),
        version=version,
    )


@pytest.mark.parametrize(
    ("action", "leading_keys", "expected"),
    [
        pytest.param("dynamodb:GetItem", [AMZN_ID], ALLOW, id="own-item"),
        pytest.param("dynamodb:PutItem", [AMZN_ID], ALLOW, id="own-item-write"),
        pytest.param("dynamodb:GetItem", ["amzn1.account.OTHER"], IMPLICIT, id="other-user"),
        pytest.param(
            "dynamodb:BatchGetItem", [AMZN_ID, "amzn1.account.OTHER"], IMPLICIT, id="batch-mixed"
        ),
        pytest.param("dynamodb:Scan", None, IMPLICIT, id="Scan-not-in-action-list"),
    ],
)
def test_dynamodb_example1_leading_keys_user_id(action, leading_keys, expected):
    """dynamodb-specifying-conditions example 1: FullAccessToUserItems with
    ForAllValues:StringEquals dynamodb:LeadingKeys ${www.amazon.com:user_id}; 'The list of
    actions does not include permissions for Scan'."""
    context: dict[str, Any] = {"www.amazon.com:user_id": AMZN_ID}
    if leading_keys is not None:
        context["dynamodb:LeadingKeys"] = leading_keys
    assert decide(action, GAME_SCORES, _game_scores_policy(), context=context) == expected


def test_dynamodb_example1_variables_need_version_2012_10_17():
    """dynamodb-specifying-conditions Note: 'When using policy variables, you must explicitly
    specify version 2012-10-17 ... The default version ... 2008-10-17, does not support
    policy variables.' Under 2008-10-17 the variable text is a literal."""
    context: dict[str, Any] = {
        "www.amazon.com:user_id": AMZN_ID,
        "dynamodb:LeadingKeys": [AMZN_ID],
    }
    old = _game_scores_policy("2008-10-17")
    assert decide("dynamodb:GetItem", GAME_SCORES, old, context=context) == IMPLICIT
    context["dynamodb:LeadingKeys"] = ["${www.amazon.com:user_id}"]
    assert decide("dynamodb:GetItem", GAME_SCORES, old, context=context) == ALLOW


def _row_scoped(null_guard: bool) -> Doc:
    condition: Doc = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}}
    if null_guard:
        condition["Null"] = {"dynamodb:LeadingKeys": "false"}
    return doc(
        allow(
            ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"],
            TABLE,
            condition,
            Sid="RowScoped",
        )
    )


@pytest.mark.parametrize(
    ("null_guard", "action", "leading_keys", "expected"),
    [
        pytest.param(False, "dynamodb:Scan", None, ALLOW, id="no-guard-Scan-reads-every-row"),
        pytest.param(False, "dynamodb:Scan", [], ALLOW, id="no-guard-empty-keys"),
        pytest.param(True, "dynamodb:Scan", None, IMPLICIT, id="guard-blocks-Scan"),
        pytest.param(True, "dynamodb:Scan", [], IMPLICIT, id="guard-empty-list-is-absent"),
        pytest.param(True, "dynamodb:GetItem", ["c-1001"], ALLOW, id="guard-own-row"),
        pytest.param(True, "dynamodb:Query", ["c-2002"], IMPLICIT, id="guard-foreign-row"),
        pytest.param(
            True, "dynamodb:BatchGetItem", ["c-1001", "c-2002"], IMPLICIT, id="batch-one-foreign"
        ),
        pytest.param(
            True, "dynamodb:BatchGetItem", ["c-1001", "c-1001"], ALLOW, id="batch-all-own"
        ),
        pytest.param(
            False, "dynamodb:BatchGetItem", ["c-1001", "c-2002"], IMPLICIT, id="nog-batch-foreign"
        ),
    ],
)
def test_findings_leading_keys_scan_trap_and_null_guard(null_guard, action, leading_keys, expected):
    """FINDINGS 'AWS semantics that bite': ForAllValues over an absent key is true, so Scan
    (no dynamodb:LeadingKeys) passes a row-scoped Allow; "Null": {"dynamodb:LeadingKeys":
    "false"} closes it; BatchGetItem requires every key to match."""
    context = {} if leading_keys is None else {"dynamodb:LeadingKeys": leading_keys}
    result = evaluate(
        action, TABLE, _row_scoped(null_guard), principal=SESSION_ARN, context=context
    )
    assert result.decision == expected
    if expected == IMPLICIT:
        assert result.denied_by == IDENTITY


@pytest.mark.parametrize(
    ("action", "context", "expected"),
    [
        pytest.param(
            "dynamodb:GetItem",
            {
                "dynamodb:Attributes": ["UserId", "TopScore"],
                "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
            },
            ALLOW,
            id="specific-attributes",
        ),
        pytest.param(
            "dynamodb:GetItem",
            {"dynamodb:Attributes": ["UserId", "TopScore"], "dynamodb:Select": "ALL_ATTRIBUTES"},
            IMPLICIT,
            id="select-all-attributes",
        ),
        pytest.param(
            "dynamodb:GetItem",
            {"dynamodb:Attributes": ["UserId", "Wins"]},
            IMPLICIT,
            id="unlisted-attribute",
        ),
        pytest.param(
            "dynamodb:UpdateItem",
            {"dynamodb:Attributes": ["TopScore"], "dynamodb:ReturnValues": "UPDATED_NEW"},
            ALLOW,
            id="update-return-updated-new",
        ),
        pytest.param(
            "dynamodb:UpdateItem",
            {"dynamodb:Attributes": ["TopScore"], "dynamodb:ReturnValues": "ALL_NEW"},
            IMPLICIT,
            id="update-return-all-new",
        ),
        pytest.param(
            "dynamodb:PutItem", {"dynamodb:Attributes": ["TopScore"]}, IMPLICIT, id="no-PutItem"
        ),
    ],
)
def test_dynamodb_example2_limit_access_to_specific_attributes(action, context, expected):
    """dynamodb-specifying-conditions example 2: LimitAccessToSpecificAttributes with
    StringEqualsIfExists dynamodb:Select / dynamodb:ReturnValues."""
    policy = doc(
        allow(
            [
                "dynamodb:UpdateItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:Scan",
            ],
            [GAME_SCORES],
            {
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["UserId", "TopScore"]},
                "StringEqualsIfExists": {
                    "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                    "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"],
                },
            },
        )
    )
    assert decide(action, GAME_SCORES, policy, context=context) == expected


@pytest.mark.parametrize(
    ("attributes", "return_values", "expected"),
    [
        pytest.param(["TopScore", "Wins"], "NONE", ALLOW, id="allowed-attributes"),
        pytest.param(["TopScore", "BossLevelUnlocked"], "NONE", IMPLICIT, id="protected-attr"),
        pytest.param(["FreeGamesAvailable"], "NONE", IMPLICIT, id="other-protected-attr"),
        pytest.param(["TopScore"], "ALL_OLD", IMPLICIT, id="return-all-old"),
    ],
)
def test_dynamodb_example3_forallvalues_string_not_like(attributes, return_values, expected):
    """dynamodb-specifying-conditions example 3: PreventUpdatesOnCertainAttributes with
    ForAllValues:StringNotLike [FreeGamesAvailable, BossLevelUnlocked]."""
    policy = doc(
        allow(
            ["dynamodb:UpdateItem"],
            GAME_SCORES,
            {
                "ForAllValues:StringNotLike": {
                    "dynamodb:Attributes": ["FreeGamesAvailable", "BossLevelUnlocked"]
                },
                "StringEquals": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]},
            },
        )
    )
    ctx = {"dynamodb:Attributes": attributes, "dynamodb:ReturnValues": return_values}
    assert decide("dynamodb:UpdateItem", GAME_SCORES, policy, context=ctx) == expected


# --------------------------------------------------------------------------------------
# variables: substitution, Version gating, defaults, special characters, no value
# --------------------------------------------------------------------------------------

MYBUCKET = [
    {
        "Action": ["s3:ListBucket"],
        "Effect": "Allow",
        "Resource": ["arn:aws:s3:::mybucket"],
        "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}},
    },
    {
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Effect": "Allow",
        "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"],
    },
]


@pytest.mark.parametrize(
    ("action", "resource", "prefix", "expected"),
    [
        pytest.param("s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt", None, ALLOW, id="own"),
        pytest.param(
            "s3:PutObject", "arn:aws:s3:::mybucket/Adele/a.txt", None, IMPLICIT, id="someone-else"
        ),
        pytest.param("s3:ListBucket", "arn:aws:s3:::mybucket", "David/photos", ALLOW, id="list"),
        pytest.param("s3:ListBucket", "arn:aws:s3:::mybucket", "Adele/", IMPLICIT, id="list-no"),
    ],
)
def test_variables_aws_username_in_resource_and_condition(action, resource, prefix, expected):
    """variables 'Using variables in policies': mybucket/${aws:username}/* and StringLike
    s3:prefix ${aws:username}/*."""
    context = {"aws:username": "David"}
    if prefix is not None:
        context["s3:prefix"] = prefix
    result = evaluate(action, resource, doc(*MYBUCKET), principal=user("David"), context=context)
    assert result.decision == expected


@pytest.mark.parametrize(
    "version",
    [pytest.param(None, id="no-Version"), pytest.param("2008-10-17", id="Version-2008-10-17")],
)
def test_variables_are_literal_without_version_2012_10_17(version):
    """variables Note: 'If you don't include the Version element and set it to an
    appropriate version date, variables like ${aws:username} are treated as literal
    strings in the policy.'"""
    policy = doc(*MYBUCKET, version=version)
    ctx = {"aws:username": "David"}
    kwargs = {"principal": user("David"), "context": ctx}
    assert decide("s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt", policy, **kwargs) == (
        IMPLICIT
    )
    literal = "arn:aws:s3:::mybucket/${aws:username}/a.txt"
    assert decide("s3:GetObject", literal, policy, **kwargs) == ALLOW


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        pytest.param("David-queue", ALLOW, id="own-queue"),
        pytest.param("Adele-queue", IMPLICIT, id="other-queue"),
    ],
)
def test_variables_sqs_username_queue(queue, expected):
    """variables 'Resource element': AllQueueActions on arn:aws:sqs:us-east-2:*:
    ${aws:username}-queue."""
    policy = doc(
        allow("sqs:ListQueues", "*", Sid="ListForConsole"),
        allow("sqs:*", "arn:aws:sqs:us-east-2:*:${aws:username}-queue", Sid="AllQueueActions"),
    )
    result = evaluate(
        "sqs:SendMessage",
        f"arn:aws:sqs:us-east-2:{ACCT}:{queue}",
        policy,
        principal=user("David"),
        context={"aws:username": "David"},
    )
    assert result.decision == expected
    if expected == ALLOW:
        assert "AllQueueActions" in reason_sids(result, "Allow")


def test_variables_key_names_in_variables_are_case_insensitive():
    """variables Important: 'Key names are case-insensitive. For example, aws:CurrentTime is
    equivalent to AWS:currenttime.'"""
    policy = doc(allow("dynamodb:*", f"arn:aws:dynamodb:us-east-2:{ACCT}:table/${{AWS:UserName}}"))
    ctx = {"aws:username": "Bob"}
    table = f"arn:aws:dynamodb:us-east-2:{ACCT}:table/"
    assert decide("dynamodb:GetItem", table + "Bob", policy, context=ctx) == ALLOW
    assert decide("dynamodb:GetItem", table + "Alice", policy, context=ctx) == IMPLICIT


@pytest.mark.parametrize(
    ("team", "bucket", "expected"),
    [
        pytest.param("yellow", "DOC-EXAMPLE-BUCKET-yellow", ALLOW, id="yellow-team-bucket"),
        pytest.param(
            "yellow", "DOC-EXAMPLE-BUCKET-company-wide", IMPLICIT, id="yellow-not-default"
        ),
        pytest.param(None, "DOC-EXAMPLE-BUCKET-company-wide", ALLOW, id="untagged-default"),
        pytest.param(None, "DOC-EXAMPLE-BUCKET-yellow", IMPLICIT, id="untagged-not-yellow"),
    ],
)
def test_variables_default_value_company_wide(team, bucket, expected):
    """variables 'Specifying default values': DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team,
    'company-wide'}."""
    policy = doc(
        allow(
            "s3:ListBucket",
            "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}",
        )
    )
    context = {} if team is None else {"aws:PrincipalTag/team": team}
    result = evaluate(
        "s3:ListBucket", f"arn:aws:s3:::{bucket}", policy, principal=SESSION_ARN, context=context
    )
    assert result.decision == expected


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        pytest.param("a${*}b", "a*b", ALLOW, id="${*}-is-literal-star"),
        pytest.param("a${*}b", "aXYb", IMPLICIT, id="${*}-is-not-a-wildcard"),
        pytest.param("what${?}", "what?", ALLOW, id="${?}-is-literal-question-mark"),
        pytest.param("what${?}", "whatX", IMPLICIT, id="${?}-is-not-a-wildcard"),
        pytest.param("cost${$}5", "cost$5", ALLOW, id="${$}-is-literal-dollar"),
    ],
)
def test_variables_special_characters(pattern, key, expected):
    """variables 'Special characters': ${*}, ${?} and ${$} stand for literal *, ? and $."""
    policy = doc(allow("s3:GetObject", f"arn:aws:s3:::bucket/{pattern}"))
    assert decide("s3:GetObject", f"arn:aws:s3:::bucket/{key}", policy) == expected


def test_variables_special_characters_in_condition_values():
    """variables: 'These predefined policy variables can be used in any string where you can
    use regular policy variables.' (StringLike s3:prefix)."""
    policy = doc(allow("s3:ListBucket", "*", {"StringLike": {"s3:prefix": "reports${*}*"}}))
    assert (
        decide("s3:ListBucket", "arn:aws:s3:::b", policy, context={"s3:prefix": "reports*2024"})
        == ALLOW
    )
    assert (
        decide("s3:ListBucket", "arn:aws:s3:::b", policy, context={"s3:prefix": "reports2024"})
        == IMPLICIT
    )


@pytest.mark.parametrize(
    ("team", "key", "expected"),
    [
        pytest.param("*", "other/x", IMPLICIT, id="star-value-not-a-wildcard"),
        pytest.param("*", "*/x", ALLOW, id="star-value-matches-literally"),
        pytest.param("r?d", "red/x", IMPLICIT, id="question-value-not-a-wildcard"),
        pytest.param("red", "red/x", ALLOW, id="plain-value"),
    ],
)
def test_variables_resolved_value_is_matched_literally(team, key, expected):
    """variables 'Special characters': a * inserted literally would be a wildcard, so a
    substituted value is matched as the literal string it is."""
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"))
    ctx = {"aws:PrincipalTag/team": team}
    result = evaluate(
        "s3:GetObject", f"arn:aws:s3:::bucket/{key}", policy, principal=SESSION_ARN, context=ctx
    )
    assert result.decision == expected


def test_variables_no_value_in_resource_matches_nothing():
    """variables 'Policy variables with no value': 'the resource that includes a policy
    variable with no value will not match any resource' (not even with an empty string
    substituted)."""
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"))
    for key in ("/x", "x/y", "red/x"):
        resource = f"arn:aws:s3:::bucket/{key}"
        assert decide("s3:GetObject", resource, policy, principal=SESSION_ARN) == IMPLICIT


@pytest.mark.parametrize(
    ("team", "resource", "expected"),
    [
        pytest.param("red", "arn:aws:s3:::bucket/red/x", ALLOW, id="tag-own-folder-not-denied"),
        pytest.param("red", "arn:aws:s3:::bucket/blue/x", DENY, id="tag-other-folder-denied"),
        pytest.param(None, "arn:aws:s3:::bucket/red/x", DENY, id="no-tag-everything-denied"),
        pytest.param(None, "arn:aws:s3:::bucket//x", DENY, id="no-tag-empty-folder-denied"),
    ],
)
def test_variables_no_value_in_not_resource_excludes_nothing(team, resource, expected):
    """variables: 'If a variable that has no value ... is used as part of the Resource or
    NotResource element ... will not match any resource' — so a Deny with that NotResource
    applies to every resource."""
    policy = doc(
        allow("s3:*"),
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "NotResource": "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
        },
    )
    context = {} if team is None else {"aws:PrincipalTag/team": team}
    assert decide("s3:GetObject", resource, policy, principal=SESSION_ARN, context=context) == (
        expected
    )


@pytest.mark.parametrize(
    ("principal_team", "object_team", "expected"),
    [
        pytest.param("red", "red", ALLOW, id="same-team"),
        pytest.param("red", "blue", DENY, id="different-team"),
        pytest.param(None, "red", DENY, id="principal-tag-not-set-specifically-denied"),
    ],
)
def test_variables_no_value_negated_operator_matches(principal_team, object_team, expected):
    """variables 'Policy variables with no value': StringNotEquals s3:ExistingObjectTag/Team
    ${aws:PrincipalTag/Team}: 'Inverted condition operators like StringNotEquals ... do
    match against a null value' — 'Access is specifically denied when aws:principaltag/Team
    is not set.' (the page's example, with its Condition wrapper restored)"""
    policy = doc(
        allow("s3:GetObject"),
        deny(
            "s3:GetObject",
            "arn:aws:s3:::example-bucket/*",
            {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}},
        ),
    )
    context = {"s3:ExistingObjectTag/Team": object_team}
    if principal_team is not None:
        context["aws:PrincipalTag/Team"] = principal_team
    result = evaluate(
        "s3:GetObject",
        "arn:aws:s3:::example-bucket/k",
        policy,
        principal=SESSION_ARN,
        context=context,
    )
    assert result.decision == expected


@pytest.mark.parametrize(
    "operator",
    [pytest.param("StringEquals", id="StringEquals"), pytest.param("StringLike", id="StringLike")],
)
def test_variables_no_value_positive_operator_does_not_match(operator):
    """variables: 'When you use a variable with no value in the condition element ...
    operators like StringEquals or StringLike do not match, and the policy statement does
    not take effect.'"""
    policy = doc(
        allow(
            "s3:GetObject",
            "*",
            {operator: {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}},
        )
    )
    for object_team in ("", "red", "${aws:PrincipalTag/Team}"):
        ctx = {"s3:ExistingObjectTag/Team": object_team}
        result = evaluate(
            "s3:GetObject", "arn:aws:s3:::b/k", policy, principal=SESSION_ARN, context=ctx
        )
        assert result.decision == IMPLICIT, object_team


# --------------------------------------------------------------------------------------
# revoke-sessions + FINDINGS: denying sessions that cannot be revoked
# --------------------------------------------------------------------------------------

REVOKE_OLDER = doc(
    deny(
        ["*"],
        ["*"],
        {"DateLessThan": {"aws:TokenIssueTime": "2024-03-01T12:00:00Z"}},
        Sid="AWSRevokeOlderSessions",
    )
)


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        pytest.param("2024-03-01T11:00:00Z", DENY, id="assumed-before-revocation"),
        pytest.param("2024-03-01T11:59:59Z", DENY, id="one-second-before"),
        pytest.param("2024-03-01T12:00:00Z", ALLOW, id="at-the-moment-not-before"),
        pytest.param("2024-03-01T12:30:00Z", ALLOW, id="assumed-after-not-affected"),
    ],
)
def test_revoke_sessions_aws_revoke_older_sessions(issued, expected):
    """revoke-sessions: 'The policy denies all access to users who assumed the role before
    the moment you choose Revoke active sessions. Any user who assumes the role after ...
    is not affected.'"""
    result = evaluate(
        "dynamodb:GetItem",
        TABLE,
        ALL_DDB,
        REVOKE_OLDER,
        principal=SESSION_ARN,
        context={"aws:TokenIssueTime": issued},
    )
    assert result.decision == expected
    if expected == DENY:
        assert result.denied_by == IDENTITY
        assert "AWSRevokeOlderSessions" in reason_sids(result, "Deny")


def test_revoke_sessions_deny_beats_resource_policy_naming_the_session():
    """revoke-sessions + evaluation-logic: an explicit deny in any policy overrides even a
    resource policy that names the session ARN."""
    result = evaluate(
        "dynamodb:GetItem",
        TABLE,
        REVOKE_OLDER,
        principal=SESSION_ARN,
        resource_policy=doc(rp_allow(SESSION_ARN, "dynamodb:GetItem", TABLE)),
        context={"aws:TokenIssueTime": "2024-03-01T11:00:00Z"},
    )
    assert result.decision == DENY
    assert result.denied_by == IDENTITY


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param({"aws:userid": "AROAEXAMPLEROLEID:req-1"}, DENY, id="userid-revoked"),
        pytest.param({"aws:userid": "AROAEXAMPLEROLEID:req-2"}, ALLOW, id="userid-other"),
        pytest.param({"aws:SourceIdentity": "mallory"}, DENY, id="source-identity-revoked"),
        pytest.param({"aws:SourceIdentity": "alice"}, ALLOW, id="source-identity-other"),
        pytest.param({}, ALLOW, id="neither-key"),
    ],
)
def test_findings_revoke_by_userid_or_source_identity(context, expected):
    """FINDINGS: 'STS sessions cannot be revoked; deny them: a deny policy on the role with
    aws:userid (role id + session name) or aws:SourceIdentity'."""
    revoke = doc(
        deny(
            "*", "*", {"StringEquals": {"aws:userid": "AROAEXAMPLEROLEID:req-1"}}, Sid="RevokeReq1"
        ),
        deny("*", "*", {"StringEquals": {"aws:SourceIdentity": "mallory"}}, Sid="RevokeMallory"),
    )
    result = evaluate(
        "dynamodb:GetItem", TABLE, ALL_DDB, revoke, principal=SESSION_ARN, context=context
    )
    assert result.decision == expected
    if expected == DENY:
        assert reason_sids(result, "Deny") & {"RevokeReq1", "RevokeMallory"}


# --------------------------------------------------------------------------------------
# grammar + semantics decisions: malformed policies never silently allow
# --------------------------------------------------------------------------------------

OK = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


def _with(**changes: Any) -> Doc:
    statement = {**OK, **changes}
    return doc(*[{k: v for k, v in statement.items() if v is not None}])


def _cond(operator: str, key: str, value: Any) -> Doc:
    return _with(Condition={operator: {key: value}})


MALFORMED_IDENTITY = [
    pytest.param(_cond("StringEqualz", "aws:username", "Bob"), id="unknown-operator"),
    pytest.param(_cond("ForSomeValues:StringEquals", "aws:TagKeys", "a"), id="unknown-set-op"),
    pytest.param(_with(NotAction="s3:PutObject"), id="both-Action-and-NotAction"),
    pytest.param(_with(Action=None), id="neither-Action-nor-NotAction"),
    pytest.param(_with(Effect=None), id="missing-Effect"),
    pytest.param(_with(Effect="Permit"), id="Effect-Permit"),
    pytest.param(_with(Effect="allow"), id="Effect-lowercase-allow"),
    pytest.param({**_with(), "Comment": "x"}, id="unknown-top-level-element"),
    pytest.param(_with(Conditions={"Bool": {"aws:SecureTransport": "true"}}), id="Conditions-typo"),
    pytest.param({**_with(), "Version": "2012-10-18"}, id="Version-2012-10-18"),
    pytest.param({**_with(), "Version": "2024-01-01"}, id="Version-2024-01-01"),
    pytest.param(_with(Principal={"AWS": user()}), id="Principal-in-identity-policy"),
    pytest.param(_with(Resource="my-bucket"), id="Resource-not-an-ARN"),
    pytest.param(_with(Resource=None), id="neither-Resource-nor-NotResource"),
    pytest.param(_with(Action="GetObject"), id="Action-without-service-prefix"),
    pytest.param(_cond("NullIfExists", "aws:TokenIssueTime", "true"), id="NullIfExists"),
    pytest.param(_cond("NumericLessThan", "s3:max-keys", "ten"), id="Numeric-not-a-number"),
    pytest.param(_cond("DateGreaterThan", "aws:CurrentTime", "yesterday"), id="Date-not-a-date"),
    pytest.param(_cond("DateGreaterThan", "aws:CurrentTime", "2020-*"), id="Date-wildcard"),
    pytest.param(_cond("IpAddress", "aws:SourceIp", "203.0.113.0/33"), id="Ip-bad-prefix"),
    pytest.param(_cond("IpAddress", "aws:SourceIp", "not-an-ip"), id="Ip-not-an-address"),
    pytest.param(_cond("Bool", "aws:SecureTransport", "yes"), id="Bool-yes"),
    pytest.param(_cond("BinaryEquals", "custom:blob", "***not base64***"), id="Binary-not-b64"),
    pytest.param({"Version": "2012-10-17"}, id="no-Statement"),
    pytest.param(
        _cond("NumericLessThan", "aws:MultiFactorAuthAge", "${aws:username}"),
        id="Numeric-no-policy-variables",
    ),
    pytest.param(
        _cond("DateLessThan", "aws:TokenIssueTime", "${aws:CurrentTime}"),
        id="Date-no-policy-variables",
    ),
    pytest.param(
        _cond("IpAddress", "aws:SourceIp", "${aws:PrincipalTag/cidr}"),
        id="IpAddress-no-policy-variables",
    ),
]


@pytest.mark.parametrize("policy", MALFORMED_IDENTITY)
def test_grammar_malformed_identity_policy_is_rejected(policy):
    """grammar + decided semantics: malformed policies raise MalformedPolicyError from both
    parse_policy and evaluate (never silently allow)."""
    with pytest.raises(MalformedPolicyError):
        parse_policy(policy, kind=IDENTITY)
    with pytest.raises(MalformedPolicyError):
        evaluate("s3:GetObject", "arn:aws:s3:::b/k", policy, doc(allow("*")))


def test_grammar_malformed_session_policy_raises_from_evaluate():
    """grammar: a malformed session policy cannot quietly drop out of the intersection."""
    bad = _cond("StringEqualz", "aws:username", "Bob")
    with pytest.raises(MalformedPolicyError):
        evaluate("s3:GetObject", "arn:aws:s3:::b/k", ALL_DDB, principal=SESSION_ARN, session=bad)


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), id="no-Principal"
        ),
        pytest.param(
            doc(
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
            ),
            id="second-statement-without-Principal",
        ),
    ],
)
def test_grammar_resource_policy_requires_principal(policy):
    """grammar notes: 'The principal_block element is required in resource-based policies'."""
    with pytest.raises(MalformedPolicyError):
        parse_policy(policy, kind=RESOURCE)
    with pytest.raises(MalformedPolicyError):
        evaluate("s3:GetObject", "arn:aws:s3:::b/k", resource_policy=policy)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny",'
            ' "Action": "s3:GetObject", "Resource": "*"}]}',
            id="duplicate-Effect-key",
        ),
        pytest.param(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
            ' "Resource": "*"}],'
            ' "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
            id="duplicate-Statement-key",
        ),
        pytest.param('{"Version": "2012-10-17", "Statement": [', id="invalid-JSON"),
    ],
)
def test_grammar_json_string_with_duplicate_keys_is_malformed(text):
    """grammar notes: 'Individual elements must not contain multiple instances of the same
    key. For example, you cannot include the Effect block twice in the same statement.'"""
    with pytest.raises(MalformedPolicyError):
        parse_policy(text)
    with pytest.raises(MalformedPolicyError):
        evaluate("s3:GetObject", "arn:aws:s3:::b/k", text)


@pytest.mark.parametrize(
    ("policy", "kind"),
    [
        pytest.param(
            {"Version": "2012-10-17", "Statement": OK}, IDENTITY, id="single-statement-object"
        ),
        pytest.param(doc(OK, version="2008-10-17"), IDENTITY, id="Version-2008-10-17"),
        pytest.param(doc(OK, version=None), IDENTITY, id="Version-omitted"),
        pytest.param(
            {
                "Resource": "*",
                "Action": ["ec2:Describe*", "ec2:List*"],
                "Effect": "Deny",
                "Sid": "1",
            },
            IDENTITY,
            id="blocks-in-any-order",
        ),
        pytest.param(
            {
                "Id": "cd3ad3d9-2776-4ef1-a904-4c229d1642ee",
                **doc({**OK, "Principal": {"AWS": [user(), ROLE_ARN]}}),
            },
            RESOURCE,
            id="resource-policy-with-Id",
        ),
    ],
)
def test_grammar_valid_policies_parse(policy, kind):
    """grammar: single statement without brackets, both Version values, optional Version,
    'Blocks can appear in any order', Id allowed in resource-based policies."""
    if "Statement" not in policy:
        policy = doc(policy)
    assert parse_policy(policy, kind=kind) is not None
    assert parse_policy(json.dumps(policy), kind=kind) is not None


def test_grammar_single_statement_object_and_json_string_evaluate():
    """grammar: '"Statement": {...}' form (used throughout the reference pages) and JSON
    string input evaluate like the list form."""
    policy = {"Version": "2012-10-17", "Statement": allow("s3:GetObject", "arn:aws:s3:::b/*")}
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", policy) == ALLOW
    assert decide("s3:GetObject", "arn:aws:s3:::b/k", json.dumps(policy)) == ALLOW
    assert decide("s3:PutObject", "arn:aws:s3:::b/k", json.dumps(policy)) == IMPLICIT
