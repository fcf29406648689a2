"""Seed the demo bank through the gateway, idempotently, as the account's root would.

Every step creates what is missing and leaves what exists: rows are written
only if absent (an edit made in the sandbox survives a restart), the revocation
policy is written only once (revocations survive a restart), and passwords and
access keys recorded in ``sandbox.json`` are reused so logins stay the same.
Seeding goes through the real endpoint with boto3, so it exercises the gateway.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from agent_zero.sandbox.demo_bank import (
    BROKER_HOST_USER_NAME,
    CUSTOMER_KEY_ATTRIBUTE,
    REVOCATION_POLICY_NAME,
    SANDBOX_ADMIN_USER_NAME,
    DemoBank,
    DemoTable,
    DemoUser,
)
from agent_zero.sandbox.record import AccessKey, CognitoRecord, SandboxRecord, UserRecord

Progress = Callable[[str], None]
_SERIALIZER = TypeSerializer()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom to seed."""

    url: str
    region: str
    access_key_id: str
    secret_access_key: str

    def client(self, service: str) -> Any:
        """A boto3 client for this endpoint."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


def new_password() -> str:
    """A password Cognito's default policy accepts, from a CSPRNG."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(14))
    return f"{core}-Aa7"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _exists(call: Callable[[], object], *missing_codes: str) -> bool:
    try:
        call()
    except ClientError as error:
        if _code(error) in missing_codes:
            return False
        raise
    return True


def seed_demo_bank(
    endpoint: Endpoint,
    bank: DemoBank,
    *,
    previous: SandboxRecord | None,
    progress: Progress,
) -> SandboxRecord:
    """Create whatever of the demo bank is missing and describe the result."""
    progress("seeding IAM users and roles")
    keys = _seed_iam(endpoint, bank, previous)
    progress(f"seeding {len(bank.tables)} DynamoDB tables")
    for table in bank.tables:
        _seed_table(endpoint, table)
    progress("seeding the Cognito user pool and demo logins")
    cognito, users = _seed_cognito(endpoint, bank, previous)
    return SandboxRecord(
        region=bank.region,
        account_id=bank.account_id,
        aws_endpoint_url=endpoint.url,
        web_url=None,
        broker_api_url=None,
        admin_credentials=keys[SANDBOX_ADMIN_USER_NAME],
        agent_credentials=keys[bank.agent.iam_user_name],
        broker_host_credentials=keys[BROKER_HOST_USER_NAME],
        cognito=cognito,
        users=users,
        tables={table.catalog_key: table.name for table in bank.tables},
        roles={role.name: role.arn(bank.account_id) for role in bank.roles},
    )


# --- IAM -----------------------------------------------------------------------------------


def _seed_iam(
    endpoint: Endpoint, bank: DemoBank, previous: SandboxRecord | None
) -> dict[str, AccessKey]:
    iam = endpoint.client("iam")
    for user in bank.iam_users:
        if not _exists(partial(iam.get_user, UserName=user.name), "NoSuchEntity"):
            iam.create_user(UserName=user.name, Path=user.path)
        for name, document in user.inline_policies.items():
            iam.put_user_policy(
                UserName=user.name, PolicyName=name, PolicyDocument=json.dumps(document)
            )
    for role in bank.roles:
        trust = json.dumps(role.trust_policy)
        if _exists(partial(iam.get_role, RoleName=role.name), "NoSuchEntity"):
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust)
        else:
            iam.create_role(
                RoleName=role.name,
                Path=role.path,
                Description=role.description,
                AssumeRolePolicyDocument=trust,
                MaxSessionDuration=role.max_session_duration,
            )
        for name, document in role.inline_policies.items():
            present = _exists(
                partial(iam.get_role_policy, RoleName=role.name, PolicyName=name), "NoSuchEntity"
            )
            if name == REVOCATION_POLICY_NAME and present:
                continue  # the broker owns it once written: revocations survive restarts
            iam.put_role_policy(
                RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document)
            )
    recorded = _recorded_keys(previous, agent_user=bank.agent.iam_user_name)
    wanted = (SANDBOX_ADMIN_USER_NAME, BROKER_HOST_USER_NAME, bank.agent.iam_user_name)
    return {name: _access_key(iam, name, recorded.get(name)) for name in wanted}


def _recorded_keys(previous: SandboxRecord | None, *, agent_user: str) -> dict[str, AccessKey]:
    if previous is None:
        return {}
    return {
        SANDBOX_ADMIN_USER_NAME: previous.admin_credentials,
        BROKER_HOST_USER_NAME: previous.broker_host_credentials,
        agent_user: previous.agent_credentials,
    }


