"""Probe the gateway with minted credentials: everything the grants allow works, nothing else does.

Given a session's credentials, the grants the broker approved (catalog key -> actions) and
the customer key its rows are scoped to (None when the principal is not row-scoped), the
battery calls the sandbox's AWS endpoint with boto3, as an attacker holding the session
would: every table's own and another customer's rows, keyless reads (Scan, PartiQL),
writes, index queries, another region, STS, IAM, Cognito and S3. A call the grants allow
must succeed; any other call must be refused with AccessDenied. An allowed call outside
the grants is an over-grant.

Writes carry a condition that can never hold (the attribute both exists and does not), so
a write IAM lets through fails in DynamoDB with ConditionalCheckFailedException and never
changes the bank's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from agent_zero.sandbox.demo_bank.models import DemoTable
from agent_zero.sandbox.demo_bank.tables import demo_tables
from agent_zero.sandbox.record import SandboxRecord

OTHER_REGION = "us-west-2"
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
# The credentials themselves did not work: neither allowed nor an authorization decision.
AUTH_FAILURES = frozenset(
    {
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignatureException",
    }
)
_IMPOSSIBLE = "attribute_exists(#p) AND attribute_not_exists(#p)"
_FIXED_ROWS = {  # a key of a real row for the operational tables (not customer-owned)
    "operations-metrics": ("2026-11-02", "card_declines"),
    "transaction-ledger": ("2026-10-24", "probe#0"),
}
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30
)
Grants = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Call:
    """One probe: a boto3 call, the IAM action it needs and what it touches."""

    name: str
    service: str
    operation: str
    params: Mapping[str, Any]
    action: str
    resource_key: str | None  # the catalog entry it acts on; None for anything uncataloged
    row_keys: tuple[str, ...] = ()  # customer keys whose rows it touches; () for keyless calls
    region: str = "us-east-1"


@dataclass(frozen=True, slots=True)
class Finding:
    """What the gateway did with one probe, and whether the grants allow it."""

    call: Call
    permitted: bool
    allowed: bool
    code: str  # the error code, or "ok"


@dataclass
class ProbeReport:
    """Every probe's finding, plus who the session says it is."""

    caller_arn: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def over_grants(self) -> list[Finding]:
        """Calls the gateway allowed that the grants do not."""
        return [f for f in self.findings if f.allowed and not f.permitted]

    @property
    def under_grants(self) -> list[Finding]:
        """Calls the grants allow that did not work."""
        return [f for f in self.findings if f.permitted and not f.allowed]

    def describe(self) -> str:
        """One line per finding that is wrong, for an assertion message."""
        lines = [
            f"over-grant: {f.call.name} ({f.call.action}) -> {f.code}" for f in self.over_grants
        ]
        lines += [
            f"under-grant: {f.call.name} ({f.call.action}) -> {f.code}" for f in self.under_grants
        ]
        return "\n".join(lines)


def is_permitted(
    call: Call, grants: Grants, *, owner_key: str | None, scoped: frozenset[str]
) -> bool:
    """Whether ``grants`` allow ``call``: the action on that resource, in the home region,
    and on a row-scoped table only with keys that are all the owner's."""
    if call.region != "us-east-1" or call.resource_key is None or call.resource_key not in grants:
        return False
    if call.action.lower() not in {action.lower() for action in grants[call.resource_key]}:
        return False
    if owner_key is not None and call.resource_key in scoped:
        return bool(call.row_keys) and all(key == owner_key for key in call.row_keys)
    return True


