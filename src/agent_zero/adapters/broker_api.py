"""The agent's broker ports on the broker's HTTP API (agent key + the user's token)."""

from __future__ import annotations

from agent_zero.agent.ports import BrokerAnswer, PolicyView
from agent_zero.client import AccessAnswer, BrokerClient, SigV4Key


class BrokerApiAccess:
    """Asks the broker as the agent, on behalf of the signed-in user whose token it holds."""

    def __init__(self, *, api_url: str, agent_key: SigV4Key, user_access_token: str) -> None:
        self._api_url = api_url
        self._agent_key = agent_key
        self._token = user_access_token

    def request_access(self, reason: str) -> BrokerAnswer:
        """One request; the credentials stay in the answer, which the model never sees."""
        with self._client() as client:
            return _answer(client.request_access(reason))

    def collect(self, request_id: str) -> BrokerAnswer:
        """The user's approved request's credentials (minted now, once)."""
        with self._client() as client:
            return _answer(client.get(request_id))

    def _client(self) -> BrokerClient:
        return BrokerClient(self._api_url, sigv4=self._agent_key, on_behalf_of=self._token)


class BrokerApiAdminDesk:
    """Administration through the broker's admin API, as the agent acting for an admin.

    The broker accepts the write only under a policy-store grant this agent requested for
    the admin in a turn, approved by another admin.
    """

    def __init__(self, *, api_url: str, agent_key: SigV4Key, admin_access_token: str) -> None:
        self._api_url = api_url
        self._agent_key = agent_key
        self._token = admin_access_token

    def read_policy(self, principal_id: str) -> PolicyView:
        """The current version, under the agent's own policy-store grant."""
        with self._client() as client:
            current = client.policy_history(principal_id).get("current") or {}
        return PolicyView(
            principal_id=principal_id,
            version=int(current.get("version", 0)),
            text=str(current.get("text", "")),
        )

    def write_policy(self, principal_id: str, text: str, expected_version: int) -> int:
        """The next version, on top of the one the admin read."""
        with self._client() as client:
            written = client.write_policy(principal_id, text, expected_version=expected_version)
        return int(written["version"])

    def _client(self) -> BrokerClient:
        return BrokerClient(self._api_url, sigv4=self._agent_key, on_behalf_of=self._token)


def _answer(answer: AccessAnswer) -> BrokerAnswer:
    grants = tuple(str(g["resource_key"]) for g in answer.body.get("grants", []))
    return BrokerAnswer(
        request_id=answer.request_id,
        status=answer.status,
        reasons=tuple(answer.reasons),
        grants=grants,
        credentials=answer.credentials,
        expires_at=answer.body.get("expires_at"),
    )
