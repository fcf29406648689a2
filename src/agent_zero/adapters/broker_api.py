"""The agent's AccessBroker port on the broker's HTTP API (agent key + the user's token)."""

from __future__ import annotations

from agent_zero.agent.ports import BrokerAnswer
from agent_zero.client import BrokerClient, SigV4Key


class BrokerApiAccess:
    """Asks the broker as the agent, on behalf of the signed-in user whose token it holds."""

    def __init__(self, *, api_url: str, agent_key: SigV4Key, user_access_token: str) -> None:
        self._api_url = api_url
        self._agent_key = agent_key
        self._token = user_access_token

    def request_access(self, reason: str) -> BrokerAnswer:
        """One request; the credentials stay in the answer, which the model never sees."""
        with BrokerClient(self._api_url, sigv4=self._agent_key, on_behalf_of=self._token) as client:
            answer = client.request_access(reason)
        grants = tuple(str(g["resource_key"]) for g in answer.body.get("grants", []))
        return BrokerAnswer(
            request_id=answer.request_id,
            status=answer.status,
            reasons=tuple(answer.reasons),
            grants=grants,
            credentials=answer.credentials,
            expires_at=answer.body.get("expires_at"),
        )
