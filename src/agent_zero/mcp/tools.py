"""The MCP tools' behaviour: access requests, held credentials and DynamoDB operations,
per caller. Transport-free: ``server.py`` exposes these over stdio and streamable HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from agent_zero.adapters.aws.data_plane import MintedDynamoDB, MintedDynamoDBFactory
from agent_zero.client import AccessAnswer, BrokerClient
from agent_zero.domain.errors import (
    AgentZeroError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)

MAX_ROWS = 25
MAX_RESULT_CHARS = 6_000  # what one data result may put into the client model's context
MAX_HELD_PER_CALLER = 16
MAX_LISTED = 20
MAX_REASON_CHARS = 200

Operation = Literal["get", "query", "put", "delete"]
Status = Literal["approved", "pending", "denied", "failed"]
Clock = Callable[[], datetime]

INSTRUCTIONS = """\
Agent Zero grants AWS access just in time, for one task, to the signed-in person.
Call request_aws_access with a short, honest reason in plain words (what you will do and
why). Approved: use run_dynamodb_operation with the returned handle and a granted
resource. Pending: a person must approve; call check_access_request with the handle later.
Denied: do not retry with a different story. list_my_grants shows active and past access.
"""


# --- what the tools return --------------------------------------------------------------


class GrantView(BaseModel):
    """Actions granted on one catalog resource."""

    resource: str
    actions: list[str]


class HandedCredentials(BaseModel):
    """Temporary AWS credentials, only from a server started to hand them out."""

    access_key_id: str
    secret_access_key: str = Field(repr=False)
    session_token: str = Field(repr=False)
    expiration: str
    region: str
    endpoint_url: str | None = None


class AccessOutcome(BaseModel):
    """The broker's answer to one request, and the handle to use it by."""

    status: Status
    handle: str = Field(description="The request id: pass it to the other tools.")
    message: str
    grants: list[GrantView] = Field(default_factory=list)
    expires_at: str | None = None
    reasons: list[str] = Field(default_factory=list)
    credentials: HandedCredentials | None = None


class RequestSummary(BaseModel):
    """One of the caller's requests."""

    handle: str
    status: str
    reason: str
    grants: list[GrantView]
    expires_at: str | None
    revoked_at: str | None
    acting_agent_id: str | None
    usable_here: bool = Field(description="This server holds credentials for it.")


class MyGrants(BaseModel):
    """The caller's access: active grants, requests waiting for a person, and the rest."""

    active: list[RequestSummary]
    waiting: list[RequestSummary]
    past: list[RequestSummary]


class OperationResult(BaseModel):
    """What one DynamoDB operation did or found."""

    message: str
    items: list[dict[str, Any]] = Field(default_factory=list)
    truncated: bool = False


# --- who is calling, and the credentials held for them -------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """The token the tools act with; ``principal_id`` when this server verified it itself."""

    token: str = field(repr=False)
    principal_id: str | None


@dataclass(frozen=True, slots=True)
class Table:
    """A granted DynamoDB table, as the broker names it alongside the credentials."""

    name: str
    partition_key: str | None


@dataclass(frozen=True, slots=True)
class HeldAccess:
    """Credentials minted for one caller's one request, kept here instead of handed out."""

    principal_id: str
    handle: str
    credentials: Mapping[str, str] = field(repr=False)
    tables: Mapping[str, Table]
    grants: tuple[GrantView, ...]
    expires_at: datetime


