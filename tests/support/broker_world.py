"""A broker over the in-memory fakes, with handles on each fake, for tests of the use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent_zero.adapters.memory import (
    FakeCredentialMinter,
    InMemoryAuditLog,
    InMemoryPolicyStore,
    InMemoryPrincipalDirectory,
    InMemoryRequestStore,
    MovableClock,
    RecordingRevoker,
    ScriptedReviewer,
    SequentialIds,
    StaticCatalogSource,
)
from agent_zero.broker.access import AccessCommand, Broker, request_access
from agent_zero.domain.audit import AuditEvent
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from support.bank import DYNAMODB_ROLE, S3_ROLE, bank_entries, broad_role_policy

READ_OWN = Grant(resource_key="accounts", actions=("dynamodb:GetItem", "dynamodb:Query"))
APPROVE_READ = Proposal(
    decision=ProposalDecision.APPROVE, grants=(READ_OWN,), duration_seconds=900, rationale="ok"
)
REASON = "I want to check my balance before paying rent."


def policy_for(principal: Principal) -> PrincipalPolicy:
    return PrincipalPolicy(
        principal_id=principal.id,
        version=3,
        text="May read their own accounts.",
        author_id="ada",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


class World:
    """A broker over fakes, with handles on each fake."""

    def __init__(self, principals: list[Principal], reviewer: ScriptedReviewer) -> None:
        self.clock = MovableClock()
        self.audit = InMemoryAuditLog()
        self.minter = FakeCredentialMinter(self.clock.now)
        self.requests = InMemoryRequestStore()
        self.revoker = RecordingRevoker()
        self.reviewer = reviewer
        self.catalog = Catalog(entries=tuple(bank_entries()))
        s3_role_policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        self.broker = Broker(
            directory=InMemoryPrincipalDirectory(principals),
            policies=InMemoryPolicyStore([policy_for(p) for p in principals if p.id != "nopolicy"]),
            requests=self.requests,
            audit=self.audit,
            catalogs=StaticCatalogSource(
                self.catalog, {DYNAMODB_ROLE: [broad_role_policy()], S3_ROLE: [s3_role_policy]}
            ),
            reviewer=reviewer,
            minter=self.minter,
            revoker=self.revoker,
            clock=self.clock,
            ids=SequentialIds(),
        )

    def ask(self, principal_id: str, reason: str = REASON, **kw: Any) -> Any:
        return request_access(
            self.broker, AccessCommand(principal_id=principal_id, reason=reason, **kw)
        )

    def events(self) -> list[AuditEvent]:
        return [record.event for record in self.audit.records()]
