"""The web app over HTTP against the sandbox: sign-in, CSRF, group rules, and each page's
flow with the broker behind it (the reviewer answers from the scripted model server)."""

from __future__ import annotations

import base64
import html
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from agent_zero.web.session import SESSION_COOKIE, SessionCodec, WebSession
from e2e.test_agent_socket import second_admin_token
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import Structured

CUSTOMER, ANALYST, ADMIN = "alice.moreau", "tomas.lindqvist", "priya.raman"
EVERYONE = ["/chat", "/access", "/grants"]
APPROVERS = ["/approvals"]
ADMINS = ["/admin/principals", "/admin/policies", "/admin/catalog", "/admin/log", "/dashboard"]


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> Iterator[None]:
    stack.model.reset()
    yield
    while _OPEN:
        _OPEN.pop().close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def browser(stack: Stack) -> httpx.Client:
    """A cookie-keeping client, closed after the test."""
    client = httpx.Client(base_url=stack.api.url, follow_redirects=False, timeout=30)
    _OPEN.append(client)
    return client


def signed_in(stack: Stack, username: str) -> httpx.Client:
    client = browser(stack)
    token = csrf_of(client.get("/login").text)
    password = stack.record.user(username).password
    answer = client.post(
        "/login", data={"csrf": token, "next": "/", "username": username, "password": password}
    )
    assert answer.status_code == 303, answer.text
    return client


def post_form(client: httpx.Client, page: str, action: str, **fields: Any) -> httpx.Response:
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf": token, **fields})


def escalate() -> Structured:
    return Structured(
        {
            "decision": "escalate",
            "grants": [{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
            "duration_seconds": 900,
            "risk": "medium",
            "rationale": "A person should look at this.",
        }
    )


# --- sign-in and sessions -------------------------------------------------------------------


def test_sign_in_sets_a_sealed_httponly_strict_cookie(stack: Stack) -> None:
    client = browser(stack)
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={
            "csrf": token,
            "next": "/grants",
            "username": CUSTOMER,
            "password": stack.record.user(CUSTOMER).password,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/grants"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "." not in value  # no JWT in sight: base64url of a sealed box has no dots
    key = base64.b64decode((stack.data_dir / "web-session.key").read_text())
    opened = SessionCodec(key).open(value)
    assert opened is not None
    assert opened.username == CUSTOMER
    assert client.get("/grants").status_code == 200


def test_a_wrong_password_is_refused_without_a_session(stack: Stack) -> None:
    client = browser(stack)
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"csrf": token, "next": "/", "username": CUSTOMER, "password": "nope"}
    )
    assert answer.status_code == 401
    assert "The username or password is wrong" in answer.text
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/chat").status_code == 303


def test_sign_in_needs_the_forms_csrf_token(stack: Stack) -> None:
    client = browser(stack)
    client.get("/login")
    password = stack.record.user(CUSTOMER).password
    answer = client.post(
        "/login", data={"csrf": "forged", "next": "/", "username": CUSTOMER, "password": password}
    )
    assert answer.status_code == 400
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_after_sign_in_the_user_stays_on_this_site(stack: Stack, target: str) -> None:
    client = browser(stack)
    token = csrf_of(client.get("/login").text)
    password = stack.record.user(CUSTOMER).password
    answer = client.post(
        "/login", data={"csrf": token, "next": target, "username": CUSTOMER, "password": password}
    )
    assert answer.headers["location"] == "/"


def test_pages_need_a_session_and_an_ended_session_says_so(stack: Stack) -> None:
    client = browser(stack)
    assert client.get("/chat").headers["location"] == "/login?next=/chat"
    # A session whose token has expired: sealed with the sandbox's own key, so only the
    # token's expiry can end it.
    key = base64.b64decode((stack.data_dir / "web-session.key").read_text())
    stale = SessionCodec(key).seal(
        WebSession.start(
            username=CUSTOMER,
            access_token=expired_token(stack),
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
        )
    )
    client.cookies.set(SESSION_COOKIE, stale)
    answer = client.get("/chat")
    assert answer.headers["location"] == "/login?next=/chat&expired=1"
    assert "Your session ended" in client.get(answer.headers["location"]).text


def expired_token(stack: Stack) -> str:
    """A real access token of the pool whose signature no longer matches (altered claims)."""
    token = stack.sign_in(CUSTOMER)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{altered}.{signature}"


def test_sign_out_ends_the_session(stack: Stack) -> None:
    client = signed_in(stack, CUSTOMER)
    answer = post_form(client, "/chat", "/logout")
    assert answer.status_code == 303
    assert client.get("/chat").status_code == 303


# --- group rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "allowed", "forbidden"),
    [
        (
            CUSTOMER,
            ["/chat", "/access", "/grants"],
            [
                "/approvals",
                "/admin/principals",
                "/admin/policies",
                "/admin/catalog",
                "/admin/log",
                "/dashboard",
            ],
        ),
        (
            ANALYST,
            ["/chat", "/access", "/grants"],
            ["/approvals", "/admin/principals", "/admin/log", "/dashboard"],
        ),
        (
            ADMIN,
            [
                "/chat",
                "/access",
                "/grants",
                "/approvals",
                "/admin/principals",
                "/admin/policies",
                "/admin/catalog",
                "/admin/log",
                "/dashboard",
            ],
            [],
        ),
    ],
)
def test_each_group_sees_its_pages_and_nothing_else(
    stack: Stack, username: str, allowed: list[str], forbidden: list[str]
) -> None:
    client = signed_in(stack, username)
    for path in allowed:
        assert client.get(path).status_code == 200, path
    for path in forbidden:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "not available to your account" in answer.text
    nav = client.get("/chat").text
    assert ('href="/approvals"' in nav) == ("/approvals" in allowed)
    assert ('href="/dashboard"' in nav) == ("/dashboard" in allowed)


