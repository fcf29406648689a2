"""The sandbox's IAM: the broker's own role, one target role per resource class, users.

Nobody holds standing access to bank data. The broker's role may only assume
the target roles (setting a SourceIdentity and session tags) and rewrite their
revocation policy; each target role trusts only the broker's role, only when a
SourceIdentity and the request tag come along, and is broad within its class
(exact table ARNs, never ``*`` on ``*``) because every session is narrowed by
its session policy. The chat agent's IAM user holds no permissions at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_zero.sandbox.demo_bank.models import DemoIamUser, DemoRole, JsonValue, PolicyDocument
from agent_zero.sandbox.demo_bank.people import SUPPORT_ASSISTANT_ID

ROLE_PATH = "/agent-zero/"
BROKER_ROLE_NAME = "agent-zero-broker"
BROKER_HOST_USER_NAME = "agent-zero-broker-host"
SANDBOX_ADMIN_USER_NAME = "sandbox-admin"
CUSTOMER_DATA_ROLE_NAME = "agent-zero-target-customer-data"
OPERATIONS_ROLE_NAME = "agent-zero-target-operations"
DIRECTORY_ROLE_NAME = "agent-zero-target-directory"
TARGET_ROLE_NAMES = (CUSTOMER_DATA_ROLE_NAME, OPERATIONS_ROLE_NAME, DIRECTORY_ROLE_NAME)
TARGET_ACCESS_POLICY_NAME = "agent-zero-target-access"
REVOCATION_POLICY_NAME = "agent-zero-revocations"
# The broker passes these session tags on every AssumeRole; the request id is
# required so that every session can be tied to its audit record.
REQUEST_ID_TAG = "agent-zero-request-id"
PRINCIPAL_KIND_TAG = "agent-zero-principal-kind"
ACTING_AGENT_TAG = "agent-zero-acting-agent"
SESSION_TAG_KEYS = (REQUEST_ID_TAG, PRINCIPAL_KIND_TAG, ACTING_AGENT_TAG)
# A SourceIdentity may hold only [A-Za-z0-9_+=,.@-], so a value with ":" can never
# be set and the initial revocation Deny matches no session, yet parses as valid.
NO_REVOCATIONS_SENTINEL = "agent-zero:no-revocations"
ROLE_SESSION_SECONDS = 3_600

# Actions that read past row keys or change who may read: never on customer tables,
# denied explicitly so that a later widening of the Allow cannot bring them back.
_CUSTOMER_TABLE_DENIED = [
    "dynamodb:Scan",
    "dynamodb:PartiQL*",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:*Export*",
    "dynamodb:*Import*",
    "dynamodb:*Backup*",
    "dynamodb:Restore*",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
]
_CUSTOMER_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
_OPERATIONS_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
]
# Reading the directory and shutting a user out; never changing groups or
# attributes, which are the trusted facts the broker decides on.
_DIRECTORY_ACTIONS = [
    # Onboarding: a new account, put in its group at creation (person-approved grants only).
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:AdminUserGlobalSignOut",
    "cognito-idp:DescribeUserPool",
    "cognito-idp:ListUsers",
    "cognito-idp:ListUsersInGroup",
]
_DIRECTORY_DENIED = [
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminUpdateUserAttributes",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:CreateGroup",
    "cognito-idp:UpdateGroup",
    "cognito-idp:DeleteGroup",
    "cognito-idp:UpdateUserPool",
    "cognito-idp:UpdateUserPoolClient",
]


def role_arn(account_id: str, name: str) -> str:
    """The ARN of one of the sandbox's roles (all live under ``ROLE_PATH``)."""
    return f"arn:aws:iam::{account_id}:role{ROLE_PATH}{name}"


def _document(*statements: dict[str, JsonValue]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _strings(values: Sequence[str]) -> list[JsonValue]:
    return list(values)


def target_trust_policy(account_id: str) -> PolicyDocument:
    """Only the broker's role, with a SourceIdentity and the broker's session tags."""
    broker: JsonValue = {"AWS": role_arn(account_id, BROKER_ROLE_NAME)}
    return _document(
        {
            "Sid": "BrokerAssumesWithSourceIdentity",
            "Effect": "Allow",
            "Principal": broker,
            "Action": "sts:AssumeRole",
            "Condition": {
                "Null": {"sts:SourceIdentity": "false", f"aws:RequestTag/{REQUEST_ID_TAG}": "false"}
            },
        },
        {
            "Sid": "BrokerSetsSourceIdentity",
            "Effect": "Allow",
            "Principal": broker,
            "Action": "sts:SetSourceIdentity",
            "Condition": {"Null": {"sts:SourceIdentity": "false"}},
        },
        {
            "Sid": "BrokerTagsSessions",
            "Effect": "Allow",
            "Principal": broker,
            "Action": "sts:TagSession",
            "Condition": {
                "ForAllValues:StringEquals": {"aws:TagKeys": _strings(SESSION_TAG_KEYS)},
                # No transitive tags: a target session has nothing to chain into.
                "Null": {"aws:TagKeys": "false", "sts:TransitiveTagKeys": "true"},
            },
        },
    )


def revocation_policy() -> PolicyDocument:
    """The initial revocation policy: a valid Deny that matches no session yet."""
    return _document(
        {
            "Sid": "RevokedSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": NO_REVOCATIONS_SENTINEL}},
        }
    )


