"""The stack's DynamoDB tables, declared from the same definitions the package creates them with.

The broker's four tables come from ``table_definitions``, the connections and signed-out
sessions tables from their adapters' definitions and the demo bank's from its ``DemoTable``
data, so the stack and the code cannot disagree on a key or an index. Every table is
encrypted with KMS, has point-in-time recovery and bills per request; the broker's own
tables keep their data: deletion protection on, and CloudFormation retains them when the
stack goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from agent_zero.adapters.dynamodb import connections, revoked_sessions
from agent_zero.adapters.dynamodb.tables import DynamoDBTables, table_definitions
from agent_zero.sandbox.demo_bank import DemoTable
from agent_zero.sandbox.demo_bank.tables import demo_tables

TABLE_PREFIX = "agent-zero-"
CONNECTIONS_TABLE = f"{TABLE_PREFIX}connections"
REVOKED_SESSIONS_TABLE = f"{TABLE_PREFIX}revoked-sessions"


def demo_table_definition(table: DemoTable) -> dict[str, Any]:
    """The CreateTable request for one of the demo bank's tables."""
    keys = [(table.partition_key, "HASH")]
    if table.sort_key is not None:
        keys.append((table.sort_key, "RANGE"))
    definition: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": [{"AttributeName": k.name, "KeyType": kind} for k, kind in keys],
        "AttributeDefinitions": [
            {"AttributeName": k.name, "AttributeType": k.type} for k in table.key_attributes
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = []
    for index in table.indexes:
        schema = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
        if index.sort_key is not None:
            schema.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
        indexes.append(
            {"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}
        )
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    return definition


def _keys(schema: Sequence[Mapping[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [
        dynamodb.CfnTable.KeySchemaProperty(
            attribute_name=k["AttributeName"], key_type=k["KeyType"]
        )
        for k in schema
    ]


def declare_table(
    scope: Construct,
    construct_id: str,
    definition: Mapping[str, Any],
    *,
    keep: bool,
    ttl_attribute: str | None = None,
) -> dynamodb.CfnTable:
    """One table from its CreateTable request, with the stack's protections."""
    if definition.get("BillingMode") != "PAY_PER_REQUEST":
        raise ValueError(f"{definition['TableName']}: every table bills per request")
    table = dynamodb.CfnTable(
        scope,
        construct_id,
        table_name=definition["TableName"],
        key_schema=_keys(definition["KeySchema"]),
        attribute_definitions=[
            dynamodb.CfnTable.AttributeDefinitionProperty(
                attribute_name=a["AttributeName"], attribute_type=a["AttributeType"]
            )
            for a in definition["AttributeDefinitions"]
        ],
        billing_mode="PAY_PER_REQUEST",
        global_secondary_indexes=[
            dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                index_name=index["IndexName"],
                key_schema=_keys(index["KeySchema"]),
                projection=dynamodb.CfnTable.ProjectionProperty(
                    projection_type=index["Projection"]["ProjectionType"]
                ),
            )
            for index in definition.get("GlobalSecondaryIndexes", [])
        ]
        or None,
        # KMS with the AWS-managed key (aws/dynamodb): no key to pay for or rotate.
        sse_specification=dynamodb.CfnTable.SSESpecificationProperty(
            sse_enabled=True, sse_type="KMS"
        ),
        point_in_time_recovery_specification=(
            dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True
            )
        ),
        deletion_protection_enabled=keep,
        time_to_live_specification=(
            dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                attribute_name=ttl_attribute, enabled=True
            )
            if ttl_attribute
            else None
        ),
    )
    table.apply_removal_policy(cdk.RemovalPolicy.RETAIN if keep else cdk.RemovalPolicy.DESTROY)
    return table


@dataclass(frozen=True, slots=True)
class DeclaredTable:
    """A table in the stack: its name, its ARN and the ARNs of its indexes."""

    name: str
    resource: dynamodb.CfnTable
    index_names: tuple[str, ...]

    @property
    def arn(self) -> str:
        """The table's ARN (a token)."""
        return self.resource.attr_arn

    def arns(self) -> list[str]:
        """The table's ARN and one per index, for an IAM statement."""
        return [self.arn, *(f"{self.arn}/index/{index}" for index in self.index_names)]


def _declared(
    scope: Construct, construct_id: str, definition: dict[str, Any], **options: Any
) -> DeclaredTable:
    resource = declare_table(scope, construct_id, definition, **options)
    indexes = tuple(i["IndexName"] for i in definition.get("GlobalSecondaryIndexes", []))
    return DeclaredTable(definition["TableName"], resource, indexes)


class Tables(Construct):
    """The broker's tables, the agent's connections, signed-out sessions and, optionally,
    the demo bank's tables (which the demo teardown may delete: no deletion protection)."""

    def __init__(self, scope: Construct, construct_id: str, *, demo_bank: bool) -> None:
        super().__init__(scope, construct_id)
        names = DynamoDBTables.with_prefix(TABLE_PREFIX)
        self.broker: dict[str, DeclaredTable] = {}
        for label, definition in zip(
            ("Principals", "Policies", "Requests", "Audit"),
            table_definitions(names),
            strict=True,
        ):
            self.broker[label] = _declared(self, label, definition, keep=True)
        self.connections = _declared(
            self,
            "Connections",
            connections.connections_table_definition(CONNECTIONS_TABLE),
            keep=True,
            ttl_attribute=connections.TTL_ATTRIBUTE,
        )
        self.revoked_sessions = _declared(
            self,
            "RevokedSessions",
            revoked_sessions.revoked_sessions_table_definition(REVOKED_SESSIONS_TABLE),
            keep=True,
            ttl_attribute=revoked_sessions.TTL_ATTRIBUTE,
        )
        self.demo: dict[str, DeclaredTable] = {}
        for table in demo_tables() if demo_bank else ():
            construct = "Demo" + "".join(part.title() for part in table.catalog_key.split("-"))
            self.demo[table.catalog_key] = _declared(
                self, construct, demo_table_definition(table), keep=False
            )