def test_pages_carry_a_strict_content_security_policy(stack: Stack) -> None:
    answer = signed_in(stack, CUSTOMER).get("/chat")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text  # scripts only from /static


# --- forms and CSRF -----------------------------------------------------------------------


def test_a_post_without_the_sessions_csrf_token_changes_nothing(stack: Stack) -> None:
    client = signed_in(stack, CUSTOMER)
    before = len(client.get("/grants").text)
    answer = client.post("/access", data={"csrf": "guess", "reason": "Check my balance."})
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    cross_site = client.post(
        "/access",
        data={"csrf": csrf_of(client.get("/access").text), "reason": "Check my balance."},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert len(client.get("/grants").text) == before
    assert stack.model.chat_requests == []  # the reviewer was never asked


# --- request access ------------------------------------------------------------------------


def test_a_customer_requests_access_and_gets_working_scoped_credentials(stack: Stack) -> None:
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    client = signed_in(stack, CUSTOMER)
    answer = post_form(client, "/access", "/access", reason="Check my balances before rent.")
    assert answer.status_code == 200
    assert "Access granted" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    exports = dict(re.findall(r"export (AWS_[A-Z_]+)=(\S+)", answer.text))
    assert exports["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_REGION"],
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=exports["AWS_SESSION_TOKEN"],
    )
    table = stack.record.tables["account-balances"]
    own = dynamodb.query(
        TableName=table,
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": "c-1001"}},
    )
    assert own["Items"]
    with pytest.raises(Exception, match="AccessDenied"):
        dynamodb.query(
            TableName=table,
            KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": {"S": "c-1002"}},
        )
    grants = client.get("/grants").text
    request_id = re.search(r"req-[A-Za-z0-9-]+", answer.text).group(0)  # type: ignore[union-attr]
    assert request_id in grants.split('id="past-title"')[0]  # listed as active
    revoked = post_form(client, "/grants", f"/grants/{request_id}/revoke")
    assert revoked.status_code == 303
    assert request_id in client.get("/grants").text.split('id="past-title"')[1]  # now past


def test_a_denied_request_says_why(stack: Stack) -> None:
    stack.model.enqueue(
        Structured(
            {
                "decision": "deny",
                "grants": [],
                "duration_seconds": 900,
                "risk": "high",
                "rationale": "Other customers' data is not yours to see.",
            }
        )
    )
    client = signed_in(stack, CUSTOMER)
    answer = post_form(client, "/access", "/access", reason="Show me Ben's transactions.")
    assert "Not granted" in answer.text
    assert "Other customers&#39; data is not yours to see." in answer.text
    assert "AWS_ACCESS_KEY_ID" not in answer.text


