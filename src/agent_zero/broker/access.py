"""``request_access``: one request, from verified identity to minted credentials or a denial.

The steps are DESIGN.md's: the principal comes from the verified identity, the
reason is checked, the principal's current policy is loaded (none: denied
without asking the reviewer), the reviewer proposes, the guardrails have the
last word, routing may send the request to a person, the grants compile to a
session policy that is proven contained, a write-ahead audit record is stored,
STS mints, and the issue is recorded. Any failure ends without credentials.
"""

from __future__ import annotations

import contextlib
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from agent_zero.broker.containment import ProbeSpace, prove_containment
from agent_zero.broker.guardrails import GuardrailLimits, check_proposal
from agent_zero.broker.ports import (
    AuditLog,
    CatalogSource,
    Clock,
    ConsoleSignIn,
    CredentialMinter,
    IdSource,
    MintRequest,
    PolicyStore,
    PrincipalDirectory,
    RequestStore,
    Reviewer,
    ReviewInput,
    Revoker,
)
from agent_zero.broker.session_policy import SessionPolicy, compile_session_policy
from agent_zero.domain.audit import AuditEvent, AuditValue
from agent_zero.domain.base import DomainModel
from agent_zero.domain.catalog import MIN_SESSION_SECONDS, Catalog, Sensitivity
from agent_zero.domain.credentials import Credentials, IssuedSession
from agent_zero.domain.errors import (
    AgentZeroError,
    InvalidInputError,
    ReviewerUnavailableError,
    SessionPolicyError,
    UnavailableError,
)
from agent_zero.domain.outcomes import Outcome, OutcomeStatus, Violation
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.domain.requests import (
    MAX_REASON_CHARS,
    AccessRequest,
    RequestRecord,
    RequestState,
)

REQUEST_ID_TAG = "agent-zero-request-id"
PRINCIPAL_KIND_TAG = "agent-zero-principal-kind"
ACTING_AGENT_TAG = "agent-zero-acting-agent"

NOTHING_GRANTABLE = "Nothing in the catalog can be granted to this principal."


class AccessCommand(DomainModel):
    """A request as the API hands it over: identity already verified, reason untrusted."""

    principal_id: str
    reason: str
    acting_agent_id: str | None = None
    client_request_id: str | None = None
    console: bool = False
    verified_by: str = "unspecified"  # how the entry point proved the identity (audited)


@dataclass(frozen=True, slots=True)
class AccessResult:
    """The stored record and, only on the call that minted them, the credentials."""

    record: RequestRecord
    credentials: Credentials | None = None
    session_policy: str | None = None  # the compiled policy, shown with the credentials
    console_url: str | None = None  # a one-time console sign-in link, for staff humans

    @property
    def outcome(self) -> Outcome | None:
        """The decision, once there is one."""
        return self.record.outcome


class ProbeSpaces:
    """Probe spaces of recent catalogs; building one costs more than a whole proof."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._lock = threading.Lock()
        # Strong references: a catalog's identity cannot be reused while it is held here.
        self._entries: list[tuple[Catalog, ProbeSpace]] = []

    def for_catalog(self, catalog: Catalog) -> ProbeSpace:
        """The probe space of exactly this catalog object."""
        with self._lock:
            for held, space in self._entries:
                if held is catalog:
                    return space
        space = ProbeSpace.for_catalog(catalog)
        with self._lock:
            self._entries = [(catalog, space), *self._entries][: self._size]
        return space


class CatalogViews:
    """Recent reviewer views, per catalog object and principal; a view costs a guardrail
    check per action of every entry, and both inputs are immutable values."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        # Strong references: a catalog's identity cannot be reused while it is held here.
        self._views: dict[tuple[int, str], tuple[Catalog, Catalog]] = {}

    def view(self, catalog: Catalog, principal: Principal, limits: GuardrailLimits) -> Catalog:
        """The view of ``catalog`` for ``principal`` under ``limits``."""
        key = (id(catalog), principal.model_dump_json() + limits.model_dump_json())
        with self._lock:
            held = self._views.get(key)
            if held is not None and held[0] is catalog:
                return held[1]
        view = catalog_view(catalog, principal, limits)
        with self._lock:
            if len(self._views) >= self._size:
                self._views.clear()
            self._views[key] = (catalog, view)
        return view


