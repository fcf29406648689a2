"""A small bank for gateway tests: two tables, a broad target role, a broker IAM user."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.conftest import ACCOUNT, REGION, RunningSandbox, policy

ACCOUNTS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Accounts"
TRANSACTIONS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Transactions"
TARGET = f"arn:aws:iam::{ACCOUNT}:role/bank-target"
BROKER = f"arn:aws:iam::{ACCOUNT}:user/broker"
ROW_GUARD = {
    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
    "Null": {"dynamodb:LeadingKeys": "false"},
}
READ_OWN_ACCOUNT = policy(
    {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"],
        "Resource": ACCOUNTS,
        "Condition": ROW_GUARD,
    }
)


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def make_bank(running: RunningSandbox) -> dict[str, str]:
    """Two tables, a broad target role trusting only the broker user, and the broker's key."""
    dynamodb = running.client("dynamodb")
    for name in ("Accounts", "Transactions"):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "customer_id", "AttributeType": "S"},
                {"AttributeName": "branch", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByBranch",
                    "KeySchema": [{"AttributeName": "branch", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for customer in ("c-1001", "c-2002"):
            dynamodb.put_item(
                TableName=name,
                Item={
                    "customer_id": {"S": customer},
                    "branch": {"S": "north"},
                    "balance": {"N": "100"},
                },
            )
    iam = running.client("iam")
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": BROKER},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
        }
    )
    iam.create_role(RoleName="bank-target", AssumeRolePolicyDocument=trust, MaxSessionDuration=7200)
    iam.put_role_policy(
        RoleName="bank-target",
        PolicyName="broad",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Action": "dynamodb:*",
                "Resource": [ACCOUNTS, TRANSACTIONS, ACCOUNTS + "/index/*"],
            }
        ),
    )
    iam.create_user(UserName="broker")
    iam.put_user_policy(
        UserName="broker",
        PolicyName="assume",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
                "Resource": TARGET,
            },
            {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": TARGET},
        ),
    )
    key = iam.create_access_key(UserName="broker")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def mint(
    running: RunningSandbox,
    broker: dict[str, str],
    session_policy: str = READ_OWN_ACCOUNT,
    **kw: Any,
) -> dict[str, Any]:
    # No client-side validation: the gateway's own checks are what is tested.
    sts = running.client("sts", Config(parameter_validation=False), **broker)
    arguments: dict[str, Any] = {
        "RoleArn": TARGET,
        "RoleSessionName": "req-0001",
        "Policy": session_policy,
        "SourceIdentity": "alice",
        "DurationSeconds": 900,
    }
    arguments.update(kw)
    return dict(sts.assume_role(**arguments)["Credentials"])


def key(customer: str) -> dict[str, Any]:
    return {"customer_id": {"S": customer}}