def test_a_pending_request_is_approved_by_an_admin_and_collected_by_the_customer(
    stack: Stack,
) -> None:
    stack.model.enqueue(escalate())
    customer = signed_in(stack, CUSTOMER)
    pending = post_form(customer, "/access", "/access", reason="Balances for a mortgage form.")
    assert "Waiting for a person" in pending.text
    request_id = re.search(r"req-[A-Za-z0-9-]+", pending.text).group(0)  # type: ignore[union-attr]
    status = customer.get(f"/access/{request_id}/status").json()
    assert status == {"status": "pending", "collectable": False}

    admin = signed_in(stack, ADMIN)
    assert request_id in admin.get("/approvals").text
    page = admin.get(f"/approvals/{request_id}").text
    assert "Balances for a mortgage form." in page
    assert "A person should look at this." in page  # the reviewer's proposal
    approved = admin.post(
        f"/approvals/{request_id}/approve",
        data={
            "csrf": csrf_of(page),
            "grant": "account-balances|dynamodb:Query",
            "duration_seconds": "900",
        },
    )
    assert approved.status_code == 303
    assert request_id not in admin.get("/approvals").text

    assert customer.get(f"/access/{request_id}/status").json() == {
        "status": "approved",
        "collectable": True,
    }
    collected = post_form(customer, f"/access/{request_id}", f"/access/{request_id}/collect")
    assert "Access granted" in collected.text
    assert "AWS_SESSION_TOKEN" in collected.text
    again = post_form(customer, f"/access/{request_id}", f"/access/{request_id}/collect")
    assert again.status_code == 409  # once only
    assert "AWS_SESSION_TOKEN" not in again.text


def test_nobody_sees_someone_elses_request(stack: Stack) -> None:
    stack.model.enqueue(escalate())
    alice = signed_in(stack, CUSTOMER)
    pending = post_form(alice, "/access", "/access", reason="Balances please.")
    request_id = re.search(r"req-[A-Za-z0-9-]+", pending.text).group(0)  # type: ignore[union-attr]
    ben = signed_in(stack, "ben.okafor")
    assert ben.get(f"/access/{request_id}").status_code == 404
    assert ben.get(f"/access/{request_id}/status").status_code == 404
    assert post_form(ben, "/grants", f"/access/{request_id}/collect").status_code == 404


# --- admin ---------------------------------------------------------------------------------


def test_an_admin_edits_a_policy_after_another_admin_approves_and_sees_the_new_version(
    stack: Stack,
) -> None:
    second = second_admin_token(stack)
    admin = signed_in(stack, ADMIN)
    page = admin.get("/admin/policies/ben.okafor").text
    assert "Nobody holds standing write access" in page
    before = int(re.search(r'name="expected_version" value="(\d+)"', page).group(1))  # type: ignore[union-attr]

    # Without a grant, saving is refused.
    refused = admin.post(
        "/admin/policies/ben.okafor",
        data={"csrf": csrf_of(page), "text": "Anything.", "expected_version": str(before)},
    )
    assert refused.status_code == 403

    stack.model.enqueue(approve("policy-store", "broker:WritePolicy"))
    asked = post_form(
        admin,
        "/admin/policies/ben.okafor",
        "/admin/grants",
        resource="policy-store",
        reason="Ben asked to stop seeing support tickets.",
    )
    assert "Waiting for a person" in asked.text
    request_id = re.search(r"req-[A-Za-z0-9-]+", asked.text).group(0)  # type: ignore[union-attr]
    approved = httpx.post(
        f"{stack.api.url}/v1/access-requests/{request_id}/approve",
        json={
            "grants": [{"resource_key": "policy-store", "actions": ["broker:WritePolicy"]}],
            "duration_seconds": 900,
        },
        headers={"Authorization": f"Bearer {second}"},
    )
    assert approved.status_code == 200

    page = admin.get("/admin/policies/ben.okafor").text
    assert "You hold an approved grant" in page
    new_text = "Ben may read his own balances and transactions; nothing else."
    saved = admin.post(
        "/admin/policies/ben.okafor",
        data={"csrf": csrf_of(page), "text": new_text, "expected_version": str(before)},
    )
    assert saved.status_code == 303
    page = admin.get("/admin/policies/ben.okafor").text
    assert f"now version {before + 1}" in page
    assert new_text in page
    assert f"compare={before}..{before + 1}" in page
    diff = admin.get(f"/admin/policies/ben.okafor?compare={before}..{before + 1}").text
    assert 'class="diff-added">+ Ben may read his own balances' in diff

    stale = admin.post(
        "/admin/policies/ben.okafor",
        data={"csrf": csrf_of(page), "text": "Late edit.", "expected_version": str(before)},
    )
    assert stale.status_code == 409  # a stale form never overwrites the newer version


