"""The shapes of the demo bank's data, one per kind of call the seeder makes.

Each model maps onto AWS calls without interpretation: a ``DemoUser`` onto
Cognito ``AdminCreateUser`` + ``AdminAddUserToGroup``, a ``DemoTable`` onto
DynamoDB ``CreateTable`` + ``PutItem``, a ``DemoRole`` onto IAM ``CreateRole`` +
``PutRolePolicy``, a ``DemoIamUser`` onto ``CreateUser`` + ``PutUserPolicy``.
Documents and rows are plain dicts so that ``json.dumps`` and boto3's
``TypeSerializer`` take them as they are; every call to ``demo_bank()`` builds
fresh ones, so a consumer that mutates its copy harms nobody else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, TypeAlias

from agent_zero.domain.principals import Principal, PrincipalKind

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# A DynamoDB attribute value as Python holds it before boto3 serialises it.
AttributeValue: TypeAlias = (
    "str | int | Decimal | bool | list[AttributeValue] | dict[str, AttributeValue]"
)
Item: TypeAlias = dict[str, AttributeValue]
JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"
PolicyDocument: TypeAlias = dict[str, JsonValue]

CognitoGroup = Literal["admin", "employee", "customer"]
COGNITO_GROUPS: frozenset[CognitoGroup] = frozenset({"admin", "employee", "customer"})
KeyType = Literal["S", "N"]


class RoleLabel(StrEnum):
    """What a person does at the bank, as the admin pages show it."""

    ADMIN = "admin"
    ANALYST = "analyst"
    SUPPORT_ENGINEER = "support engineer"
    CUSTOMER = "customer"


# The broker's principal groups are the plural of the Cognito group they come
# from, 1:1. Cognito's singular names are what tokens carry (cognito:groups);
# the broker's plural names are what the guardrails and the catalog read
# ("admins" raises the sensitivity ceiling, "customers" makes row scope
# mandatory). An admin is in Cognito groups admin + employee, hence in
# principal groups {"admins", "employees"}: being staff and administering
# access are separate facts, and nothing derives one from the other.
PRINCIPAL_GROUP_OF: Mapping[CognitoGroup, str] = MappingProxyType(
    {"admin": "admins", "employee": "employees", "customer": "customers"}
)
CUSTOMER_KEY_ATTRIBUTE = "customer_key"


@dataclass(frozen=True, slots=True)
class CognitoGroupSpec:
    """One Cognito group: ``CreateGroup(GroupName, Description, Precedence)``."""

    name: CognitoGroup
    description: str
    precedence: int


@dataclass(frozen=True, slots=True)
class DemoUserPool:
    """The user pool every person signs in to, staff and customers alike."""

    name: str
    client_name: str
    groups: tuple[CognitoGroupSpec, ...]
    # Custom attributes (``custom:<name>``); the app client must be able to read
    # them but never write them: they are trusted facts an admin sets.
    custom_attributes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A person with a Cognito user; the password is the seeder's to generate."""

    username: str
    display_name: str
    email: str
    role_label: RoleLabel
    cognito_groups: frozenset[CognitoGroup]
    customer_key: str | None = None
    kind: PrincipalKind = PrincipalKind.HUMAN

    def __post_init__(self) -> None:
        unknown = self.cognito_groups - COGNITO_GROUPS
        if unknown or not self.cognito_groups:
            raise ValueError(f"{self.username}: Cognito groups must come from {COGNITO_GROUPS}")
        is_customer = "customer" in self.cognito_groups
        if is_customer != (self.customer_key is not None):
            raise ValueError(f"{self.username}: customers, and only customers, have a key")
        if is_customer and len(self.cognito_groups) > 1:
            raise ValueError(f"{self.username}: a customer is in no staff group")

    @property
    def principal_groups(self) -> frozenset[str]:
        """The broker's group names for this user's Cognito groups."""
        return frozenset(PRINCIPAL_GROUP_OF[group] for group in self.cognito_groups)

    def principal(self) -> Principal:
        """This user as the broker's directory knows them (id = Cognito username)."""
        attributes = {CUSTOMER_KEY_ATTRIBUTE: self.customer_key} if self.customer_key else {}
        return Principal(
            id=self.username,
            kind=self.kind,
            display_name=self.display_name,
            groups=self.principal_groups,
            attributes=attributes,
        )