@dataclass(frozen=True, slots=True)
class Broker:
    """The broker's dependencies, built once in the composition root."""

    directory: PrincipalDirectory
    policies: PolicyStore
    requests: RequestStore
    audit: AuditLog
    catalogs: CatalogSource
    reviewer: Reviewer
    minter: CredentialMinter
    revoker: Revoker
    clock: Clock
    ids: IdSource
    limits: GuardrailLimits = field(default_factory=GuardrailLimits)
    # With a person available, a reviewer failure waits for them instead of denying.
    escalate_when_reviewer_fails: bool = False
    console: ConsoleSignIn | None = None
    # Only people in these groups may turn credentials into a console session.
    console_groups: frozenset[str] = frozenset({"admins", "employees", "staff"})
    probe_spaces: ProbeSpaces = field(default_factory=ProbeSpaces)
    views: CatalogViews = field(default_factory=CatalogViews)


def validate_reason(reason: str) -> str:
    """The reason, stripped; refused when empty, too long or carrying control characters."""
    text = reason.strip()
    if not text:
        raise InvalidInputError("the reason is empty: say what you want to do and why")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInputError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in text):
        raise InvalidInputError("the reason contains control characters")
    return text


def catalog_view(catalog: Catalog, principal: Principal, limits: GuardrailLimits) -> Catalog:
    """What the reviewer is shown: each entry with only the actions the rules would let
    this principal have, and no entry that offers none. A reviewer cannot propose what
    it is not shown, so fewer of its proposals end in violations.
    """
    visible = []
    for entry in catalog:
        grantable = frozenset(
            action
            for action in entry.allowed_actions
            if not check_proposal(
                Proposal(
                    decision=ProposalDecision.APPROVE,
                    grants=(Grant(resource_key=entry.key, actions=(action,)),),
                    duration_seconds=MIN_SESSION_SECONDS,
                ),
                principal=principal,
                catalog=catalog,
                limits=limits,
            )
        )
        if grantable:
            visible.append(entry.model_copy(update={"allowed_actions": grantable}))
    keys = {entry.key for entry in visible}
    # An index whose table is hidden would fail the catalog's own link check.
    return Catalog(
        entries=tuple(e for e in visible if e.parent_key is None or e.parent_key in keys)
    )


def request_access(broker: Broker, command: AccessCommand) -> AccessResult:
    """Decide one request; credentials only when every deterministic check passed."""
    reason = validate_reason(command.reason)
    now = broker.clock.now()
    request = AccessRequest(
        request_id=broker.ids.request_id(),
        principal_id=command.principal_id,
        reason=reason,
        received_at=now,
        acting_agent_id=command.acting_agent_id,
        client_request_id=command.client_request_id,
        console=command.console,
        verified_by=command.verified_by,
    )
    stored = broker.requests.create(RequestRecord(request=request, state=RequestState.RECEIVED))
    if stored.request_id != request.request_id:
        return AccessResult(stored)  # a retry: the same outcome, never a second credential
    _audit(
        broker,
        AuditEvent.RECEIVED,
        stored,
        acting_agent=command.acting_agent_id,
        verified_by=command.verified_by,
        reason=reason[:MAX_REASON_CHARS],
    )
    return _decide(broker, stored)


