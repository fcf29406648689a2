"""The web pages over an in-memory broker, with stand-ins for Cognito behind our own ports:
what needs many records or a particular configuration to show."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.domain.errors import AuthenticationError
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.web.api import RateLimiter
from agent_zero.web.pages import WebOptions, add_pages
from agent_zero.web.session import InMemoryRevokedSessions, SessionCodec
from support.broker_world import APPROVE_READ, World


@dataclass(frozen=True)
class Verified:
    username: str
    expires_at: datetime


class PasswordIsUsername:
    """Signs in anyone whose password is their username (a stand-in for the user pool)."""

    def sign_in(self, username: str, password: str) -> str:
        if password != username:
            raise AuthenticationError("the username or password is wrong")
        return f"token-for:{username}"


class Tokens:
    def verify(self, token: str) -> Verified:
        if not token.startswith("token-for:"):
            raise AuthenticationError("bad token")
        return Verified(token.split(":", 1)[1], datetime.now(UTC) + timedelta(hours=1))


def client_for(
    world: World, *, model: bool = True, limiter: RateLimiter | None = None
) -> TestClient:
    app = FastAPI()
    options = WebOptions(
        sign_in=PasswordIsUsername(),
        tokens=Tokens(),
        sessions=SessionCodec(b"s" * 32),
        secure_cookies=True,
        model_configured=model,
        region="us-east-1",
        aws_endpoint_url=None,
        revoked=InMemoryRevokedSessions(),
        limiter=limiter or RateLimiter(per_minute=10_000, burst=1_000),
    )
    add_pages(app, world.broker, options)
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/login", data={"csrf": csrf, "next": "/", "username": username, "password": username}
    )
    assert answer.status_code == 303


@pytest.fixture
def world(customer: Principal, admin: Principal) -> World:
    return World([customer, admin], ScriptedReviewer(APPROVE_READ))


def test_without_a_model_the_chat_says_how_to_connect_one(
    world: World, customer: Principal
) -> None:
    with client_for(world, model=False) as client:
        sign_in(client, customer.id)
        page = client.get("/chat").text
    assert "No model is connected" in page
    assert "AGENT_ZERO_LLM_PROVIDER" in page
    assert re.search(r'<textarea id="chat-input"[^>]*disabled', page)


def test_outside_the_sandbox_the_session_cookie_is_secure(
    world: World, customer: Principal
) -> None:
    with client_for(world) as client:
        page = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        answer = client.post(
            "/login",
            data={"csrf": csrf, "next": "/", "username": customer.id, "password": customer.id},
        )
    cookie = next(h for h in answer.headers.get_list("set-cookie") if "agent_zero_session" in h)
    assert "Secure" in cookie


def test_the_request_log_pages_through_many_requests(
    world: World, customer: Principal, admin: Principal
) -> None:
    for number in range(30):
        world.ask(customer.id, reason=f"Balance check number {number}.")
    with client_for(world) as client:
        sign_in(client, admin.id)
        first = client.get("/admin/log").text
        second = client.get("/admin/log", params={"page": 2}).text
    assert first.count("/admin/log/req-") == 25
    assert "Page 1 of 2" in first
    assert second.count("/admin/log/req-") == 5
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second


def test_a_disabled_person_is_signed_out_at_the_next_click(
    world: World, customer: Principal
) -> None:
    with client_for(world) as client:
        sign_in(client, customer.id)
        assert client.get("/grants").status_code == 200
        world.broker.directory.put(customer.model_copy(update={"enabled": False}))
        answer = client.get("/grants")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/grants")


def test_the_dashboard_counts_outcomes_and_the_median_decision_time(
    world: World, customer: Principal, admin: Principal
) -> None:
    for _ in range(3):
        world.ask(customer.id)
    with client_for(world) as client:
        sign_in(client, admin.id)
        page = client.get("/dashboard").text
    assert '<span class="stat-value" id="stat-total">3</span>' in page
    assert ">alice<" in page  # the top-principals chart names the requester


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_access_requests_from_the_web_share_the_apis_rate_limit(
    world: World, customer: Principal
) -> None:
    with client_for(world, limiter=RateLimiter(per_minute=1, burst=2)) as client:
        sign_in(client, customer.id)
        csrf = csrf_of(client.get("/access").text)
        answers = [
            client.post("/access", data={"csrf": csrf, "reason": f"Balance check {n}."})
            for n in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "wait a little" in answers[2].text
    assert len(world.requests.list()) == 2  # the refused one never reached the broker


def test_password_guessing_is_slowed_per_username(world: World, customer: Principal) -> None:
    with client_for(world, limiter=RateLimiter(per_minute=1, burst=3)) as client:
        statuses = []
        for _ in range(4):
            csrf = csrf_of(client.get("/login").text)
            statuses.append(
                client.post(
                    "/login",
                    data={"csrf": csrf, "next": "/", "username": customer.id, "password": "x"},
                ).status_code
            )
    assert statuses == [401, 401, 401, 429]


def test_a_malformed_form_is_a_400_not_a_crash(world: World, customer: Principal) -> None:
    with client_for(world) as client:
        sign_in(client, customer.id)
        answer = client.post(
            "/access",
            content=b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    assert answer.status_code == 400


def test_editing_a_principal_starts_from_what_it_is_now(
    world: World, customer: Principal, admin: Principal
) -> None:
    with client_for(world) as client:
        sign_in(client, admin.id)
        page = client.get("/admin/principals", params={"edit": customer.id}).text
        assert client.get("/admin/principals", params={"edit": "nobody"}).status_code == 404
    form = page.split('id="principal-form"')[1].split("</form>")[0]
    assert f'value="{customer.id}" readonly' in form
    assert 'value="c-1001"' in form  # the customer key, so saving keeps it
    checked = re.findall(r'value="([^"]+)" checked', form)
    assert checked == sorted(customer.groups)


def test_the_log_pager_keeps_odd_principal_ids_intact(world: World, admin: Principal) -> None:
    plus = Principal(id="dev+ops", kind=PrincipalKind.HUMAN, display_name="Dev Ops")
    world.broker.directory.put(plus)
    for number in range(30):
        world.ask(plus.id, reason=f"Deploy check {number}.")  # denied: no policy, but logged
    with client_for(world) as client:
        sign_in(client, admin.id)
        first = client.get("/admin/log", params={"principal": "dev+ops"}).text
        older = re.search(r'href="\?([^"]+)" rel="next"', first).group(1)  # type: ignore[union-attr]
        second = client.get(f"/admin/log?{html.unescape(older)}").text
    assert "principal=dev%2Bops" in html.unescape(older)
    assert "Page 2 of 2" in second
