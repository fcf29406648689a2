"""The resource catalog: what can be granted, to whom, and how narrowly.

The caller never names resources; the reviewer picks catalog keys and the
deterministic rules check the pick against these structured facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import Field, model_validator

from agent_zero.domain.base import DomainModel
from agent_zero.domain.principals import GroupName, Principal, PrincipalKind
from agent_zero.iam.actions import grants_permissions_management

ResourceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
ActionName = Annotated[str, Field(pattern=r"^[a-z0-9-]+:[A-Za-z0-9]+$")]

MIN_SESSION_SECONDS = 900
MAX_ROLE_SESSION_SECONDS = 43_200


class ResourceKind(StrEnum):
    """The kinds of resource the broker knows how to grant."""

    DYNAMODB_TABLE = "dynamodb_table"
    DYNAMODB_INDEX = "dynamodb_index"
    S3_BUCKET = "s3_bucket"
    COGNITO_USER_POOL = "cognito_user_pool"
    BROKER_POLICY_STORE = "broker_policy_store"
    BROKER_DIRECTORY = "broker_directory"

    @property
    def service(self) -> str:
        """The IAM service prefix of the kind's actions ("broker" for internal ones)."""
        return _SERVICE_OF_KIND[self]


_SERVICE_OF_KIND = {
    ResourceKind.DYNAMODB_TABLE: "dynamodb",
    ResourceKind.DYNAMODB_INDEX: "dynamodb",
    ResourceKind.S3_BUCKET: "s3",
    ResourceKind.COGNITO_USER_POOL: "cognito-idp",
    ResourceKind.BROKER_POLICY_STORE: "broker",
    ResourceKind.BROKER_DIRECTORY: "broker",
}
_ARN_SHAPE = {
    ResourceKind.DYNAMODB_TABLE: re.compile(
        r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}"
    ),
    ResourceKind.DYNAMODB_INDEX: re.compile(
        r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}/index/[A-Za-z0-9_.-]{3,255}"
    ),
    ResourceKind.S3_BUCKET: re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}"),
    ResourceKind.COGNITO_USER_POOL: re.compile(
        r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/[A-Za-z0-9_-]+"
    ),
}
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")

# Actions that read or copy rows without carrying dynamodb:LeadingKeys, so a
# ForAllValues row condition is vacuous for them (FINDINGS.md, "AWS semantics").
_UNSCOPABLE_DYNAMODB = re.compile(
    r"dynamodb:(Scan|PartiQL\w*|ExecuteStatement|BatchExecuteStatement|ExecuteTransaction"
    r"|GetRecords|GetShardIterator|DescribeStream|ListStreams|\w*Export\w*|\w*Import\w*"
    r"|\w*Backup\w*|Restore\w*)",
    re.IGNORECASE,
)


def is_unscopable_row_action(action: str) -> bool:
    """Whether ``action`` bypasses row scoping (scans, PartiQL, streams, exports, backups)."""
    return _UNSCOPABLE_DYNAMODB.fullmatch(action) is not None


class Sensitivity(StrEnum):
    """How much harm misuse of a resource could do, in increasing order."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order low < medium < high < critical."""
        return _RANK[self.value]


_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Placement(StrEnum):
    """Whether AWS IAM enforces the grant, or the broker itself does."""

    AWS = "aws"
    BROKER = "broker"


class PrincipalSelector(DomainModel):
    """Selects principals by kind or group (either is enough)."""

    kinds: frozenset[PrincipalKind] = frozenset()
    groups: frozenset[GroupName] = frozenset()

    def selects(self, principal: Principal) -> bool:
        """Whether ``principal`` is one of the selected principals."""
        return principal.kind in self.kinds or principal.in_any_group(self.groups)


class RowScope(DomainModel):
    """A customer-owned table: rows are keyed by the owner's key."""

    partition_key: Annotated[str, Field(min_length=1, max_length=255)]
    owner_attribute: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    mandatory_for: PrincipalSelector


