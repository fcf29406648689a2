"""What the IAM gateway costs: GetItem and AssumeRole, straight to moto and through the gateway.

Both paths run in this process over real HTTP on 127.0.0.1 with boto3, so the
ratio isolates the gateway's work (SigV4 verification, caller resolution,
request reading, IAM evaluation). Through the gateway the caller is a role
session with a row-scoped session policy, the most expensive case. The
baseline is moto's own server (``ThreadedMotoServer``).

    .venv/bin/python benchmarks/gateway.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from agent_zero.sandbox.runtime import Sandbox

TARGET_RATIO = 1.25
ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = "BenchAccounts"
ROLE = "bench-target"


def latencies_ms(call: Callable[[], object], iterations: int) -> list[float]:
    """Per-call wall time in milliseconds, after a short warm-up."""
    for _ in range(min(20, iterations)):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p99(samples: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def client(service: str, endpoint: str, **credentials: str) -> Any:
    """A boto3 client for one endpoint."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **credentials)


def seed(endpoint: str, **credentials: str) -> dict[str, str]:
    """A table with two customers, a role, and the key of a user who may assume it."""
    dynamodb = client("dynamodb", endpoint, **credentials)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for customer in ("c-1001", "c-2002"):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"customer_id": {"S": customer}, "balance": {"N": "1250.00"}},
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bench-broker"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            }
        ],
    }
    iam = client("iam", endpoint, **credentials)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=ROLE,
        PolicyName="broad",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "dynamodb:*",
                        "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*",
                    }
                ],
            }
        ),
    )
    # AWS refuses AssumeRole by the root user: a broker-like IAM user assumes the role.
    iam.create_user(UserName="bench-broker")
    iam.put_user_policy(
        UserName="bench-broker",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                        "Resource": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="bench-broker")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            }
        ],
    },
    separators=(",", ":"),
)


def measure(endpoint: str, iterations: int, **credentials: str) -> dict[str, list[float]]:
    """GetItem as a scoped session, and AssumeRole, against one endpoint."""
    sts = client("sts", endpoint, **credentials)

    def assume() -> dict[str, str]:
        answer = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
            RoleSessionName="bench",
            Policy=SESSION_POLICY,
            SourceIdentity="bench-user",
            DurationSeconds=900,
        )
        return dict(answer["Credentials"])

    session = assume()
    dynamodb = client(
        "dynamodb",
        endpoint,
        aws_access_key_id=session["AccessKeyId"],
        aws_secret_access_key=session["SecretAccessKey"],
        aws_session_token=session["SessionToken"],
    )

    def get_item() -> object:
        return dynamodb.get_item(TableName=TABLE, Key={"customer_id": {"S": "c-1001"}})

    assert "Item" in get_item()  # type: ignore[operator]  # the case must do real work
    return {
        "GetItem": latencies_ms(get_item, iterations),
        "AssumeRole": latencies_ms(assume, max(50, iterations // 5)),
    }


def main() -> None:
    """Run both paths and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    iterations = 60 if parser.parse_args().quick else 1000
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request

    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    moto_endpoint = f"http://127.0.0.1:{moto_server._server.server_address[1]}"
    moto_keys = {"aws_access_key_id": "AKIAMOTODIRECT000000", "aws_secret_access_key": "x" * 40}
    direct = measure(moto_endpoint, iterations, **seed(moto_endpoint, **moto_keys))
    moto_server.stop()

    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(Path(scratch), gateway_port=0)
        sandbox.start()
        try:
            root = {
                "aws_access_key_id": sandbox.root.access_key_id,
                "aws_secret_access_key": sandbox.root.secret_access_key,
            }
            broker = seed(sandbox.endpoint_url, **root)
            gated = measure(sandbox.endpoint_url, iterations, **broker)
        finally:
            sandbox.stop()

    print(
        f"agent-zero gateway benchmark | Python {platform.python_version()} | "
        f"{platform.machine()} | boto3 over HTTP on 127.0.0.1"
    )
    print()
    header = (
        f"{'operation':<11} {'moto p50':>9} {'moto p99':>9} {'gateway p50':>12} "
        f"{'gateway p99':>12} {'ratio p50':>10} {'samples':>8}  target"
    )
    print(header)
    for operation in ("GetItem", "AssumeRole"):
        base, through = direct[operation], gated[operation]
        ratio = statistics.median(through) / statistics.median(base)
        target = ""
        if operation == "GetItem":
            verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
            target = f"ratio <= {TARGET_RATIO}: {verdict}"
        print(
            f"{operation:<11} {statistics.median(base):>9.3f} {p99(base):>9.3f} "
            f"{statistics.median(through):>12.3f} {p99(through):>12.3f} {ratio:>9.2f}x "
            f"{len(through):>8}  {target}"
        )


if __name__ == "__main__":
    main()