def _decide(broker: Broker, record: RequestRecord) -> AccessResult:
    request = record.request
    principal = broker.directory.get(request.principal_id)
    if principal is None or not principal.enabled:
        return _deny(broker, record, "The principal is unknown or disabled.")
    acting_agent = (
        broker.directory.get(request.acting_agent_id) if request.acting_agent_id else None
    )
    if not _kind_fits_proof(principal, acting_agent, request.verified_by):
        return _deny(broker, record, "The identity was proven in a way this principal cannot use.")
    if request.acting_agent_id is not None:
        agent = broker.directory.get(request.acting_agent_id)
        if agent is None or not agent.enabled:
            return _deny(broker, record, "The acting agent is unknown or disabled.")
    policy = broker.policies.current(principal.id)
    if policy is None:
        return _deny(broker, record, "The principal has no access policy.")
    record = record.model_copy(update={"policy_version": policy.version})
    catalog = broker.catalogs.catalog()
    view = broker.views.view(catalog, principal, broker.limits)
    if not view.entries:
        # The rules let this principal have nothing at all: no reviewer can change that.
        return _deny(broker, record, NOTHING_GRANTABLE)
    try:
        proposal = broker.reviewer.review(
            ReviewInput(
                principal=principal,
                policy=policy,
                reason=request.reason,
                catalog=view,
                acting_agent_id=request.acting_agent_id,
            )
        )
    except ReviewerUnavailableError as error:
        _audit(broker, AuditEvent.REVIEWED, record, reviewer=broker.reviewer.name, error=error.code)
        if broker.escalate_when_reviewer_fails:
            return _pending(broker, record, None, "The reviewer was unavailable.")
        return _deny(broker, record, "The reviewer was unavailable; nothing was granted.")
    record = record.model_copy(update={"proposal": proposal})
    _audit(
        broker,
        AuditEvent.REVIEWED,
        record,
        reviewer=broker.reviewer.name,
        decision=proposal.decision.value,
        risk=proposal.risk.value,
        grants=_grant_texts(proposal.grants),
        duration_seconds=proposal.duration_seconds,
    )
    if proposal.decision is ProposalDecision.DENY:
        return _deny(broker, record, proposal.rationale or "The reviewer denied the request.")
    violations = check_proposal(
        proposal, principal=principal, catalog=catalog, limits=broker.limits
    )
    if violations:
        return _deny(broker, record, "The proposal broke the access rules.", violations)
    if proposal.decision is ProposalDecision.ESCALATE:
        return _pending(broker, record, proposal, "The reviewer asked for a person to decide.")
    if needs_person(proposal.grants, catalog):
        return _pending(broker, record, proposal, "These resources need a person's approval.")
    return issue(broker, record, principal, proposal.grants, proposal.duration_seconds)


# The chat socket verified the user's token; the agent is the server's own code.
AGENT_SOCKET_PROOF = "cognito+agent-socket"


def _kind_fits_proof(principal: Principal, agent: Principal | None, verified_by: str) -> bool:
    # A Cognito token is a person's; a bare SigV4 key is an agent's; an agent acting for
    # someone acts for a person. A user named like an agent cannot become the agent.
    if verified_by == "cognito":
        return principal.kind is PrincipalKind.HUMAN and agent is None
    if verified_by in ("sigv4", AGENT_SOCKET_PROOF):
        if agent is None:
            return principal.kind is PrincipalKind.AGENT
        return principal.kind is PrincipalKind.HUMAN and agent.kind is PrincipalKind.AGENT
    return True  # in-process entry points (tests, administration scripts) vouch for themselves


def needs_person(grants: tuple[Grant, ...], catalog: Catalog) -> bool:
    """Critical or broker-internal resources, or a catalog that says so, need approval."""
    for grant in grants:
        entry = catalog.get(grant.resource_key)
        if entry is None:
            continue
        if entry.requires_approval or not entry.is_aws or entry.sensitivity is Sensitivity.CRITICAL:
            return True
    return False


