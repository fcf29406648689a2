"""What the broker needs from the world, as Protocols; adapters implement them.

The use cases in this package reach storage, AWS and the reviewer only through
these ports, so they run unchanged against the in-memory fakes
(``agent_zero.adapters.memory``), SQLite in the sandbox, and DynamoDB/STS on AWS.
Every store write that must not happen twice is conditional, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from agent_zero.domain.audit import AuditEvent, AuditRecord, AuditValue
from agent_zero.domain.base import DomainModel
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Proposal
from agent_zero.domain.requests import RequestRecord, RequestState

PolicyDocument = Mapping[str, Any]


class PrincipalDirectory(Protocol):
    """Who the principals are (groups and trusted attributes come only from here)."""

    def get(self, principal_id: str) -> Principal | None:
        """The principal, or None when unknown."""
        ...

    def list(self) -> Sequence[Principal]:
        """Every principal, ordered by id."""
        ...

    def put(self, principal: Principal) -> None:
        """Create or replace a principal."""
        ...


class PolicyStore(Protocol):
    """Free-text policies, as immutable numbered versions."""

    def current(self, principal_id: str) -> PrincipalPolicy | None:
        """The newest version, or None when the principal has no policy."""
        ...

    def history(self, principal_id: str) -> Sequence[PrincipalPolicy]:
        """Every version, oldest first."""
        ...

    def write(
        self, principal_id: str, *, text: str, author_id: str, at: datetime, expected_version: int
    ) -> PrincipalPolicy:
        """Add version ``expected_version + 1``; ConflictError if someone else wrote first."""
        ...


class RequestStore(Protocol):
    """Requests and their decisions; the approval queue is the pending ones."""

    def create(self, record: RequestRecord) -> RequestRecord:
        """Store a new request, or return the existing one for the same client request id.

        Idempotency: (principal, client_request_id) is unique; a retry gets the
        first record back instead of a second request.
        """
        ...

    def get(self, request_id: str) -> RequestRecord | None:
        """One request, or None."""
        ...

    def replace(self, record: RequestRecord) -> RequestRecord:
        """Store ``record`` over revision ``record.revision - 1``; ConflictError otherwise."""
        ...

    def list(
        self, *, state: RequestState | None = None, principal_id: str | None = None
    ) -> Sequence[RequestRecord]:
        """Requests, newest first, optionally filtered."""
        ...


class AuditLog(Protocol):
    """The hash-chained audit log; appends are atomic and never reorder."""

    def append(
        self,
        event: AuditEvent,
        *,
        at: datetime,
        request_id: str | None,
        principal_id: str | None,
        details: Mapping[str, AuditValue],
    ) -> AuditRecord:
        """Chain and store one record; raises when it could not be stored."""
        ...

    def records(self, *, request_id: str | None = None) -> Sequence[AuditRecord]:
        """Records in order, optionally for one request."""
        ...


class CatalogSource(Protocol):
    """The resource catalog and the target roles' own policies (for the proof)."""

    def catalog(self) -> Catalog:
        """The current catalog."""
        ...

    def role_policies(self, role_arn: str) -> Sequence[PolicyDocument]:
        """The permission policies of a target role, as IAM evaluates them."""
        ...


class ReviewInput(DomainModel):
    """Everything the reviewer may see: the request is untrusted text."""

    principal: Principal
    policy: PrincipalPolicy
    reason: str
    catalog: Catalog
    acting_agent_id: str | None = None


class Reviewer(Protocol):
    """Proposes a decision; its word is checked by the guardrails, never trusted."""

    name: str

    def review(self, request: ReviewInput) -> Proposal:
        """A proposal; raises ReviewerUnavailableError when no answer can be had."""
        ...


class MintRequest(DomainModel):
    """One sts:AssumeRole call, fully decided."""

    role_arn: str
    session_name: str
    source_identity: str
    session_policy: str
    duration_seconds: int
    tags: dict[str, str]


class CredentialMinter(Protocol):
    """Mints one STS session."""

    def mint(self, request: MintRequest) -> Credentials:
        """The session's credentials; raises UnavailableError when STS refuses or fails."""
        ...


class ConsoleSignIn(Protocol):
    """Turns session credentials into a console sign-in link (a secret, ~15 minutes)."""

    def url_for(self, credentials: Credentials) -> str:
        """The sign-in URL; raises UnavailableError when the federation endpoint fails."""
        ...


class Revoker(Protocol):
    """Makes live sessions useless (STS sessions cannot be deleted, only denied)."""

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        """Deny, from now until ``expires_at`` at least, the role session with this name."""
        ...


class Clock(Protocol):
    """The time, injected so tests can move it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdSource(Protocol):
    """New identifiers."""

    def request_id(self) -> str:
        """A fresh request id (``req-...``)."""
        ...
