"""In-memory stores with the same contracts as the SQLite and DynamoDB ones."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from agent_zero.domain.audit import AuditEvent, AuditRecord, AuditValue, chain_record
from agent_zero.domain.errors import ConflictError, UnavailableError
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.domain.requests import RequestRecord, RequestState


class InMemoryPrincipalDirectory:
    """Principals by id."""

    def __init__(self, principals: Sequence[Principal] = ()) -> None:
        self._principals = {principal.id: principal for principal in principals}

    def get(self, principal_id: str) -> Principal | None:
        """The principal, or None."""
        return self._principals.get(principal_id)

    def list(self) -> Sequence[Principal]:
        """Every principal, by id."""
        return [self._principals[key] for key in sorted(self._principals)]

    def put(self, principal: Principal) -> None:
        """Create or replace."""
        self._principals[principal.id] = principal


class InMemoryPolicyStore:
    """Versioned policies; a write must name the version it replaces."""

    def __init__(self, policies: Sequence[PrincipalPolicy] = ()) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[PrincipalPolicy]] = {}
        for policy in sorted(policies, key=lambda p: (p.principal_id, p.version)):
            self._versions.setdefault(policy.principal_id, []).append(policy)

    def current(self, principal_id: str) -> PrincipalPolicy | None:
        """The newest version."""
        versions = self._versions.get(principal_id)
        return versions[-1] if versions else None

    def history(self, principal_id: str) -> Sequence[PrincipalPolicy]:
        """Every version, oldest first."""
        return list(self._versions.get(principal_id, ()))

    def write(
        self, principal_id: str, *, text: str, author_id: str, at: datetime, expected_version: int
    ) -> PrincipalPolicy:
        """Append the next version, or ConflictError when another write came first."""
        with self._lock:
            versions = self._versions.setdefault(principal_id, [])
            current = versions[-1].version if versions else 0
            if current != expected_version:
                raise ConflictError(
                    f"the policy is at version {current}, not {expected_version}; reload it"
                )
            policy = PrincipalPolicy(
                principal_id=principal_id,
                version=current + 1,
                text=text,
                author_id=author_id,
                created_at=at,
            )
            versions.append(policy)
            return policy


class InMemoryRequestStore:
    """Requests with idempotent creation and compare-and-set replacement."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, RequestRecord] = {}
        self._by_client_id: dict[tuple[str, str], str] = {}

    def create(self, record: RequestRecord) -> RequestRecord:
        """Store, or return the earlier record with the same client request id."""
        with self._lock:
            client_id = record.request.client_request_id
            key = None if client_id is None else (record.request.principal_id, client_id)
            if key is not None and key in self._by_client_id:
                return self._records[self._by_client_id[key]]
            if record.request_id in self._records:
                raise ConflictError(f"request {record.request_id} already exists")
            if key is not None:
                self._by_client_id[key] = record.request_id
            self._records[record.request_id] = record
            return record

    def get(self, request_id: str) -> RequestRecord | None:
        """One request."""
        return self._records.get(request_id)

    def replace(self, record: RequestRecord) -> RequestRecord:
        """Replace revision ``record.revision - 1``; ConflictError otherwise."""
        with self._lock:
            stored = self._records.get(record.request_id)
            if stored is None or stored.revision != record.revision - 1:
                raise ConflictError(f"request {record.request_id} changed meanwhile")
            self._records[record.request_id] = record
            return record

    def list(
        self, *, state: RequestState | None = None, principal_id: str | None = None
    ) -> Sequence[RequestRecord]:
        """Newest first."""
        found = [
            record
            for record in self._records.values()
            if (state is None or record.state is state)
            and (principal_id is None or record.request.principal_id == principal_id)
        ]
        return sorted(found, key=lambda r: r.request.received_at, reverse=True)


class InMemoryAuditLog:
    """The chained log in a list; ``fail_next`` simulates a store outage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []
        self.fail_on: set[AuditEvent] = set()

    def append(
        self,
        event: AuditEvent,
        *,
        at: datetime,
        request_id: str | None,
        principal_id: str | None,
        details: Mapping[str, AuditValue],
    ) -> AuditRecord:
        """Chain and keep one record."""
        if event in self.fail_on:
            raise UnavailableError("the audit log is unavailable")
        with self._lock:
            record = chain_record(
                self._records[-1] if self._records else None,
                event=event,
                at=at,
                request_id=request_id,
                principal_id=principal_id,
                details=dict(details),
            )
            self._records.append(record)
            return record

    def records(self, *, request_id: str | None = None) -> Sequence[AuditRecord]:
        """In order."""
        return [r for r in self._records if request_id is None or r.request_id == request_id]