def test_try_this_policy_runs_the_reviewer_on_the_draft_and_saves_nothing(stack: Stack) -> None:
    admin = signed_in(stack, ADMIN)
    page = admin.get("/admin/policies/alice.moreau").text
    version = re.search(r'name="expected_version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    draft = "Alice may read her balances, nothing else."
    tried = admin.post(
        "/admin/policies/alice.moreau/try",
        data={"csrf": csrf_of(page), "text": draft, "sample_reason": "Check my balance."},
    )
    assert tried.status_code == 200
    assert "Would be approved" in tried.text
    assert "dynamodb:LeadingKeys" in tried.text  # the session policy it would mint
    assert draft in json.dumps(stack.model.chat_requests[-1].body)  # the reviewer saw the draft
    after = admin.get("/admin/policies/alice.moreau").text
    assert f'name="expected_version" value="{version}"' in after  # nothing saved


def test_the_request_log_filters_pages_and_explains_a_session(stack: Stack) -> None:
    stack.model.enqueue(approve("transactions", "dynamodb:Query"))
    customer = signed_in(stack, CUSTOMER)
    granted = post_form(customer, "/access", "/access", reason="My card transactions, please.")
    request_id = re.search(r"req-[A-Za-z0-9-]+", granted.text).group(0)  # type: ignore[union-attr]

    admin = signed_in(stack, ADMIN)
    log = admin.get("/admin/log", params={"principal": CUSTOMER, "state": "approved"}).text
    assert request_id in log
    rows = log.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == rows.count(CUSTOMER)  # only the chosen principal's requests
    other = admin.get("/admin/log", params={"principal": "ben.okafor"}).text
    assert request_id not in other
    assert admin.get("/admin/log", params={"state": "nonsense"}).status_code == 400

    detail = html.unescape(admin.get(f"/admin/log/{request_id}").text)
    assert "The audit log's hash chain verifies." in detail
    assert "it matches the hash recorded when it was minted" in detail
    assert '"dynamodb:LeadingKeys"' in detail
    allows = detail.split('id="allows-table"')[1].split("</table>")[0]
    row = re.search(
        r"<code>transactions</code></td><td><code>dynamodb:Query</code></td>\s*"
        r"<td><span class=\"badge badge-approved\">allowed</span></td>\s*"
        r"<td><span class=\"badge badge-denied\">denied</span>",
        allows,
    )
    assert row, "own rows allowed, other customers' rows denied"
    assert "<td>issued</td>" in detail  # the audit trail of this request


def test_the_dashboard_draws_its_charts(stack: Stack) -> None:
    admin = signed_in(stack, ADMIN)
    page = admin.get("/dashboard").text
    assert page.count("<svg") == 3
    assert "Requests per day by outcome" in page
    assert "Top principals by requests" in page
    assert 'id="stat-median"' in page


def test_staff_get_a_console_sign_in_button(stack: Stack) -> None:
    stack.model.enqueue(approve("operations-metrics", "dynamodb:GetItem"))
    analyst = signed_in(stack, ANALYST)
    form = analyst.get("/access").text
    assert 'name="console"' in form  # staff are offered the console
    answer = analyst.post(
        "/access",
        data={"csrf": csrf_of(form), "reason": "Weekly fraud metrics review.", "console": "on"},
    )
    link = re.search(r'href="([^"]+)"[^>]*id="console-link"', answer.text)
    assert link, "an approved staff request with the box ticked shows the console button"
    console = httpx.get(html.unescape(link.group(1)), follow_redirects=True, timeout=30)
    assert console.status_code == 200
    assert "Sandbox console" in console.text
    customer_form = signed_in(stack, CUSTOMER).get("/access").text
    assert 'name="console"' not in customer_form  # customers are not


def test_an_approver_denies_with_a_reason_the_requester_reads(stack: Stack) -> None:
    stack.model.enqueue(escalate())
    customer = signed_in(stack, CUSTOMER)
    pending = post_form(customer, "/access", "/access", reason="Balances for my accountant.")
    request_id = re.search(r"req-[A-Za-z0-9-]+", pending.text).group(0)  # type: ignore[union-attr]
    admin = signed_in(stack, ADMIN)
    empty_reason = post_form(
        admin, f"/approvals/{request_id}", f"/approvals/{request_id}/deny", reason=" "
    )
    assert empty_reason.status_code == 400  # a denial always says why
    denied = post_form(
        admin,
        f"/approvals/{request_id}",
        f"/approvals/{request_id}/deny",
        reason="Share a statement with your accountant instead.",
    )
    assert denied.status_code == 303
    status = customer.get(f"/access/{request_id}").text
    assert "Share a statement with your accountant instead." in status
    assert customer.get(f"/access/{request_id}/status").json()["status"] == "denied"


def test_an_admin_creates_changes_and_disables_a_principal_under_a_grant(stack: Stack) -> None:
    second = second_admin_token(stack)
    admin = signed_in(stack, ADMIN)
    fields = {
        "id": "nina.berg",
        "display_name": "Nina Berg",
        "kind": "human",
        "groups": "employees",
        "enabled": "on",
    }
    refused = post_form(admin, "/admin/principals", "/admin/principals", **fields)
    assert refused.status_code == 403  # no standing write access
    stack.model.enqueue(approve("principal-directory", "broker:WritePrincipal"))
    asked = post_form(
        admin,
        "/admin/principals",
        "/admin/grants",
        resource="principal-directory",
        reason="Onboarding Nina, a new analyst.",
    )
    request_id = re.search(r"req-[A-Za-z0-9-]+", asked.text).group(0)  # type: ignore[union-attr]
    grant = {"resource_key": "principal-directory", "actions": ["broker:WritePrincipal"]}
    assert (
        httpx.post(
            f"{stack.api.url}/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers={"Authorization": f"Bearer {second}"},
        ).status_code
        == 200
    )
    assert post_form(admin, "/admin/principals", "/admin/principals", **fields).status_code == 303
    listing = admin.get("/admin/principals").text
    row = listing.split("<code>nina.berg</code>")[1].split("</tr>")[0]
    assert "Nina Berg" in row
    assert "employees" in row
    assert "enabled" in row
    disabled = {**fields}
    del disabled["enabled"]
    assert post_form(admin, "/admin/principals", "/admin/principals", **disabled).status_code == 303
    row = admin.get("/admin/principals").text.split("<code>nina.berg</code>")[1].split("</tr>")[0]
    assert "disabled" in row
    bad = post_form(admin, "/admin/principals", "/admin/principals", id="../x", kind="human")
    assert bad.status_code == 400


def test_only_the_apps_own_host_names_are_answered(stack: Stack) -> None:
    # DNS rebinding: a page on attacker.example resolves its name to 127.0.0.1 and calls
    # the sandbox as "same-origin"; its requests carry its own name in Host.
    port = stack.api.url.rsplit(":", 1)[1]
    rebound = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
    answer = httpx.get(f"{stack.api.url}/login", headers=rebound)
    assert answer.status_code == 400
    assert "priya.raman" not in answer.text  # the demo logins stay unseen
    with (
        pytest.raises(InvalidStatus) as refused,
        ws_connect(
            f"ws://attacker.example:{port}/v1/agent/ws",  # the name the browser used…
            sock=socket.create_connection(("127.0.0.1", int(port))),  # …rebound to loopback
            additional_headers={"Origin": rebound["Origin"]},
            subprotocols=["bearer", stack.sign_in(CUSTOMER)],  # type: ignore[list-item]
        ),
    ):
        pass
    assert refused.value.response.status_code == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert httpx.get(f"{stack.api.url}/login", headers={"Host": host}).status_code == 200


def test_a_signed_out_sessions_cookie_stops_working_everywhere(stack: Stack) -> None:
    client = signed_in(stack, CUSTOMER)
    copied = client.cookies[SESSION_COOKIE]
    assert post_form(client, "/chat", "/logout").status_code == 303
    thief = browser(stack)
    thief.cookies.set(SESSION_COOKIE, copied)
    assert thief.get("/grants").status_code == 303  # back to sign-in
    assert thief.post("/logout").status_code == 303  # a dead session just signs out


def test_a_signed_out_sessions_token_stops_working_at_the_broker_api(stack: Stack) -> None:
    client = signed_in(stack, CUSTOMER)
    key = base64.b64decode((stack.data_dir / "web-session.key").read_text())
    session = SessionCodec(key).open(client.cookies[SESSION_COOKIE])
    assert session is not None
    bearer = {"Authorization": f"Bearer {session.access_token.get_secret_value()}"}
    assert httpx.get(f"{stack.api.url}/v1/me", headers=bearer).status_code == 200
    assert post_form(client, "/chat", "/logout").status_code == 303
    answer = httpx.get(f"{stack.api.url}/v1/me", headers=bearer)
    assert answer.status_code == 401  # as the AWS broker API answers after a sign-out
    assert answer.json()["message"] == "the session of this access token was signed out"