def compile_and_prove(
    broker: Broker, principal: Principal, grants: tuple[Grant, ...], catalog: Catalog
) -> SessionPolicy:
    """The session policy for ``grants``, proven to allow nothing outside them."""
    compiled = compile_session_policy(grants, catalog=catalog, principal=principal)
    if compiled.target_role_arn is None:
        return compiled
    role_policies = broker.catalogs.role_policies(compiled.target_role_arn)
    outside = prove_containment(
        role_policies,
        compiled.policy,
        compiled.aws_grants,
        catalog=catalog,
        principal=principal,
        probe_space=broker.probe_spaces.for_catalog(catalog),
    )
    if outside:
        detail = "; ".join(probe.describe() for probe in outside[:3])
        raise SessionPolicyError(f"the session would allow more than the grants: {detail}")
    return compiled


def issue(
    broker: Broker,
    record: RequestRecord,
    principal: Principal,
    grants: tuple[Grant, ...],
    duration_seconds: int,
) -> AccessResult:
    """Compile, prove, audit ahead, mint, audit the issue; deny on any rule failure."""
    catalog = broker.catalogs.catalog()
    try:
        compiled = compile_and_prove(broker, principal, grants, catalog)
    except SessionPolicyError as error:
        return _deny(broker, record, f"The grants cannot be issued safely: {error.message}")
    now = broker.clock.now()
    outcome = Outcome(
        request_id=record.request_id,
        principal_id=principal.id,
        status=OutcomeStatus.APPROVED,
        grants=grants,
        duration_seconds=duration_seconds,
        expires_at=None,
        risk=record.proposal.risk if record.proposal else None,
        policy_version=record.policy_version,
    )
    if compiled.target_role_arn is None:
        # Broker-internal capabilities only: nothing for STS to mint.
        _audit(broker, AuditEvent.APPROVED, record, grants=_grant_texts(grants))
        return AccessResult(_store(broker, record, RequestState.APPROVED, outcome))
    mint = MintRequest(
        role_arn=compiled.target_role_arn,
        session_name=record.request_id,
        source_identity=principal.id,
        session_policy=compiled.text,
        duration_seconds=duration_seconds,
        tags=_session_tags(record, principal),
    )
    # Write-ahead: if this record cannot be stored, no credentials exist.
    _audit(
        broker,
        AuditEvent.MINTING,
        record,
        role_arn=mint.role_arn,
        session_policy_sha256=compiled.sha256,
        duration_seconds=duration_seconds,
        grants=_grant_texts(grants),
    )
    try:
        credentials = broker.minter.mint(mint)
    except AgentZeroError as error:
        _audit(broker, AuditEvent.MINT_FAILED, record, error=error.code)
        _store(broker, record, RequestState.FAILED, None)
        raise UnavailableError("AWS did not issue the credentials; nothing was granted") from None
    session = IssuedSession(
        request_id=record.request_id,
        principal_id=principal.id,
        access_key_id=credentials.access_key_id,
        role_arn=mint.role_arn,
        session_name=mint.session_name,
        source_identity=mint.source_identity,
        issued_at=now,
        expires_at=credentials.expiration,
    )
    outcome = outcome.model_copy(update={"expires_at": credentials.expiration})
    try:
        # Audited before the record says approved: a crash in between leaves the request
        # unfinished, which recovery finds and revokes, never a session without ISSUED.
        _audit(
            broker,
            AuditEvent.ISSUED,
            record,
            access_key_id=credentials.access_key_id,
            expires_at=credentials.expiration.isoformat(),
        )
        record = _store(broker, record, RequestState.APPROVED, outcome, session=session)
    except AgentZeroError:
        # The session exists but its record is incomplete: it is never handed out, and
        # it is revoked so that nobody who learns of it can use it either.
        _withdraw(broker, record, mint, credentials.expiration)
        raise UnavailableError("the issue could not be recorded; nothing was granted") from None
    return AccessResult(
        record, credentials, compiled.text, _console_url(broker, record, principal, credentials)
    )