class Prober:
    """Runs the battery against one sandbox; one botocore session (loaded models) for all probes."""

    def __init__(self, record: SandboxRecord) -> None:
        self._record = record
        self._session = botocore.session.get_session()
        self._tables = {table.catalog_key: table for table in demo_tables()}
        self.scoped = frozenset(k for k, table in self._tables.items() if table.customer_owned)

    def probe(
        self,
        credentials: Mapping[str, str],
        grants: Grants,
        *,
        owner_key: str | None,
        mine: str,
        other: str,
    ) -> ProbeReport:
        """Run the battery with ``credentials``; ``mine``/``other`` are the customer keys tried."""
        calls = self.battery(grants, mine=mine, other=other)
        clients: dict[tuple[str, str], Any] = {}
        try:
            caller = self._client(clients, credentials, "sts", "us-east-1").get_caller_identity()
            report = ProbeReport(caller_arn=str(caller["Arn"]))
            for call in calls:
                client = self._client(clients, credentials, call.service, call.region)
                code = _code_of(client, call)
                allowed = code not in DENIED_CODES and code not in AUTH_FAILURES
                permitted = is_permitted(call, grants, owner_key=owner_key, scoped=self.scoped)
                report.findings.append(Finding(call, permitted, allowed, code))
            return report
        finally:
            for client in clients.values():
                client.close()

    def _client(
        self,
        clients: dict[tuple[str, str], Any],
        credentials: Mapping[str, str],
        service: str,
        region: str,
    ) -> Any:
        if (service, region) not in clients:
            clients[(service, region)] = self._session.create_client(
                service,
                region_name=region,
                endpoint_url=self._record.aws_endpoint_url,
                aws_access_key_id=credentials["access_key_id"],
                aws_secret_access_key=credentials["secret_access_key"],
                aws_session_token=credentials.get("session_token"),
                config=_CLIENT_CONFIG,
            )
        return clients[(service, region)]

    def battery(self, grants: Grants, *, mine: str, other: str) -> list[Call]:
        """Every probe for a session with ``grants``: the full set on granted tables, a
        short one on the others, then another region and other services."""
        calls: list[Call] = []
        for key, table in self._tables.items():
            name = self._record.tables[key]
            full = key in grants
            if table.customer_owned:
                calls += _customer_table(key, table, name, mine=mine, other=other, full=full)
            else:
                calls += _operational_table(key, table, name, full=full)
        ledger = self._record.tables["transaction-ledger"]
        calls.append(
            Call(
                "ledger-by-category:Query",
                "dynamodb",
                "query",
                {
                    "TableName": ledger,
                    "IndexName": "by-category",
                    "KeyConditionExpression": "merchant_category = :c",
                    "ExpressionAttributeValues": {":c": {"S": "dining"}},
                },
                "dynamodb:Query",
                "transaction-ledger-by-category",
            )
        )
        for key in sorted(grants):
            granted = self._tables.get(key)
            if granted is not None and granted.customer_owned:
                calls.append(
                    _get_item(key, granted, self._record.tables[key], mine, region=OTHER_REGION)
                )
        return calls + self._other_services()

    def _other_services(self) -> list[Call]:
        record = self._record
        customer_role = "agent-zero-target-customer-data"
        calls = [
            Call(
                f"sts:AssumeRole:{role}",
                "sts",
                "assume_role",
                {"RoleArn": arn, "RoleSessionName": "probe"},
                "sts:AssumeRole",
                None,
            )
            for role, arn in sorted(record.roles.items())
        ]
        pool = record.cognito.user_pool_id
        calls += [
            Call("iam:ListRoles", "iam", "list_roles", {}, "iam:ListRoles", None),
            Call(
                "iam:GetRolePolicy",
                "iam",
                "get_role_policy",
                {"RoleName": customer_role, "PolicyName": "agent-zero-revocations"},
                "iam:GetRolePolicy",
                None,
            ),
            Call(
                "iam:PutRolePolicy",
                "iam",
                "put_role_policy",
                # A role that does not exist: allowed, it fails in IAM and changes nothing.
                {
                    "RoleName": "agent-zero-probe-no-such-role",
                    "PolicyName": "p",
                    "PolicyDocument": "{}",
                },
                "iam:PutRolePolicy",
                None,
            ),
            Call(
                "cognito:ListUsers",
                "cognito-idp",
                "list_users",
                {"UserPoolId": pool},
                "cognito-idp:ListUsers",
                "user-directory",
            ),
            Call(
                "cognito:AdminGetUser",
                "cognito-idp",
                "admin_get_user",
                {"UserPoolId": pool, "Username": "priya.raman"},
                "cognito-idp:AdminGetUser",
                "user-directory",
            ),
            Call(
                "cognito:AdminAddUserToGroup",
                "cognito-idp",
                "admin_add_user_to_group",
                {"UserPoolId": pool, "Username": "probe-nobody", "GroupName": "admin"},
                "cognito-idp:AdminAddUserToGroup",
                "user-directory",
            ),
            Call("s3:ListBuckets", "s3", "list_buckets", {}, "s3:ListAllMyBuckets", None),
            Call("dynamodb:ListTables", "dynamodb", "list_tables", {}, "dynamodb:ListTables", None),
            Call(
                "dynamodb:CreateTable",
                "dynamodb",
                "create_table",
                {
                    "TableName": "probe-created-by-a-session",
                    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
                "dynamodb:CreateTable",
                None,
            ),
        ]
        return calls


def _code_of(client: Any, call: Call) -> str:
    try:
        getattr(client, call.operation)(**call.params)
    except ClientError as error:
        return str(error.response.get("Error", {}).get("Code", "unknown"))
    return "ok"


def _key(table: DemoTable, partition: str, sort: str = "probe#0") -> dict[str, Any]:
    key: dict[str, Any] = {table.partition_key.name: {"S": partition}}
    if table.sort_key is not None:
        key[table.sort_key.name] = {"S": sort}
    return key


def _get_item(
    key: str, table: DemoTable, name: str, row: str, *, region: str = "us-east-1"
) -> Call:
    suffix = f":{region}" if region != "us-east-1" else ""
    return Call(
        f"{key}:GetItem:{row}{suffix}",
        "dynamodb",
        "get_item",
        {"TableName": name, "Key": _key(table, row)},
        "dynamodb:GetItem",
        key,
        (row,),
        region,
    )


def _query(key: str, table: DemoTable, name: str, value: str, rows: tuple[str, ...]) -> Call:
    return Call(
        f"{key}:Query:{value}",
        "dynamodb",
        "query",
        {
            "TableName": name,
            "KeyConditionExpression": "#p = :k",
            "ExpressionAttributeNames": {"#p": table.partition_key.name},
            "ExpressionAttributeValues": {":k": {"S": value}},
        },
        "dynamodb:Query",
        key,
        rows,
    )


def _write(
    operation: str, key: str, table: DemoTable, name: str, row: str, rows: tuple[str, ...]
) -> Call:
    names = {"#p": table.partition_key.name}
    params: dict[str, Any] = {"TableName": name, "ConditionExpression": _IMPOSSIBLE}
    if operation == "PutItem":
        params["Item"] = _key(table, row)
    else:
        params["Key"] = _key(table, row)
    if operation == "UpdateItem":
        params["UpdateExpression"] = "SET #n = :v"
        names["#n"] = "probe_note"
        params["ExpressionAttributeValues"] = {":v": {"S": "written by a probe"}}
    params["ExpressionAttributeNames"] = names
    method = {"PutItem": "put_item", "UpdateItem": "update_item", "DeleteItem": "delete_item"}
    return Call(
        f"{key}:{operation}:{row}",
        "dynamodb",
        method[operation],
        params,
        f"dynamodb:{operation}",
        key,
        rows,
    )


def _keyless(key: str, name: str, partition: str, value: str) -> list[Call]:
    return [
        Call(
            f"{key}:Scan", "dynamodb", "scan", {"TableName": name, "Limit": 1}, "dynamodb:Scan", key
        ),
        Call(
            f"{key}:DescribeTable",
            "dynamodb",
            "describe_table",
            {"TableName": name},
            "dynamodb:DescribeTable",
            key,
        ),
        Call(
            f"{key}:ExecuteStatement",
            "dynamodb",
            "execute_statement",
            {"Statement": f'SELECT * FROM "{name}" WHERE "{partition}" = \'{value}\''},
            "dynamodb:PartiQLSelect",
            key,
        ),
    ]


def _customer_table(
    key: str, table: DemoTable, name: str, *, mine: str, other: str, full: bool
) -> list[Call]:
    scan = Call(
        f"{key}:Scan", "dynamodb", "scan", {"TableName": name, "Limit": 1}, "dynamodb:Scan", key
    )
    if not full:
        return [
            _get_item(key, table, name, mine),
            _query(key, table, name, mine, (mine,)),
            _write("PutItem", key, table, name, mine, (mine,)),
            scan,
        ]
    batch = [
        Call(
            f"{key}:BatchGetItem:{'+'.join(rows)}",
            "dynamodb",
            "batch_get_item",
            {"RequestItems": {name: {"Keys": [_key(table, row) for row in rows]}}},
            "dynamodb:BatchGetItem",
            key,
            rows,
        )
        for rows in ((mine,), (mine, other))
    ]
    calls = [_get_item(key, table, name, mine), _get_item(key, table, name, other)]
    calls += [_query(key, table, name, mine, (mine,)), _query(key, table, name, other, (other,))]
    calls += batch
    calls += [
        _write(op, key, table, name, row, (row,))
        for op in ("PutItem", "UpdateItem")
        for row in (mine, other)
    ]
    calls.append(_write("DeleteItem", key, table, name, mine, (mine,)))
    return calls + _keyless(key, name, table.partition_key.name, mine)


def _operational_table(key: str, table: DemoTable, name: str, *, full: bool) -> list[Call]:
    partition, sort = _FIXED_ROWS[key]
    item_key = _key(table, partition, sort)
    get = Call(
        f"{key}:GetItem",
        "dynamodb",
        "get_item",
        {"TableName": name, "Key": item_key},
        "dynamodb:GetItem",
        key,
    )
    query = _query(key, table, name, partition, ())
    put = Call(
        f"{key}:PutItem",
        "dynamodb",
        "put_item",
        {
            "TableName": name,
            "Item": item_key,
            "ConditionExpression": _IMPOSSIBLE,
            "ExpressionAttributeNames": {"#p": table.partition_key.name},
        },
        "dynamodb:PutItem",
        key,
    )
    scan = Call(
        f"{key}:Scan", "dynamodb", "scan", {"TableName": name, "Limit": 1}, "dynamodb:Scan", key
    )
    if not full:
        return [get, query, put, scan]
    batch = Call(
        f"{key}:BatchGetItem",
        "dynamodb",
        "batch_get_item",
        {"RequestItems": {name: {"Keys": [item_key]}}},
        "dynamodb:BatchGetItem",
        key,
    )
    return [get, query, put, batch, *_keyless(key, name, table.partition_key.name, partition)]