class HeldCredentials:
    """Minted credentials by (verified principal, handle); expired ones are dropped."""

    def __init__(self, *, clock: Clock, per_caller: int = MAX_HELD_PER_CALLER) -> None:
        self._clock = clock
        self._per_caller = per_caller
        self._lock = threading.Lock()
        self._held: dict[str, dict[str, HeldAccess]] = {}
        self._asked: dict[str, set[str]] = {}  # handles of requests made through this server

    def asked(self, principal_id: str, handle: str) -> None:
        """Remember that this server made request ``handle`` for the caller."""
        with self._lock:
            self._asked.setdefault(principal_id, set()).add(handle)

    def asked_here(self, principal_id: str, handle: str) -> bool:
        """Whether this server made that request for that caller."""
        with self._lock:
            return handle in self._asked.get(principal_id, set())

    def forget(self, principal_id: str, handle: str) -> None:
        """Drop held credentials (after a revocation)."""
        with self._lock:
            self._held.get(principal_id, {}).pop(handle, None)

    def keep(self, access: HeldAccess) -> None:
        """Hold ``access``; the caller's oldest is dropped beyond the limit."""
        with self._lock:
            mine = self._held.setdefault(access.principal_id, {})
            mine[access.handle] = access
            while len(mine) > self._per_caller:
                del mine[next(iter(mine))]

    def find(self, principal_id: str, handle: str) -> HeldAccess | None:
        """The caller's live access under ``handle``; never another caller's."""
        with self._lock:
            return self._live(principal_id).get(handle)

    def handles(self, principal_id: str) -> frozenset[str]:
        """The caller's handles with live credentials here."""
        with self._lock:
            return frozenset(self._live(principal_id))

    def _live(self, principal_id: str) -> dict[str, HeldAccess]:
        now = self._clock()
        mine = self._held.get(principal_id, {})
        for handle in [h for h, access in mine.items() if access.expires_at <= now]:
            del mine[handle]
        return mine


# --- the tools, synchronous (each call runs in a worker thread) ----------------------------


