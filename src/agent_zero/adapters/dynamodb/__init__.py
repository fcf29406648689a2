"""The broker's stores on DynamoDB: the production storage backend.

Wiring builds one low-level boto3 DynamoDB client and hands it, with a table name, to
each store; ``create_tables`` makes the tables for tests and the sandbox (the CDK
stack declares the same ones in production). The stores keep the contracts of
``agent_zero.broker.ports`` and pass the same conformance suite as the in-memory
fakes and SQLite.
"""

from agent_zero.adapters.dynamodb.audit_log import DynamoDBAuditLog
from agent_zero.adapters.dynamodb.stores import (
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBRequestStore,
)
from agent_zero.adapters.dynamodb.tables import DynamoDBTables, create_tables

__all__ = [
    "DynamoDBAuditLog",
    "DynamoDBPolicyStore",
    "DynamoDBPrincipalDirectory",
    "DynamoDBRequestStore",
    "DynamoDBTables",
    "create_tables",
]
