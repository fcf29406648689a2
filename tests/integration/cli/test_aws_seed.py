"""``agent-zero aws seed`` and ``teardown``: the real command (a subprocess) against moto.

moto's server runs on 127.0.0.1 and holds what ``cdk deploy -c demoBank=true`` would
create: the empty demo tables, the broker's tables, a user pool with its groups, custom
attribute and app client. The command finds it through ``cdk-outputs.json`` and
``AWS_ENDPOINT_URL``, as an operator's shell would point it at the real account.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from agent_zero.adapters.dynamodb import (
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBTables,
    create_tables,
)
from agent_zero.sandbox.demo_bank import CUSTOMER_KEY_ATTRIBUTE, demo_bank
from agent_zero.sandbox.seed import _create_table_arguments

PROGRAM = shutil.which("agent-zero", path=str(Path(sys.executable).parent)) or "agent-zero"
REGION = "us-east-1"
PREFIX = "az-test-"
BANK = demo_bank()
ROWS = sum(len(table.rows) for table in BANK.tables)
# A password as the seeder prints it, between the table's borders.
PASSWORD_CELL = r"[\s│|]+([A-Za-z0-9_-]{24,})[\s│|]"
DEMO_NAMES = {table.catalog_key: table.name for table in BANK.tables}
AGENT_ROLE = "arn:aws:iam::123456789012:role/agent-zero-agent"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    requests_log = logging.getLogger("werkzeug")  # a line per request: thousands
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        requests_log.setLevel(level)


class Deployed:
    """A deployed stack with the demo bank switched on, and the CLI pointed at it."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.outputs = home / "cdk-outputs.json"
        self.tables = DynamoDBTables.with_prefix(PREFIX)
        self._clients: list[Any] = []
        self.dynamodb = self.client("dynamodb")
        self.cognito = self.client("cognito-idp")
        self.directory = DynamoDBPrincipalDirectory(
            client=self.dynamodb, table=self.tables.principals
        )
        self.policies = DynamoDBPolicyStore(client=self.dynamodb, table=self.tables.policies)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_ZERO_", "AWS_"))},
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AGENT_ZERO_CONFIG_DIR": str(home / "config"),
            "AGENT_ZERO_DATA_DIR": str(home / "data"),
            "COLUMNS": "80",
        }

    def client(self, service: str) -> Any:
        made = boto3.client(service, endpoint_url=self.url, region_name=REGION)
        self._clients.append(made)
        return made

    def close(self) -> None:
        for made in self._clients:
            made.close()

    def deploy(self, *, demo_names: Mapping[str, str] | None = DEMO_NAMES) -> None:
        """What ``cdk deploy`` makes, and its outputs; no ``demo_names``: no demo bank."""
        for table in BANK.tables if demo_names else ():
            renamed = replace(table, name=demo_names[table.catalog_key])
            self.dynamodb.create_table(**_create_table_arguments(renamed))
        create_tables(self.dynamodb, self.tables)
        pool = self.cognito.create_user_pool(
            PoolName="agent-zero-users",
            Schema=[
                {"Name": CUSTOMER_KEY_ATTRIBUTE, "AttributeDataType": "String", "Mutable": True}
            ],
        )["UserPool"]
        self.pool_id = pool["Id"]
        for group in BANK.user_pool.groups:
            self.cognito.create_group(UserPoolId=self.pool_id, GroupName=group.name)
        self.client_id = self.cognito.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="agent-zero-web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        # The keys AgentZeroStack declares (infra/stack.py), those these commands read.
        self.write_outputs(
            Region=REGION,
            UserPoolId=self.pool_id,
            UserPoolClientId=self.client_id,
            TablePrefix=PREFIX,
            PrincipalsTable=self.tables.principals,
            PoliciesTable=self.tables.policies,
            DemoBank="true" if demo_names else "false",
            DemoBankTables=json.dumps(demo_names or {}),
            AgentRoleArn=AGENT_ROLE,
        )

    def write_outputs(self, **outputs: str) -> None:
        self.outputs.write_text(json.dumps({"AgentZeroStack": outputs}))

    def run(self, *args: str, from_file: bool = True) -> subprocess.CompletedProcess[str]:
        outputs = ["--outputs", str(self.outputs)] if from_file else []
        return subprocess.run(
            [PROGRAM, "aws", *args, *outputs],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def seed(self) -> dict[str, str]:
        """Seed for real; the printed passwords by username."""
        done = self.run("seed", "--execute")
        assert done.returncode == 0, done.stderr
        return passwords_in(done.stdout)

    def snapshot(self) -> dict[str, Any]:
        """Everything the commands could touch, to compare before and after."""
        tables = [t.name for t in BANK.tables] + [self.tables.principals, self.tables.policies]
        return {
            "items": {name: self._items(name) for name in tables},
            "users": sorted(
                (u["Username"], sorted((a["Name"], a["Value"]) for a in u["Attributes"]))
                for u in self.cognito.list_users(UserPoolId=self.pool_id)["Users"]
            ),
        }

    def _items(self, table: str) -> list[str]:
        items = self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        return sorted(json.dumps(item, sort_keys=True) for item in items)

    def count(self, table: str) -> int:
        return len(self._items(table))

    def usernames(self) -> set[str]:
        users = self.cognito.list_users(UserPoolId=self.pool_id)["Users"]
        return {user["Username"] for user in users}

    def sign_in(self, username: str, password: str) -> bool:
        answer = self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return "AccessToken" in answer.get("AuthenticationResult", {})


def passwords_in(stdout: str) -> dict[str, str]:
    found = {}
    for user in BANK.users:
        match = re.search(re.escape(user.username) + PASSWORD_CELL, stdout)
        if match:
            found[user.username] = match.group(1)
    return found


@pytest.fixture
def deployed(moto_url: str, tmp_path: Path) -> Iterator[Deployed]:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    stack = Deployed(moto_url, tmp_path)
    try:
        stack.deploy()
        yield stack
    finally:
        stack.close()


def test_a_dry_run_lists_the_plan_with_counts_and_changes_nothing(deployed: Deployed) -> None:
    before = deployed.snapshot()
    done = deployed.run("seed")
    assert done.returncode == 0, done.stderr
    for table in BANK.tables:
        assert f"{table.name}: {len(table.rows)} rows to write" in done.stdout
    assert "Cognito users to create: 5 (priya.raman, " in done.stdout
    assert "principals to create: 6 (" in done.stdout
    assert "support-assistant" in done.stdout
    assert "first policy versions to write: 6 (" in done.stdout
    assert AGENT_ROLE in done.stdout  # how the broker knows the agent
    assert "Dry run: nothing changed" in done.stderr
    assert deployed.snapshot() == before
    assert deployed.run("teardown").stderr.startswith("Nothing to do")


def test_seed_loads_rows_users_principals_and_policies_once(deployed: Deployed) -> None:
    done = deployed.run("seed", "--execute")
    assert done.returncode == 0, done.stderr
    for table in BANK.tables:
        assert deployed.count(table.name) == len(table.rows), table.name
    assert f"Created {ROWS} rows, 5 Cognito users, 6 principals, 6 policies." in done.stderr

    passwords = passwords_in(done.stdout)
    assert set(passwords) == {user.username for user in BANK.users}
    for user in BANK.users:
        assert deployed.sign_in(user.username, passwords[user.username])
        groups = deployed.cognito.admin_list_groups_for_user(
            UserPoolId=deployed.pool_id, Username=user.username
        )["Groups"]
        assert {g["GroupName"] for g in groups} == user.cognito_groups
        found = deployed.cognito.admin_get_user(UserPoolId=deployed.pool_id, Username=user.username)
        attributes = {a["Name"]: a["Value"] for a in found["UserAttributes"]}
        assert attributes["email"] == user.email
        assert attributes.get(f"custom:{CUSTOMER_KEY_ATTRIBUTE}") == user.customer_key

    # The broker reads the same principals, under the Cognito usernames, and their policies.
    assert list(deployed.directory.list()) == sorted(BANK.principals(), key=lambda p: p.id)
    for policy in BANK.policies:
        current = deployed.policies.current(policy.principal_id)
        assert current is not None
        assert (current.version, current.text) == (1, policy.text)

    # Strong, distinct, shown once on stdout and kept nowhere.
    assert len(set(passwords.values())) == len(passwords)
    assert all(len(password) >= 32 for password in passwords.values())
    assert not any(password in done.stderr for password in passwords.values())
    assert [path.name for path in deployed.home.rglob("*")] == ["cdk-outputs.json"]

    before = deployed.snapshot()
    again = deployed.run("seed", "--execute")
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith("Nothing to do: the demo bank is already there.")
    assert "Cognito users already present, passwords unchanged: 5" in again.stdout
    assert "principals already present, left as they are: 6" in again.stdout
    for table in BANK.tables:
        assert f"{table.name}: 0 rows to write ({len(table.rows)} already present)" in again.stdout
    assert not any(p in again.stdout + again.stderr for p in passwords.values())
    assert deployed.snapshot() == before


def test_a_reseed_restores_only_what_is_missing_and_keeps_an_edited_policy(
    deployed: Deployed,
) -> None:
    first = deployed.seed()
    current = deployed.policies.current("ben.okafor")
    assert current is not None
    deployed.policies.write(
        "ben.okafor",
        text="Ben may read his balances only.",
        author_id="priya.raman",
        at=current.created_at,
        expected_version=1,
    )
    profiles = BANK.table("customer-profiles")
    deployed.dynamodb.delete_item(
        TableName=profiles.name, Key={"customer_id": {"S": profiles.rows[0]["customer_id"]}}
    )
    deployed.cognito.admin_delete_user(UserPoolId=deployed.pool_id, Username="kwame.mensah")

    dry = deployed.run("seed")
    assert (
        f"{profiles.name}: 1 rows to write ({len(profiles.rows) - 1} already present)" in dry.stdout
    )
    assert "Cognito users to create: 1 (kwame.mensah)" in dry.stdout
    assert "policies already present, later edits kept: 6" in dry.stdout
    assert "first policy versions" not in dry.stdout

    again = deployed.run("seed", "--execute")
    assert again.returncode == 0, again.stderr
    assert "Created 1 rows, 1 Cognito users." in again.stderr
    assert set(passwords_in(again.stdout)) == {"kwame.mensah"}
    assert deployed.sign_in("ben.okafor", first["ben.okafor"])  # untouched
    assert deployed.count(profiles.name) == len(profiles.rows)
    edited = deployed.policies.current("ben.okafor")
    assert edited is not None
    assert (edited.version, edited.text) == (2, "Ben may read his balances only.")


def test_teardown_deletes_exactly_what_seed_made(deployed: Deployed) -> None:
    deployed.seed()
    profiles = BANK.table("customer-profiles")
    deployed.dynamodb.put_item(
        TableName=profiles.name, Item={"customer_id": {"S": "c-9999"}, "full_name": {"S": "Real"}}
    )
    deployed.cognito.admin_create_user(
        UserPoolId=deployed.pool_id, Username="someone.else", MessageAction="SUPPRESS"
    )
    before = deployed.snapshot()
    dry = deployed.run("teardown")
    assert dry.returncode == 0, dry.stderr
    assert f"{profiles.name}: {len(profiles.rows)} rows to delete" in dry.stdout
    assert "Cognito users to delete: 5" in dry.stdout
    assert "principals to delete: 6" in dry.stdout
    assert "policy histories kept" in dry.stdout
    assert "requests and audit tables" in dry.stdout
    assert deployed.snapshot() == before

    done = deployed.run("teardown", "--execute")
    assert done.returncode == 0, done.stderr
    assert f"Deleted {ROWS} rows, 5 Cognito users, 6 principals." in done.stderr
    for table in BANK.tables:
        assert deployed.count(table.name) == (1 if table is profiles else 0), table.name
    assert deployed.usernames() == {"someone.else"}
    assert list(deployed.directory.list()) == []
    assert deployed.count(deployed.tables.policies) == 6  # the history stays
    assert deployed.run("teardown", "--execute").stderr.startswith("Nothing to do")

    # Seeding again brings the demo back around the policies that stayed.
    again = deployed.run("seed", "--execute")
    assert again.returncode == 0, again.stderr
    assert f"Created {ROWS} rows, 5 Cognito users, 6 principals." in again.stderr


def test_a_stranger_holding_a_demo_username_is_never_touched(deployed: Deployed) -> None:
    deployed.cognito.admin_create_user(
        UserPoolId=deployed.pool_id,
        Username="ben.okafor",
        UserAttributes=[{"Name": "email", "Value": "ben@elsewhere.example"}],
        MessageAction="SUPPRESS",
    )
    before = deployed.snapshot()
    refused = deployed.run("seed", "--execute")
    assert refused.returncode == 2
    assert "ben.okafor exist but are not the demo's" in refused.stderr
    assert deployed.snapshot() == before

    done = deployed.run("teardown", "--execute")
    assert done.returncode == 0, done.stderr
    assert "kept, as they are not the demo's: 1 (ben.okafor)" in done.stdout
    assert deployed.usernames() == {"ben.okafor"}


def test_seed_refuses_a_stack_deployed_without_the_demo_bank(moto_url: str, tmp_path: Path) -> None:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    stack = Deployed(moto_url, tmp_path)
    try:
        stack.deploy(demo_names=None)
        for args in (("seed",), ("seed", "--execute")):
            refused = stack.run(*args)
            assert refused.returncode == 2, refused.stderr
            assert refused.stderr == (
                "agent-zero: AgentZeroStack was deployed without the demo bank: "
                "deploy the stack with `cdk deploy -c demoBank=true`\n"
            )
        # Outputs that do not say: the missing tables tell.
        stack.write_outputs(UserPoolId=stack.pool_id, TablePrefix=PREFIX)
        refused = stack.run("seed", "--execute")
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1  # one line
        assert "refusing to seed: the demo bank's tables do not exist (bank-" in refused.stderr
        assert "cdk deploy -c demoBank=true" in refused.stderr
        assert stack.usernames() == set()
        assert list(stack.directory.list()) == []

        nothing = stack.run("teardown", "--execute")
        assert nothing.returncode == 0, nothing.stderr
        assert "bank-transactions does not exist: nothing to delete there" in nothing.stdout
    finally:
        stack.close()


def test_the_demo_tables_are_found_under_the_names_the_stack_gave_them(
    moto_url: str, tmp_path: Path
) -> None:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    stack = Deployed(moto_url, tmp_path)
    names = {key: f"AgentZeroStack-Demo-{key}-1A2B3C" for key in DEMO_NAMES}
    try:
        stack.deploy(demo_names=names)
        done = stack.run("seed", "--execute")
        assert done.returncode == 0, done.stderr
        for table in BANK.tables:
            assert stack.count(names[table.catalog_key]) == len(table.rows)
        assert "bank-" not in done.stdout
        gone = stack.run("teardown", "--execute")
        assert gone.returncode == 0, gone.stderr
        assert all(stack.count(name) == 0 for name in names.values())
    finally:
        stack.close()


def test_bad_outputs_and_an_unreachable_account_are_one_line_errors(deployed: Deployed) -> None:
    wrong_stack = deployed.run("seed", "--stack", "OtherStack")
    assert wrong_stack.returncode == 2
    assert "has no outputs of OtherStack (stacks: AgentZeroStack)" in wrong_stack.stderr

    deployed.write_outputs(TablePrefix=PREFIX)
    no_pool = deployed.run("seed")
    assert no_pool.returncode == 2
    assert "has no UserPoolId output" in no_pool.stderr

    deployed.write_outputs(UserPoolId="us-east-1_nope")
    unknown_pool = deployed.run("seed")
    assert unknown_pool.returncode == 2
    assert "there is no user pool us-east-1_nope" in unknown_pool.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    deployed.env |= {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}", "AWS_MAX_ATTEMPTS": "1"}
    unreachable = deployed.run("seed")
    assert unreachable.returncode == 5, unreachable.stderr
    assert unreachable.stderr.startswith("agent-zero: cannot reach AWS")
    assert unreachable.stderr.count("\n") == 1


def test_without_an_outputs_file_the_outputs_come_from_cloudformation(deployed: Deployed) -> None:
    outputs = json.loads(deployed.outputs.read_text())["AgentZeroStack"]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    deployed.client("cloudformation").create_stack(
        StackName="AgentZeroStack", TemplateBody=json.dumps(template)
    )
    done = deployed.run("seed", from_file=False)
    assert done.returncode == 0, done.stderr
    assert "Cognito users to create: 5" in done.stdout

    unknown = deployed.run("seed", "--stack", "NoSuchStack", from_file=False)
    assert unknown.returncode == 2
    assert "there is no stack NoSuchStack in this region" in unknown.stderr