class CatalogEntry(DomainModel):
    """One grantable resource and the facts the deterministic rules need about it."""

    key: ResourceKey
    kind: ResourceKind
    description: Annotated[str, Field(min_length=1, max_length=1_000)]
    sensitivity: Sensitivity
    allowed_actions: frozenset[ActionName]
    arn: str | None = None
    target_role_arn: str | None = None
    max_session_seconds: Annotated[
        int, Field(ge=MIN_SESSION_SECONDS, le=MAX_ROLE_SESSION_SECONDS)
    ] = 3_600
    row_scope: RowScope | None = None
    parent_key: ResourceKey | None = None
    requires_approval: bool = False
    internal_groups: frozenset[GroupName] = frozenset()
    # When set, only principals in one of these groups may be granted the resource at all
    # (staff-only tables): neither a customer nor an agent, whatever a reviewer proposes.
    audience_groups: frozenset[GroupName] = frozenset()

    @model_validator(mode="after")
    def _consistent(self) -> CatalogEntry:
        if not self.allowed_actions:
            raise ValueError(f"{self.key}: allowed_actions is empty")
        wrong = sorted(a for a in self.allowed_actions if a.split(":")[0] != self.kind.service)
        if wrong:
            raise ValueError(f"{self.key}: actions {wrong} are not {self.kind.service} actions")
        managing = sorted(a for a in self.allowed_actions if grants_permissions_management(a))
        if managing:
            raise ValueError(
                f"{self.key}: permissions-management actions {managing} are never granted"
            )
        if self.placement is Placement.AWS:
            self._check_aws_fields()
        elif self.arn or self.target_role_arn or self.row_scope:
            raise ValueError(
                f"{self.key}: broker-internal resources have no ARN, role or row scope"
            )
        elif not self.internal_groups:
            raise ValueError(f"{self.key}: broker-internal resources must name internal_groups")
        return self

    def _check_aws_fields(self) -> None:
        shape = _ARN_SHAPE[self.kind]
        if self.arn is None or not shape.fullmatch(self.arn):
            raise ValueError(f"{self.key}: {self.arn!r} is not a {self.kind} ARN")
        if self.target_role_arn is None or not _ROLE_ARN.fullmatch(self.target_role_arn):
            raise ValueError(f"{self.key}: target_role_arn must be an IAM role ARN")
        if self.row_scope is not None:
            if self.kind is not ResourceKind.DYNAMODB_TABLE:
                raise ValueError(f"{self.key}: only DynamoDB tables can be row-scoped")
            unscopable = sorted(a for a in self.allowed_actions if is_unscopable_row_action(a))
            if unscopable:
                raise ValueError(f"{self.key}: row-scoped tables cannot allow {unscopable}")
        if (self.kind is ResourceKind.DYNAMODB_INDEX) != (self.parent_key is not None):
            raise ValueError(f"{self.key}: an index, and only an index, names its parent table")

    @property
    def placement(self) -> Placement:
        """Who enforces grants on this resource, which follows from its kind."""
        return Placement.BROKER if self.kind.service == "broker" else Placement.AWS

    @property
    def is_aws(self) -> bool:
        """Whether AWS IAM enforces grants on this resource."""
        return self.placement is Placement.AWS

    def row_scoped_for(self, principal: Principal) -> bool:
        """Whether grants to ``principal`` must be narrowed to the principal's own rows."""
        return self.row_scope is not None and self.row_scope.mandatory_for.selects(principal)


class Catalog(DomainModel):
    """All grantable resources, by key."""

    entries: tuple[CatalogEntry, ...]

    @model_validator(mode="after")
    def _unique_and_linked(self) -> Catalog:
        keys = [entry.key for entry in self.entries]
        if len(set(keys)) != len(keys):
            raise ValueError("catalog keys must be unique")
        arns = [entry.arn for entry in self.entries if entry.arn]
        if len(set(arns)) != len(arns):
            raise ValueError("catalog ARNs must be unique")
        by_key = {entry.key: entry for entry in self.entries}
        for entry in self.entries:
            parent = by_key.get(entry.parent_key) if entry.parent_key else None
            if entry.parent_key and (
                parent is None or parent.kind is not ResourceKind.DYNAMODB_TABLE
            ):
                raise ValueError(f"{entry.key}: parent {entry.parent_key!r} is not a catalog table")
            if (
                parent
                and entry.arn
                and parent.arn
                and not entry.arn.startswith(parent.arn + "/index/")
            ):
                raise ValueError(f"{entry.key}: index ARN is not under its parent table")
        return self

    @cached_property
    def _by_key(self) -> dict[str, CatalogEntry]:
        return {entry.key: entry for entry in self.entries}

    def get(self, key: str) -> CatalogEntry | None:
        """The entry for ``key``, or None."""
        return self._by_key.get(key)

    def __iter__(self) -> Iterator[CatalogEntry]:  # type: ignore[override]
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def parent_of(self, entry: CatalogEntry) -> CatalogEntry | None:
        """The table an index belongs to."""
        return self.get(entry.parent_key) if entry.parent_key else None

    def services(self) -> frozenset[str]:
        """The AWS services of the catalog's AWS resources."""
        return frozenset(entry.kind.service for entry in self.entries if entry.is_aws)