def _access_key(iam: Any, user_name: str, recorded: AccessKey | None) -> AccessKey:
    listed = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    ids = {key["AccessKeyId"] for key in listed}
    if recorded is not None and recorded.access_key_id in ids:
        return recorded
    for key_id in ids:  # a key whose secret nobody recorded is useless: replace it
        iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)
    created = iam.create_access_key(UserName=user_name)["AccessKey"]
    return AccessKey(
        access_key_id=created["AccessKeyId"], secret_access_key=created["SecretAccessKey"]
    )


# --- DynamoDB ---------------------------------------------------------------------------------


def _seed_table(endpoint: Endpoint, table: DemoTable) -> None:
    dynamodb = endpoint.client("dynamodb")
    if not _exists(
        lambda: dynamodb.describe_table(TableName=table.name), "ResourceNotFoundException"
    ):
        dynamodb.create_table(**_create_table_arguments(table))
    key_names = [attribute.name for attribute in table.key_attributes]
    condition = " AND ".join(f"attribute_not_exists(#k{i})" for i in range(len(key_names)))
    names = {f"#k{i}": name for i, name in enumerate(key_names)}
    for row in table.rows:
        item = {name: _SERIALIZER.serialize(value) for name, value in row.items()}
        try:
            dynamodb.put_item(
                TableName=table.name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise


def _create_table_arguments(table: DemoTable) -> dict[str, Any]:
    schema = [{"AttributeName": table.partition_key.name, "KeyType": "HASH"}]
    if table.sort_key is not None:
        schema.append({"AttributeName": table.sort_key.name, "KeyType": "RANGE"})
    attributes = {a.name: a.type for a in table.key_attributes}
    indexes = []
    for index in table.indexes:
        index_schema = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
        attributes[index.partition_key.name] = index.partition_key.type
        if index.sort_key is not None:
            index_schema.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
            attributes[index.sort_key.name] = index.sort_key.type
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": index_schema,
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    arguments: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": schema,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    return arguments


# --- Cognito -----------------------------------------------------------------------------------


def _seed_cognito(
    endpoint: Endpoint, bank: DemoBank, previous: SandboxRecord | None
) -> tuple[CognitoRecord, tuple[UserRecord, ...]]:
    idp = endpoint.client("cognito-idp")
    pool_spec = bank.user_pool
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == pool_spec.name), None)
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=pool_spec.name,
            Schema=[
                {"Name": name, "AttributeDataType": "String", "Mutable": True}
                for name in pool_spec.custom_attributes
            ],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next(
        (c["ClientId"] for c in clients if c["ClientName"] == pool_spec.client_name), None
    )
    if client_id is None:
        custom = [f"custom:{name}" for name in pool_spec.custom_attributes]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=pool_spec.client_name,
            GenerateSecret=False,
            # Users read their trusted attributes but never write them: an admin sets them.
            ReadAttributes=["email", "email_verified", "name", *custom],
            WriteAttributes=["email", "name"],
            ExplicitAuthFlows=[
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
        )["UserPoolClient"]["ClientId"]
    existing_groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    for group in pool_spec.groups:
        if group.name not in existing_groups:
            idp.create_group(
                UserPoolId=pool_id,
                GroupName=group.name,
                Description=group.description,
                Precedence=group.precedence,
            )
    passwords = {u.username: u.password for u in previous.users} if previous else {}
    users = tuple(
        seed_user(idp, pool_id, user, passwords.get(user.username) or new_password())
        for user in bank.users
    )
    issuer = f"https://cognito-idp.{bank.region}.amazonaws.com/{pool_id}"
    record = CognitoRecord(
        user_pool_id=pool_id,
        client_id=client_id,
        issuer=issuer,
        jwks_url=f"{endpoint.url}/{pool_id}/.well-known/jwks.json",
    )
    return record, users


def seed_user(idp: Any, pool_id: str, user: DemoUser, password: str) -> UserRecord:
    """Create the user if missing, set ``password`` as permanent and add it to its groups."""
    if not _exists(
        lambda: idp.admin_get_user(UserPoolId=pool_id, Username=user.username),
        "UserNotFoundException",
    ):
        attributes = [
            {"Name": "email", "Value": user.email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": user.display_name},
        ]
        if user.customer_key is not None:
            attributes.append(
                {"Name": f"custom:{CUSTOMER_KEY_ATTRIBUTE}", "Value": user.customer_key}
            )
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=user.username,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=user.username, Password=password, Permanent=True
    )
    for group in sorted(user.cognito_groups):
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=group)
    return UserRecord(
        username=user.username,
        password=password,
        display_name=user.display_name,
        role=str(user.role_label),
        groups=tuple(sorted(user.cognito_groups)),
        customer_key=user.customer_key,
    )
