"""Console sign-in links through the AWS federation endpoint (or the sandbox's stand-in)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from agent_zero.domain.credentials import Credentials
from agent_zero.domain.errors import UnavailableError

AWS_FEDERATION = "https://signin.aws.amazon.com/federation"
AWS_CONSOLE = "https://console.aws.amazon.com/"


class FederationConsoleSignIn:
    """The ConsoleSignIn port: getSigninToken, then a login URL carrying the token."""

    def __init__(
        self,
        *,
        federation_url: str = AWS_FEDERATION,
        destination: str = AWS_CONSOLE,
        issuer: str = "agent-zero",
        timeout_seconds: float = 5.0,
    ) -> None:
        parts = urlsplit(federation_url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the federation endpoint must be HTTPS (or the local sandbox)")
        self._url = federation_url
        self._destination = destination
        self._issuer = issuer
        self._timeout = timeout_seconds

    def url_for(self, credentials: Credentials) -> str:
        """A one-time sign-in link for the session (valid about 15 minutes)."""
        session = json.dumps(
            {
                "sessionId": credentials.access_key_id,
                "sessionKey": credentials.secret_access_key.get_secret_value(),
                "sessionToken": credentials.session_token.get_secret_value(),
            }
        )
        query = urlencode({"Action": "getSigninToken", "Session": session})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self._url}?{query}", timeout=self._timeout) as response:
                token = json.loads(response.read(65_536))["SigninToken"]
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
            # The URL carried the secret: never repeat it, or the error, to anyone.
            raise UnavailableError("the console sign-in link could not be made") from None
        login = urlencode(
            {
                "Action": "login",
                "Issuer": self._issuer,
                "Destination": self._destination,
                "SigninToken": token,
            }
        )
        return f"{self._url}?{login}"
