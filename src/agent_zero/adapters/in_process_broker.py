"""The agent's AccessBroker port when the agent runs inside the broker's own process.

The web app hosts both: the agent asks the use case directly, as itself, for
the signed-in user whose token the connection verified (the same facts a
signed on-behalf-of request carries over HTTP).
"""

from __future__ import annotations

from agent_zero.agent.ports import BrokerAnswer
from agent_zero.broker.access import AccessCommand, Broker, request_access


class InProcessBroker:
    """Calls request_access for one user, with the agent recorded as the actor."""

    def __init__(self, broker: Broker, *, agent_id: str, user_id: str) -> None:
        self._broker = broker
        self._agent_id = agent_id
        self._user_id = user_id

    def request_access(self, reason: str) -> BrokerAnswer:
        """One request, as the agent on behalf of the user."""
        result = request_access(
            self._broker,
            AccessCommand(
                principal_id=self._user_id,
                reason=reason,
                acting_agent_id=self._agent_id,
                verified_by="sigv4",  # the agent's own identity, the user's verified token
            ),
        )
        outcome = result.outcome
        credentials = None
        if result.credentials is not None:
            credentials = {
                "access_key_id": result.credentials.access_key_id,
                "secret_access_key": result.credentials.secret_access_key.get_secret_value(),
                "session_token": result.credentials.session_token.get_secret_value(),
            }
        return BrokerAnswer(
            request_id=result.record.request_id,
            status=result.record.state.value,
            reasons=tuple(outcome.reasons) if outcome else (),
            grants=tuple(g.resource_key for g in outcome.grants) if outcome else (),
            credentials=credentials,
            expires_at=outcome.expires_at.isoformat() if outcome and outcome.expires_at else None,
        )
