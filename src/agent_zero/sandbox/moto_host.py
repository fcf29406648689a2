"""moto, hosted in the gateway's process: the only module that touches moto's internals.

moto's server mode is a set of per-service WSGI apps. The gateway calls them
directly once a request is verified and allowed, so moto never listens on a
socket of its own: nothing reaches it except through the gateway (its
unauthenticated ``/moto-api`` included). moto is not thread-safe, so every call
into it holds one lock; snapshots take the same lock and see a quiet state.

Reading IAM users, roles and policies and DynamoDB key schemas straight from
moto's backends keeps one source of truth: what ``iam:PutRolePolicy`` wrote is
what the next request is judged by. Pinned to moto 5.2 (see pyproject).
"""

from __future__ import annotations

import copyreg
import json
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from agent_zero.domain.errors import UnavailableError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SERVICES = ("dynamodb", "iam", "sts", "cognito-idp", "s3", "apigatewaymanagementapi")
# SigV4 names some services differently from moto's apps.
MOTO_APP_OF_SERVICE = {"execute-api": "apigatewaymanagementapi"}
PERSISTED_SERVICES = ("dynamodb", "iam", "cognito-idp", "s3")
GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class IamUserRecord:
    """An IAM user as the gateway needs it: identity and every policy that applies."""

    name: str
    arn: str
    user_id: str
    policies: tuple[str, ...]  # policy documents (JSON text): inline, attached, and via groups
    boundary: str | None
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class IamRoleRecord:
    """An IAM role: trust policy, permission policies, boundary and session limit."""

    name: str
    arn: str
    role_id: str
    trust_policy: str
    policies: tuple[str, ...]
    boundary: str | None
    max_session_seconds: int
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """An IAM user's long-term access key."""

    access_key_id: str
    secret_access_key: str
    user_name: str
    active: bool


@dataclass(frozen=True, slots=True)
class TableKeys:
    """A DynamoDB table's partition key and its indexes' partition keys."""

    partition_key: str
    sort_key: str | None
    index_partition_keys: dict[str, str]


