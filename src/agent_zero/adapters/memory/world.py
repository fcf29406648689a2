"""Fakes of the world outside the stores: catalog, reviewer, STS, revocation, time, ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from agent_zero.broker.ports import MintRequest, ReviewInput
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.proposals import Proposal


class StaticCatalogSource:
    """A fixed catalog and fixed role policies."""

    def __init__(self, catalog: Catalog, role_policies: Mapping[str, Sequence[Any]]) -> None:
        self._catalog = catalog
        self._role_policies = role_policies

    def catalog(self) -> Catalog:
        """The catalog."""
        return self._catalog

    def role_policies(self, role_arn: str) -> Sequence[Any]:
        """The role's policies (none for an unknown role: the proof then allows nothing)."""
        return list(self._role_policies.get(role_arn, ()))


Script = Proposal | Callable[[ReviewInput], Proposal] | Exception


class ScriptedReviewer:
    """Answers from a script: a proposal, a function of the input, or an error to raise."""

    def __init__(self, script: Script, name: str = "scripted") -> None:
        self.name = name
        self.script = script
        self.seen: list[ReviewInput] = []

    def review(self, request: ReviewInput) -> Proposal:
        """The scripted answer."""
        self.seen.append(request)
        if isinstance(self.script, Exception):
            raise self.script
        if isinstance(self.script, Proposal):
            return self.script
        return self.script(request)


class FakeCredentialMinter:
    """Mints fake credentials and remembers each request; ``failure`` makes it raise."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._counter = itertools.count(1)
        self.minted: list[MintRequest] = []
        self.failure: Exception | None = None

    def mint(self, request: MintRequest) -> Credentials:
        """Fake credentials valid for the requested duration."""
        if self.failure is not None:
            raise self.failure
        self.minted.append(request)
        number = next(self._counter)
        return Credentials(
            access_key_id=f"ASIAFAKE{number:012d}",
            secret_access_key=SecretStr(f"fake-secret-{number}"),
            session_token=SecretStr(f"fake-token-{number}"),
            expiration=self._clock() + timedelta(seconds=request.duration_seconds),
        )


class RecordingRevoker:
    """Remembers revocations."""

    def __init__(self) -> None:
        self.revoked: list[tuple[str, str]] = []

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        """Record one revocation."""
        self.revoked.append((role_arn, session_name))


class MovableClock:
    """A clock a test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current fake time."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.current += timedelta(seconds=seconds)


class SequentialIds:
    """Request ids req-000001, req-000002, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def request_id(self) -> str:
        """The next id."""
        return f"req-{next(self._counter):06d}"