class AccessTools:
    """What the MCP tools do, as one caller, against the broker API and DynamoDB."""

    def __init__(
        self,
        *,
        open_broker: Callable[[str], BrokerClient],
        data: MintedDynamoDBFactory,
        held: HeldCredentials,
        clock: Clock,
        token_source: Callable[[], str] | None,
        hand_out_credentials: bool,
        region: str,
        aws_endpoint_url: str | None,
    ) -> None:
        self._open_broker = open_broker
        self._data = data
        self._held = held
        self._clock = clock
        self._token_source = token_source
        self._hand_out = hand_out_credentials
        self._region = region
        self._endpoint = aws_endpoint_url

    def caller(self, verified: AccessToken | None) -> Caller:
        """Stdio: the injected token. HTTP: the token the bearer middleware verified."""
        if self._token_source is not None:
            try:
                return Caller(self._token_source(), None)
            except AgentZeroError as error:
                raise ToolError(f"Cannot act for you: {error.message}") from None
        if verified is None or not verified.subject:
            raise ToolError("This request carries no verified caller.")
        return Caller(verified.token, verified.subject)

    def request_access(self, verified: AccessToken | None, reason: str) -> AccessOutcome:
        """Ask the broker; hold what it mints for this caller."""
        caller = self.caller(verified)
        with self._broker(caller) as broker:
            principal = _principal(caller, broker)
            answer = broker.request_access(reason)
        self._held.asked(principal, answer.request_id)
        return self._answer(principal, answer)

    def check_request(self, verified: AccessToken | None, handle: str) -> AccessOutcome:
        """An earlier request: collect its credentials once a person approved it."""
        caller = self.caller(verified)
        with self._broker(caller) as broker:
            principal = _principal(caller, broker)
            if not self._held.asked_here(principal, handle):
                # The person's own requests (CLI, web) are theirs to collect: an agent
                # collecting them would use up their one collection and act in their place.
                raise ToolError(
                    "That request was not made through this server; only requests made "
                    "here can be checked and used here."
                )
            held = self._held.find(principal, handle)
            if held is not None:
                try:
                    revoked = bool(broker.status(handle).get("revoked_at"))
                except NotFoundError:
                    revoked = True
                if revoked:
                    self._held.forget(principal, handle)
                    raise ToolError("That access was revoked; ask again if it is still needed.")
                return AccessOutcome(
                    status="approved",
                    handle=handle,
                    message=f"Access held here for: {_keys(held.grants)}.",
                    grants=list(held.grants),
                    expires_at=held.expires_at.isoformat(),
                )
            try:
                answer = broker.get(handle)
            except (NotFoundError, InvalidInputError):
                raise ToolError("There is no request of yours with that handle.") from None
            except ConflictError as error:
                raise ToolError(f"That request cannot be used: {error.message}.") from None
        if answer.body.get("principal_id") != principal:  # an admin sees others' requests
            raise ToolError("There is no request of yours with that handle.")
        return self._answer(principal, answer)

    def list_grants(self, verified: AccessToken | None) -> MyGrants:
        """The caller's requests, newest first: active, waiting and past."""
        caller = self.caller(verified)
        with self._broker(caller) as broker:
            principal = _principal(caller, broker)
            items = broker.list_requests()
        usable = self._held.handles(principal)
        now = self._clock()
        grants = MyGrants(active=[], waiting=[], past=[])
        for item in items:
            if item.get("principal_id") != principal:  # admins get everyone's: keep their own
                continue
            summary = _summary(item, usable)
            if item.get("status") in ("pending", "received"):
                bucket = grants.waiting
            elif item.get("status") == "approved" and _is_active(item, now):
                bucket = grants.active
            else:
                bucket = grants.past
            if len(bucket) < MAX_LISTED:
                bucket.append(summary)
        return grants

    def run_operation(
        self,
        verified: AccessToken | None,
        *,
        handle: str,
        resource: str,
        operation: Operation,
        key: Mapping[str, Any] | None,
        item: Mapping[str, Any] | None,
    ) -> OperationResult:
        """One DynamoDB call with credentials held for this caller's handle, and only those."""
        caller = self.caller(verified)
        with self._broker(caller) as broker:
            profile = broker.me() if caller.principal_id is None or operation == "query" else {}
        principal = caller.principal_id or str(profile["principal_id"])
        held = self._held.find(principal, handle)
        if held is None:
            raise ToolError(
                "No access is held for you under that handle: call request_aws_access first "
                "(or check_access_request once a person approved it)."
            )
        table = held.tables.get(resource)
        if table is None:
            raise ToolError(
                f"That resource was not granted under this handle (granted: {_keys(held.grants)})."
            )
        data = self._data.open(held.credentials)
        try:
            return _operate(data, table, operation, key, item, owner=profile.get("customer_key"))
        except PermissionDeniedError:
            raise ToolError("The data service refused: access to that was not granted.") from None
        except UnavailableError as error:
            raise ToolError(f"The data service failed: {error.message}.") from None

    def _broker(self, caller: Caller) -> BrokerClient:
        return self._open_broker(caller.token)

    def _answer(self, principal: str, answer: AccessAnswer) -> AccessOutcome:
        held = _held_access(principal, answer)
        if held is not None:
            self._held.keep(held)
        status = _status(answer.status)
        grants = _grants(answer.body)
        outcome = AccessOutcome(
            status=status,
            handle=answer.request_id,
            message=_message(status, answer.request_id, grants, held),
            grants=grants if status == "approved" else [],
            expires_at=answer.body.get("expires_at") if status == "approved" else None,
            reasons=answer.reasons if status != "approved" else [],
        )
        credentials = answer.credentials
        if self._hand_out and credentials is not None:
            outcome.credentials = HandedCredentials(
                access_key_id=credentials["access_key_id"],
                secret_access_key=credentials["secret_access_key"],
                session_token=credentials["session_token"],
                expiration=credentials["expiration"],
                region=self._region,
                endpoint_url=self._endpoint,
            )
        return outcome


def _principal(caller: Caller, broker: BrokerClient) -> str:
    # Stdio tokens are not verified here: the broker says whose token it is.
    return caller.principal_id or str(broker.me()["principal_id"])


_STATUSES: dict[str, Status] = {
    "approved": "approved",
    "pending": "pending",
    "received": "pending",  # still being decided
    "denied": "denied",
}


def _status(value: str) -> Status:
    return _STATUSES.get(value, "failed")


def _grants(body: Mapping[str, Any]) -> list[GrantView]:
    return [
        GrantView(
            resource=str(g.get("resource_key")), actions=[str(a) for a in g.get("actions", [])]
        )
        for g in body.get("grants") or []
        if isinstance(g, dict) and isinstance(g.get("actions"), list)
    ]


def _keys(grants: Sequence[GrantView]) -> str:
    return ", ".join(g.resource for g in grants) or "nothing"