class MotoHost:
    """moto's services in this process, behind one lock."""

    def __init__(self, account_id: str) -> None:
        _install_pickle_hooks()
        self.account_id = account_id
        self.lock = threading.RLock()
        self._apps: dict[str, WSGIApplication] = {}

    def app(self, service: str) -> WSGIApplication:
        """moto's WSGI app for one service, built once."""
        found = self._apps.get(service)
        if found is None:
            if service not in SERVICES:
                raise UnavailableError(f"the sandbox does not emulate {service!r}")
            from moto.moto_server.werkzeug_app import create_backend_app

            with self.lock:
                found = self._apps.setdefault(service, create_backend_app(service))  # type: ignore[arg-type]
        return found

    def dispatch(
        self, service: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        """Run one request through moto; its response is buffered, so the lock is short."""
        app = self.app(MOTO_APP_OF_SERVICE.get(service, service))
        if service == "execute-api":
            environ = _connection_path_only(environ)
        with self.lock:
            return list(app(environ, start_response))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold moto still (for reads of several backends, and for snapshots)."""
        with self.lock:
            yield

    # --- IAM ----------------------------------------------------------------------

    def _iam(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account_id][GLOBAL]

    def access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        """The IAM user access key with this id, if any."""
        with self.lock:
            key = self._iam().access_keys.get(access_key_id)
            if key is None or not getattr(key, "user_name", None):
                return None
            return AccessKeyRecord(
                access_key_id=key.access_key_id,
                secret_access_key=key.secret_access_key,
                user_name=key.user_name,
                active=key.status == "Active",
            )

    def user(self, name: str) -> IamUserRecord | None:
        """An IAM user with all its policies, or None."""
        with self.lock:
            backend = self._iam()
            user = backend.users.get(name)
            if user is None:
                return None
            documents = list(user.policies.values())
            documents += _managed_documents(user.managed_policies.values())
            for group in backend.groups.values():
                if any(member.name == name for member in group.users):
                    documents += list(group.policies.values())
                    documents += _managed_documents(group.managed_policies.values())
            boundary = getattr(user, "permissions_boundary_arn", None)
            return IamUserRecord(
                name=user.name,
                arn=user.arn,
                user_id=user.id,
                policies=tuple(documents),
                boundary=self._managed_document(boundary),
                tags=_tags(backend.tagger.list_tags_for_resource(user.arn).get("Tags", [])),
            )

    def role(self, name: str) -> IamRoleRecord | None:
        """An IAM role by name (names are unique per account, whatever the path)."""
        with self.lock:
            for role in self._iam().roles.values():
                if role.name == name:
                    return IamRoleRecord(
                        name=role.name,
                        arn=role.arn,
                        role_id=role.id,
                        trust_policy=role.assume_role_policy_document,
                        policies=(
                            *role.policies.values(),
                            *_managed_documents(role.managed_policies.values()),
                        ),
                        boundary=self._managed_document(role.permissions_boundary_arn),
                        max_session_seconds=int(role.max_session_duration),
                        tags=_tags(role.tags),
                    )
            return None

    def iam_arn(self, kind: str, name: str) -> str | None:
        """The ARN, with its path, of an existing role, user, group or instance profile."""
        with self.lock:
            backend = self._iam()
            if kind == "user":
                user = backend.users.get(name)
                return None if user is None else str(user.arn)
            if kind == "group":
                group = backend.groups.get(name)
                return None if group is None else str(group.arn)
            if kind == "instance-profile":
                for profile in backend.instance_profiles.values():
                    if profile.name == name:
                        return str(profile.arn)
                return None
            role = self.role(name)
            return None if role is None else role.arn

    def _managed_document(self, arn: str | None) -> str | None:
        if not arn:
            return None
        backend = self._iam()
        policy = backend.managed_policies.get(arn)
        if policy is None:
            # A boundary that no longer exists must not turn into "no boundary".
            return json.dumps({"Version": "2012-10-17", "Statement": [_DENY_ALL]})
        return _default_document(policy)

    # --- DynamoDB -------------------------------------------------------------------

    def table_keys(self, region: str, table_name: str) -> TableKeys | None:
        """The key schema of a table, or None when the table does not exist."""
        from moto.dynamodb.models import dynamodb_backends

        with self.lock:
            table = dynamodb_backends[self.account_id][region].tables.get(table_name)
            if table is None:
                return None
            indexes: dict[str, str] = {}
            for index in (*table.global_indexes, *table.indexes):
                for element in index.schema:
                    if element["KeyType"] == "HASH":
                        indexes[index.name] = element["AttributeName"]
            return TableKeys(table.hash_key_attr, table.range_key_attr, indexes)

    # --- Cognito ------------------------------------------------------------------------

    def cognito_domain_pool(self, region: str, domain: str) -> str | None:
        """The id of the user pool that owns a hosted-UI domain, if the domain exists."""
        from moto.cognitoidp.models import cognitoidp_backends

        with self.lock:
            found = cognitoidp_backends[self.account_id][region].user_pool_domains.get(domain)
            return None if found is None else str(found.user_pool_id)

    # --- API Gateway WebSocket connections (what a frame sink posted) --------------------

    def posted_to_connection(self, region: str, connection_id: str) -> bytes:
        """Everything posted to one WebSocket connection (the sandbox has no real socket)."""
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

        with self.lock:
            backend = apigatewaymanagementapi_backends[self.account_id][region]
            return bytes(backend.get_connection(connection_id).data)

    # --- persistence ------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Every persisted service's backends, all accounts and regions, as one pickle."""
        from moto.core.base_backend import backend_lock

        with self.lock, backend_lock:
            state = {
                service: {account: dict(regions) for account, regions in _backends(service).items()}
                for service in PERSISTED_SERVICES
            }
            return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        """Put restored backends into moto's live registries, keeping their identity."""
        state: dict[str, dict[str, dict[str, Any]]] = pickle.loads(data)  # noqa: S301  # our own file, mode 0600
        with self.lock:
            for service, accounts in state.items():
                live = _backends(service)
                for account, regions in accounts.items():
                    per_account = live[account]
                    for region, backend in regions.items():
                        dict.__setitem__(per_account, region, backend)

    def reset(self) -> None:
        """Forget every emulated resource (for ``--reset``)."""
        with self.lock:
            for service in PERSISTED_SERVICES:
                _backends(service).reset()


_DENY_ALL = {"Effect": "Deny", "Action": "*", "Resource": "*"}


def _backends(service: str) -> Any:
    # moto types get_backend with one overload per service literal; ours is a variable.
    from moto.backends import get_backend

    return cast(Any, get_backend)(service)


def _default_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return str(version.document)
    return json.dumps({"Version": "2012-10-17", "Statement": [_DENY_ALL]})


def _managed_documents(policies: Iterable[Any]) -> list[str]:
    return [_default_document(policy) for policy in policies]


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return {str(tag["Key"]): str(tag["Value"]) for tag in raw or ()}


# --- pickling Cognito's signing key ------------------------------------------------------
# joserfc's RSAKey wraps a cryptography key that refuses to pickle; it is stored as
# its JWK JSON and loaded once per distinct key (loading costs ~70 ms).


def _reduce_rsa_key(key: Any) -> tuple[Callable[[str], Any], tuple[str]]:
    return _load_rsa_key, (json.dumps(key.as_dict(private=True), sort_keys=True),)


@cache
def _load_rsa_key(jwk_json: str) -> Any:
    from joserfc.jwk import RSAKey

    return RSAKey.import_key(json.loads(jwk_json))


@cache
def _install_pickle_hooks() -> None:
    from joserfc.jwk import RSAKey

    copyreg.pickle(RSAKey, _reduce_rsa_key)


def _connection_path_only(environ: WSGIEnvironment) -> WSGIEnvironment:
    # moto's route for /{api}/{stage}/@connections/{id} never matches under werkzeug 3, and
    # its backend keeps connections per region anyway: hand it the /@connections/{id} form.
    # The gateway has already judged the full path.
    path = str(environ.get("PATH_INFO", "/"))
    rewritten = dict(environ)
    rewritten["PATH_INFO"] = path[path.find("/@connections/") :]
    for raw in ("RAW_URI", "REQUEST_URI"):
        rewritten.pop(raw, None)
    return rewritten
