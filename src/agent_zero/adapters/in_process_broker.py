"""The agent's AccessBroker port when the agent runs inside the broker's own process.

The web app hosts both: the agent asks the use case directly, as itself, for
the signed-in user whose token the connection verified (the same facts a
signed on-behalf-of request carries over HTTP).
"""

from __future__ import annotations

from agent_zero.agent.ports import BrokerAnswer, PolicyView
from agent_zero.broker.access import (
    AGENT_SOCKET_PROOF,
    AccessCommand,
    AccessResult,
    Broker,
    request_access,
)
from agent_zero.broker.administration import policy_history, write_policy
from agent_zero.broker.approvals import collect_credentials


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
                verified_by=AGENT_SOCKET_PROOF,
            ),
        )
        return _answer(result)

    def collect(self, request_id: str) -> BrokerAnswer:
        """The user's approved request's credentials (minted now, once)."""
        return _answer(
            collect_credentials(
                self._broker,
                request_id,
                principal_id=self._user_id,
                acting_agent_id=self._agent_id,
            )
        )


def _answer(result: AccessResult) -> BrokerAnswer:
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


class InProcessAdminDesk:
    """Administration as the signed-in admin; the broker checks the admin's grants."""

    def __init__(self, broker: Broker, *, admin_id: str, agent_id: str) -> None:
        self._broker = broker
        self._admin_id = admin_id
        self._agent_id = agent_id

    def read_policy(self, principal_id: str) -> PolicyView:
        """The current version, under the agent's own policy-store grant."""
        history = policy_history(
            self._broker,
            actor_id=self._admin_id,
            principal_id=principal_id,
            acting_agent_id=self._agent_id,
        )
        current = history[-1] if history else None
        return PolicyView(
            principal_id=principal_id,
            version=current.version if current else 0,
            text=current.text if current else "",
        )

    def write_policy(self, principal_id: str, text: str, expected_version: int) -> int:
        """The next version, on top of the one the admin read."""
        written = write_policy(
            self._broker,
            actor_id=self._admin_id,
            principal_id=principal_id,
            text=text,
            expected_version=expected_version,
            acting_agent_id=self._agent_id,
        )
        return written.version