@dataclass(frozen=True, slots=True)
class DemoAgent:
    """An AI agent principal: no Cognito user, an IAM user whose keys sign broker calls."""

    id: str
    display_name: str
    iam_user_name: str
    kind: PrincipalKind = PrincipalKind.AGENT

    def principal(self) -> Principal:
        """The agent as the directory knows it; its customer key is bound per conversation."""
        return Principal(id=self.id, kind=self.kind, display_name=self.display_name)


@dataclass(frozen=True, slots=True)
class KeyAttribute:
    """A key attribute: one ``AttributeDefinitions`` + one ``KeySchema`` element."""

    name: str
    type: KeyType = "S"

    def holds(self, value: object) -> bool:
        """Whether ``value`` is a valid DynamoDB key of this type."""
        if self.type == "S":
            return isinstance(value, str) and value != ""
        return isinstance(value, int | Decimal) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class GlobalSecondaryIndex:
    """A GSI with projection ALL; ``catalog_key`` is set when the catalog grants it."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    catalog_key: str | None = None


@dataclass(frozen=True, slots=True)
class DemoTable:
    """A DynamoDB table (on-demand billing), its indexes and its rows."""

    catalog_key: str
    name: str
    partition_key: KeyAttribute
    rows: tuple[Item, ...]
    sort_key: KeyAttribute | None = None
    indexes: tuple[GlobalSecondaryIndex, ...] = ()
    customer_owned: bool = False

    def __post_init__(self) -> None:
        keys = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        seen: set[tuple[object, ...]] = set()
        for row in self.rows:
            if not all(key.holds(row.get(key.name)) for key in keys):
                raise ValueError(f"{self.name}: row without its key attributes: {row}")
            primary = tuple(row[key.name] for key in keys)
            if primary in seen:
                raise ValueError(f"{self.name}: duplicate primary key {primary}")
            seen.add(primary)

    @property
    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        """Every attribute a key schema names (table and indexes), once each."""
        found: dict[str, KeyAttribute] = {}
        for key in (self.partition_key, self.sort_key):
            if key is not None:
                found.setdefault(key.name, key)
        for index in self.indexes:
            for key in (index.partition_key, index.sort_key):
                if key is not None:
                    found.setdefault(key.name, key)
        return tuple(found.values())

    def arn(self, *, account_id: str, region: str) -> str:
        """The table's ARN in ``account_id`` and ``region``."""
        return f"arn:aws:dynamodb:{region}:{account_id}:table/{self.name}"

    def index_arn(self, index: GlobalSecondaryIndex, *, account_id: str, region: str) -> str:
        """The ARN of one of this table's indexes."""
        return f"{self.arn(account_id=account_id, region=region)}/index/{index.name}"


@dataclass(frozen=True, slots=True)
class DemoRole:
    """An IAM role: ``CreateRole`` then one ``PutRolePolicy`` per inline policy."""

    name: str
    path: str
    description: str
    trust_policy: PolicyDocument
    inline_policies: dict[str, PolicyDocument]
    max_session_duration: int = 3_600

    def arn(self, account_id: str) -> str:
        """The role's ARN, path included."""
        return f"arn:aws:iam::{account_id}:role{self.path}{self.name}"


@dataclass(frozen=True, slots=True)
class DemoIamUser:
    """An IAM user: ``CreateUser`` then one ``PutUserPolicy`` per inline policy."""

    name: str
    description: str
    inline_policies: dict[str, PolicyDocument] = field(default_factory=dict)
    path: str = "/"

    def arn(self, account_id: str) -> str:
        """The user's ARN, path included."""
        return f"arn:aws:iam::{account_id}:user{self.path}{self.name}"
