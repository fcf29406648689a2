"""Ids in the client's URL paths: a model or a user can supply them, so they stay one segment."""

from __future__ import annotations

import httpx
import pytest

from agent_zero.client import BrokerClient
from agent_zero.domain.errors import InvalidInputError


def recording_client() -> tuple[BrokerClient, list[str]]:
    """A client whose transport is httpx's own in-memory fake: it records the paths sent."""
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"current": None, "history": []})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return BrokerClient("http://broker.test", bearer_token="t", http=http), paths


@pytest.mark.parametrize(
    "hostile",
    [
        "../../access-requests/req-123456",
        "..",
        "bob?status=pending",
        "bob#x",
        "bob/../../admin/audit",
        "bob%2F..",
        "",
    ],
)
def test_ids_that_would_leave_their_segment_are_refused_before_sending(hostile: str) -> None:
    client, paths = recording_client()
    with pytest.raises(InvalidInputError):
        client.policy_history(hostile)
    with pytest.raises(InvalidInputError):
        client.get(hostile)
    with pytest.raises(InvalidInputError):
        client.revoke(hostile)
    assert paths == []


def test_ordinary_ids_reach_their_route() -> None:
    client, paths = recording_client()
    client.policy_history("ben.okafor")
    client.policy_history("support-assistant@bank")
    assert paths == ["/v1/admin/policies/ben.okafor", "/v1/admin/policies/support-assistant%40bank"]