def _target_role(
    name: str, description: str, access: PolicyDocument, *, account_id: str
) -> DemoRole:
    return DemoRole(
        name=name,
        path=ROLE_PATH,
        description=description,
        trust_policy=target_trust_policy(account_id),
        inline_policies={
            TARGET_ACCESS_POLICY_NAME: access,
            REVOCATION_POLICY_NAME: revocation_policy(),
        },
        max_session_duration=ROLE_SESSION_SECONDS,
    )


def customer_data_role(account_id: str, table_arns: Sequence[str]) -> DemoRole:
    """Ceiling for grants on the customer-owned tables; sessions narrow it to one customer."""
    access = _document(
        {
            "Sid": "CustomerRowsByKey",
            "Effect": "Allow",
            "Action": _strings(_CUSTOMER_TABLE_ACTIONS),
            "Resource": _strings(table_arns),
        },
        {
            "Sid": "NothingPastRowKeys",
            "Effect": "Deny",
            "Action": _strings(_CUSTOMER_TABLE_DENIED),
            "Resource": _strings([*table_arns, *(f"{arn}/*" for arn in table_arns)]),
        },
    )
    description = "Agent Zero target role for the customer-owned tables, one customer per session."
    return _target_role(CUSTOMER_DATA_ROLE_NAME, description, access, account_id=account_id)


def operations_role(account_id: str, resource_arns: Sequence[str]) -> DemoRole:
    """Ceiling for grants on the operational tables (metrics, ledger and its index)."""
    access = _document(
        {
            "Sid": "ReadOperationalData",
            "Effect": "Allow",
            "Action": _strings(_OPERATIONS_ACTIONS),
            "Resource": _strings(resource_arns),
        }
    )
    description = "Agent Zero target role for operations metrics and the transaction ledger."
    return _target_role(OPERATIONS_ROLE_NAME, description, access, account_id=account_id)


def directory_role(account_id: str, region: str) -> DemoRole:
    """Ceiling for grants on the user pool: lookups, disabling and signing out users."""
    # The pool id is Cognito's to assign at creation, after this role exists, so the
    # role reaches the account's pools in the region; sessions name the exact pool.
    pools = f"arn:aws:cognito-idp:{region}:{account_id}:userpool/*"
    access = _document(
        {
            "Sid": "ReadAndShutOut",
            "Effect": "Allow",
            "Action": _strings(_DIRECTORY_ACTIONS),
            "Resource": pools,
        },
        {
            "Sid": "NeverChangeTrustedFacts",
            "Effect": "Deny",
            "Action": _strings(_DIRECTORY_DENIED),
            "Resource": "*",
        },
    )
    description = "Agent Zero target role for administering sign-in accounts in the user pool."
    return _target_role(DIRECTORY_ROLE_NAME, description, access, account_id=account_id)


def broker_role(account_id: str) -> DemoRole:
    """The broker's own identity: mint target sessions and maintain their revocations."""
    targets = _strings([role_arn(account_id, name) for name in TARGET_ROLE_NAMES])
    # IAM has no condition key for an inline policy's name, so iam:PutRolePolicy
    # is limited to the target roles' ARNs; the broker only ever writes
    # REVOCATION_POLICY_NAME (a managed revocation policy would let IAM enforce that).
    access = _document(
        {
            "Sid": "MintTargetSessions",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            "Resource": targets,
        },
        {
            "Sid": "MaintainRevocations",
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy"],
            "Resource": targets,
        },
    )
    # The host may not set a SourceIdentity on the broker's own session: it would
    # survive the chain into every target session and could not be replaced there.
    trust = _document(
        {
            "Sid": "BrokerHostAssumes",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/{BROKER_HOST_USER_NAME}"},
            "Action": "sts:AssumeRole",
        }
    )
    return DemoRole(
        name=BROKER_ROLE_NAME,
        path=ROLE_PATH,
        description="Agent Zero broker: assumes target roles for approved requests only.",
        trust_policy=trust,
        inline_policies={"agent-zero-broker": access},
        max_session_duration=ROLE_SESSION_SECONDS,
    )


def demo_iam_users(account_id: str) -> tuple[DemoIamUser, ...]:
    """The broker's host, the sandbox's administrator and the chat agent."""
    assume_broker = _document(
        {
            "Sid": "AssumeBrokerRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": role_arn(account_id, BROKER_ROLE_NAME),
        }
    )
    administer = _document(
        {"Sid": "AdministerSandbox", "Effect": "Allow", "Action": "*", "Resource": "*"}
    )
    return (
        DemoIamUser(
            name=BROKER_HOST_USER_NAME,
            description="Stands in for the Lambda service that runs the broker.",
            inline_policies={"assume-broker-role": assume_broker},
        ),
        DemoIamUser(
            name=SANDBOX_ADMIN_USER_NAME,
            description="Administrator of the sandbox: seeds and inspects it.",
            inline_policies={"administer-sandbox": administer},
        ),
        DemoIamUser(
            name=SUPPORT_ASSISTANT_ID,
            description="The support chat agent: its keys only sign calls to the broker API.",
        ),
    )
