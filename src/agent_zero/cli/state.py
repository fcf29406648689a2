"""What the CLI keeps on disk: where the broker is, the user's login, and cached credentials.

Everything lives under one directory (the OS's config dir for ``agent-zero``, or
``AGENT_ZERO_CONFIG_DIR``), created 0700, every file written 0600 through a temporary
file and a rename, so a crash never leaves half a token and no other user reads one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import click
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.domain.errors import AuthenticationError, InvalidInputError, UnavailableError
from agent_zero.settings import Settings

REFRESH_MARGIN = timedelta(seconds=60)  # refresh a token this long before it expires
CREDENTIAL_MARGIN = timedelta(minutes=5)  # hand out cached credentials only with this left


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the broker API and the user pool are."""

    api_url: str
    region: str
    cognito_client_id: str
    cognito_endpoint_url: str | None


def resolve_endpoints(settings: Settings) -> Endpoints:
    """Settings first (``AGENT_ZERO_API_URL`` …), then the sandbox's record in the data dir."""
    api_url = settings.api_url
    client_id = settings.cognito_client_id
    endpoint = settings.cognito_endpoint_url
    region = settings.region
    if api_url is None or client_id is None:
        from agent_zero.sandbox.record import read_record

        try:
            record = read_record(settings.data_dir)
        except Exception:  # a damaged record reads as none: the message below says what to do
            record = None
        if record is not None:
            api_url = api_url or record.broker_api_url
            client_id = client_id or record.cognito.client_id
            endpoint = endpoint or record.aws_endpoint_url
            region = record.region
    if not api_url or not client_id:
        raise InvalidInputError(
            "no broker configured: start the sandbox (`agent-zero up`) or set "
            "AGENT_ZERO_API_URL and AGENT_ZERO_COGNITO_CLIENT_ID"
        )
    return Endpoints(api_url.rstrip("/"), region, client_id, endpoint)


def config_dir(settings: Settings) -> Path:
    """The CLI's own directory, created owner-only."""
    found = settings.config_dir or Path(click.get_app_dir("agent-zero"))
    found.mkdir(parents=True, exist_ok=True, mode=0o700)
    facts = found.stat()
    # Tokens and credentials go in here: a directory someone else owns or may write to
    # could have its files swapped or read.
    if facts.st_uid != os.getuid() or facts.st_mode & 0o022:
        raise InvalidInputError(
            f"{found} must belong to you and be writable only by you (chmod 700 {found})"
        )
    return found


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Atomically write JSON readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_private(path: Path) -> dict[str, Any] | None:
    """The JSON in ``path``, or None when missing or unreadable."""
    try:
        found = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return found if isinstance(found, dict) else None


# --- the login -------------------------------------------------------------------------


class Login:
    """The signed-in user's Cognito tokens, refreshed when close to expiry."""

    def __init__(self, directory: Path, endpoints: Endpoints) -> None:
        self._path = directory / "login.json"
        self._endpoints = endpoints

    def _cognito(self) -> Any:
        return boto3.client(
            "cognito-idp",
            region_name=self._endpoints.region,
            endpoint_url=self._endpoints.cognito_endpoint_url,
            config=Config(signature_version=UNSIGNED),  # a public client: no AWS identity
        )

    def sign_in(self, username: str, password: str) -> str:
        """USER_PASSWORD_AUTH; stores the tokens; the username."""
        answer = self._call("USER_PASSWORD_AUTH", {"USERNAME": username, "PASSWORD": password})
        self._store(username, answer, refresh_token=None)
        return username

    def _call(self, flow: str, parameters: dict[str, str]) -> dict[str, Any]:
        try:
            answer = self._cognito().initiate_auth(
                ClientId=self._endpoints.cognito_client_id,
                AuthFlow=flow,
                AuthParameters=parameters,
            )
        except Exception as error:
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                raise AuthenticationError("the username or password is wrong") from None
            raise UnavailableError(
                f"the user pool could not be reached ({code or 'network'})"
            ) from None
        result = answer.get("AuthenticationResult")
        if not isinstance(result, dict):
            challenge = answer.get("ChallengeName", "a challenge")
            raise AuthenticationError(f"this account needs {challenge}, which the CLI does not do")
        return result

    def _store(self, username: str, result: dict[str, Any], refresh_token: str | None) -> None:
        expires = datetime.now(UTC) + timedelta(seconds=int(result.get("ExpiresIn", 3600)))
        write_private(
            self._path,
            {
                "api_url": self._endpoints.api_url,
                "username": username,
                "access_token": result["AccessToken"],
                "refresh_token": result.get("RefreshToken") or refresh_token,
                "expires_at": expires.isoformat(),
            },
        )

    def access_token(self) -> str:
        """A token valid for at least a minute, refreshed if needed."""
        stored = read_private(self._path)
        if stored is None or stored.get("api_url") != self._endpoints.api_url:
            raise AuthenticationError("not signed in: run `agent-zero login`")
        expires = datetime.fromisoformat(str(stored["expires_at"]))
        if expires - REFRESH_MARGIN > datetime.now(UTC):
            return str(stored["access_token"])
        refresh = stored.get("refresh_token")
        if not refresh:
            raise AuthenticationError("the login expired: run `agent-zero login`")
        try:
            result = self._call("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": str(refresh)})
        except AuthenticationError:
            raise AuthenticationError("the login expired: run `agent-zero login`") from None
        self._store(str(stored["username"]), result, refresh_token=str(refresh))
        return str(result["AccessToken"])

    def username(self) -> str | None:
        """Who is signed in, if anyone."""
        stored = read_private(self._path)
        return None if stored is None else str(stored.get("username"))

    def sign_out(self) -> bool:
        """Forget the tokens; whether there were any."""
        try:
            self._path.unlink()
        except FileNotFoundError:
            return False
        return True


# --- cached credentials for credential_process ----------------------------------------------


class CredentialCache:
    """Credentials per request id or per reason, until shortly before they expire.

    An entry remembers its request id even once its credentials are gone, so that a
    revoked grant is never silently replaced by a new request.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory / "credentials"

    def _path(self, key: str) -> Path:
        return self._directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry: ``request_id``, and ``credentials`` while they have time left."""
        return read_private(self._path(key))

    def fresh(self, key: str) -> dict[str, str] | None:
        """Cached credentials with more than the margin left, or None."""
        entry = self.get(key)
        credentials = entry.get("credentials") if entry else None
        if not isinstance(credentials, dict):
            return None
        expires = datetime.fromisoformat(str(credentials["expiration"]))
        if expires - CREDENTIAL_MARGIN <= datetime.now(UTC):
            return None
        return {str(k): str(v) for k, v in credentials.items()}

    def put(self, key: str, request_id: str, credentials: dict[str, str] | None) -> None:
        """Remember a request (and its credentials, if any)."""
        write_private(self._path(key), {"request_id": request_id, "credentials": credentials})

    def mark_revoked(self, key: str, request_id: str) -> None:
        """Drop the credentials, remember the revocation."""
        write_private(
            self._path(key), {"request_id": request_id, "credentials": None, "revoked": True}
        )


def reason_key(reason: str) -> str:
    """The cache key of a reason."""
    return "reason:" + " ".join(reason.split())


def request_key(request_id: str) -> str:
    """The cache key of a request id."""
    return "request:" + request_id