def _console_url(
    broker: Broker, record: RequestRecord, principal: Principal, credentials: Credentials
) -> str | None:
    wanted = record.request.console and broker.console is not None
    # A console session is a person's own; an agent acting for them never gets one.
    if not wanted or principal.kind is not PrincipalKind.HUMAN or record.request.acting_agent_id:
        return None
    if not principal.in_any_group(broker.console_groups) or broker.console is None:
        return None
    try:
        return broker.console.url_for(credentials)
    except AgentZeroError:
        return None  # the credentials still work; the link is a convenience


def _withdraw(
    broker: Broker, record: RequestRecord, mint: MintRequest, expires_at: datetime
) -> None:
    try:
        broker.revoker.revoke(
            role_arn=mint.role_arn, session_name=mint.session_name, expires_at=expires_at
        )
    finally:
        # The audit log or the store may be what failed; the revocation above is what
        # matters. A request left unfinished here is failed later by recovery.
        with contextlib.suppress(AgentZeroError):
            _audit(
                broker,
                AuditEvent.INTERRUPTED,
                record,
                stage="issue not recorded",
                revoked_session=mint.session_name,
            )
        stored = broker.requests.get(record.request_id) or record
        with contextlib.suppress(AgentZeroError):
            _store(broker, stored, RequestState.FAILED, None)


def _session_tags(record: RequestRecord, principal: Principal) -> dict[str, str]:
    tags = {REQUEST_ID_TAG: record.request_id, PRINCIPAL_KIND_TAG: principal.kind.value}
    if record.request.acting_agent_id:
        tags[ACTING_AGENT_TAG] = record.request.acting_agent_id
    return tags


def _grant_texts(grants: tuple[Grant, ...]) -> tuple[str, ...]:
    return tuple(
        f"{g.resource_key[:64]}:{','.join(a[:64] for a in g.actions[:10])}" for g in grants
    )


def _store(
    broker: Broker,
    record: RequestRecord,
    state: RequestState,
    outcome: Outcome | None,
    *,
    session: IssuedSession | None = None,
) -> RequestRecord:
    updated = record.model_copy(
        update={
            "state": state,
            "outcome": outcome,
            "session": session or record.session,
            "revision": record.revision + 1,
            "updated_at": broker.clock.now(),
        }
    )
    return broker.requests.replace(updated)


def _deny(
    broker: Broker,
    record: RequestRecord,
    reason: str,
    violations: list[Violation] | None = None,
) -> AccessResult:
    outcome = Outcome(
        request_id=record.request_id,
        principal_id=record.request.principal_id,
        status=OutcomeStatus.DENIED,
        reasons=(reason,),
        violations=tuple(violations or ()),
        policy_version=record.policy_version,
    )
    # Every decision is audited before it is stored (write-ahead): a crash in between
    # leaves the request unfinished for recovery, never a decision with no record.
    _audit(
        broker,
        AuditEvent.DENIED,
        record,
        reason=reason[:500],
        violations=tuple(v.code.value for v in violations or ()),
    )
    return AccessResult(_store(broker, record, RequestState.DENIED, outcome))


def _pending(
    broker: Broker, record: RequestRecord, proposal: Proposal | None, reason: str
) -> AccessResult:
    outcome = Outcome(
        request_id=record.request_id,
        principal_id=record.request.principal_id,
        status=OutcomeStatus.PENDING,
        grants=proposal.grants if proposal else (),
        duration_seconds=proposal.duration_seconds if proposal else None,
        risk=proposal.risk if proposal else None,
        reasons=(reason,),
        policy_version=record.policy_version,
    )
    _audit(broker, AuditEvent.PENDING_APPROVAL, record, reason=reason)
    return AccessResult(_store(broker, record, RequestState.PENDING, outcome))


def _audit(broker: Broker, event: AuditEvent, record: RequestRecord, **details: AuditValue) -> None:
    broker.audit.append(
        event,
        at=broker.clock.now(),
        request_id=record.request_id,
        principal_id=record.request.principal_id,
        details={key: value for key, value in details.items() if value is not None},
    )