def _message(status: Status, handle: str, grants: list[GrantView], held: HeldAccess | None) -> str:
    if status == "approved" and held is not None:
        return (
            f"Approved for: {_keys(grants)} until {held.expires_at.isoformat()}. "
            f"Use run_dynamodb_operation with handle {handle}."
        )
    if status == "approved":
        return f"Approved for: {_keys(grants)} (no AWS credentials to use through this server)."
    if status == "pending":
        return (
            f"A person must approve this first. Call check_access_request with handle {handle} "
            "once it is approved."
        )
    if status == "denied":
        return "Denied: see reasons. Do not retry with a different story."
    return "The broker could not complete this request; nothing was granted."


def _held_access(principal: str, answer: AccessAnswer) -> HeldAccess | None:
    credentials = answer.credentials
    if credentials is None:
        return None
    grants = tuple(_grants(answer.body))
    granted = {g.resource for g in grants}
    tables: dict[str, Table] = {}
    for entry in answer.body.get("resources") or []:
        key, arn = entry.get("resource_key"), str(entry.get("arn") or "")
        name = arn.split(":table/", 1)[1] if ":table/" in arn else ""
        if key in granted and name and "/" not in name:  # tables only, never an index
            tables[str(key)] = Table(name, entry.get("partition_key"))
    expires = datetime.fromisoformat(credentials["expiration"])
    return HeldAccess(principal, answer.request_id, dict(credentials), tables, grants, expires)


def _summary(item: Mapping[str, Any], usable: frozenset[str]) -> RequestSummary:
    reason = str(item.get("reason") or "")
    return RequestSummary(
        handle=str(item.get("request_id")),
        status=str(item.get("status")),
        reason=reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS] + "…",
        grants=_grants(item),
        expires_at=item.get("expires_at"),
        revoked_at=item.get("revoked_at"),
        acting_agent_id=item.get("acting_agent_id"),
        usable_here=item.get("request_id") in usable,
    )


def _is_active(item: Mapping[str, Any], now: datetime) -> bool:
    expires = item.get("expires_at")
    if item.get("revoked_at") or not expires:
        return False
    return datetime.fromisoformat(str(expires)) > now


def _operate(
    data: MintedDynamoDB,
    table: Table,
    operation: Operation,
    key: Mapping[str, Any] | None,
    item: Mapping[str, Any] | None,
    *,
    owner: str | None,
) -> OperationResult:
    if operation == "query":
        if not owner or not table.partition_key:
            raise ToolError("query reads only your own rows, and there are none here: use get.")
        rows = data.query(table.name, table.partition_key, owner, MAX_ROWS)
        kept, cut = _bounded([_jsonable(row) for row in rows])
        return OperationResult(message=f"{len(rows)} item(s) of yours.", items=kept, truncated=cut)
    if operation == "put":
        if not item:
            raise ToolError("put needs item.")
        data.put(table.name, _storable(item))
        return OperationResult(message="Saved.")
    if not key:
        raise ToolError(f"{operation} needs key.")
    if operation == "get":
        found = data.get(table.name, _storable(key))
        if found is None:
            return OperationResult(message="No such item.")
        kept, cut = _bounded([_jsonable(found)])
        return OperationResult(message="Found.", items=kept, truncated=cut)
    data.delete(table.name, _storable(key))
    return OperationResult(message="Deleted.")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):  # DynamoDB numbers: exact, and ints stay ints
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # binary and anything else: as text


def _storable(value: Any) -> Any:
    # Model-written JSON numbers arrive as floats, which boto3 refuses: store them exactly.
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {str(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _bounded(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Whole attributes while they fit in MAX_RESULT_CHARS, so the JSON stays valid."""
    kept: list[dict[str, Any]] = []
    used = 2
    for row in rows:
        part: dict[str, Any] = {}
        for name, value in row.items():
            size = len(json.dumps({name: value})) + 2
            if used + size > MAX_RESULT_CHARS:
                return [*kept, part] if part else kept, True
            part[name] = value
            used += size
        kept.append(part)
    return kept, False


# --- HTTP callers: the broker API's Cognito verifier behind the SDK's bearer middleware ----
