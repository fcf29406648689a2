"""The web app in a real Chromium against the running sandbox: each demo role signs in, the
chat streams an answer, a customer gets access, an approval goes from pending to approved,
an admin edits a policy, forbidden pages answer 403, the dashboard renders. Every page is
screenshotted under build/screenshots and checked with axe-core (WCAG 2.1 A/AA)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from browser.conftest import check_accessibility, screenshot, tab_order
from e2e.test_agent_socket import second_admin_token
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import HttpError, Structured, Text, ToolCall, ToolCalls

CUSTOMER, ANALYST, ADMIN = "alice.moreau", "tomas.lindqvist", "priya.raman"


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


def sign_in(page: Page, stack: Stack, username: str, next_path: str = "/") -> None:
    page.goto(f"{stack.api.url}/login?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(stack.record.user(username).password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def accessible(page: Page, name: str) -> None:
    """Screenshot the page and fail on any WCAG A/AA violation axe-core finds."""
    screenshot(page, name)
    violations = check_accessibility(page, context_name=name)
    assert not violations, str(violations)


def test_the_login_page_is_accessible_and_in_a_sensible_focus_order(
    page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.api.url}/login")
    accessible(page, "login")
    # The username field has focus on arrival; Tab then walks the form top to bottom.
    assert page.evaluate("document.activeElement.id") == "username"
    order = tab_order(page, 3)
    assert "password" in order[0]
    assert "Sign in" in order[1]
    assert "Demo accounts" in order[2]


def test_a_wrong_password_is_explained(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.api.url}/login")
    page.get_by_label("Username").fill(CUSTOMER)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The username or password is wrong")
    accessible(page, "login-error")


@pytest.mark.parametrize(
    ("username", "landing", "nav"),
    [
        (CUSTOMER, "/chat", ["Chat", "Request access", "My grants"]),
        (ANALYST, "/chat", ["Chat", "Request access", "My grants"]),
        (ADMIN, "/dashboard", ["Chat", "Approvals", "Admin", "Dashboard"]),
    ],
)
def test_each_demo_role_signs_in_and_sees_its_menu(
    page: Page, stack: Stack, username: str, landing: str, nav: list[str]
) -> None:
    sign_in(page, stack, username)
    expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
    menu = page.get_by_role("navigation", name="Main")
    for name in nav:
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    if username != ADMIN:
        expect(menu.get_by_role("link", name="Admin")).to_have_count(0)
        expect(menu.get_by_role("link", name="Approvals")).to_have_count(0)
    accessible(page, f"home-{username}")


def test_forbidden_pages_answer_403(page: Page, stack: Stack) -> None:
    sign_in(page, stack, CUSTOMER)
    for path in ("/dashboard", "/admin/principals", "/approvals"):
        answer = page.goto(f"{stack.api.url}{path}")
        assert answer is not None
        assert answer.status == 403, path
        expect(page.get_by_role("heading", name="Not for you")).to_be_visible()
    accessible(page, "forbidden")


def test_the_chat_streams_an_answer_with_tool_activity(page: Page, stack: Stack) -> None:
    stack.model.enqueue(
        ToolCalls([ToolCall("request_aws_access", {"reason": "The customer asks for balances."})]),
        approve("account-balances", "dynamodb:Query"),
        ToolCalls(
            [
                ToolCall(
                    "run_dynamodb_operation", {"resource": "account-balances", "operation": "query"}
                )
            ]
        ),
        Text("You have two accounts; your current account holds the larger balance."),
    )
    sign_in(page, stack, CUSTOMER, "/chat")
    page.get_by_label("Message").fill("What is my balance?")
    page.get_by_role("button", name="Send").click()
    transcript = page.get_by_role("list", name="Conversation")
    expect(transcript).to_contain_text("What is my balance?")
    expect(transcript).to_contain_text("Asking for access")
    expect(transcript).to_contain_text("Looking up your records")
    expect(transcript).to_contain_text("your current account holds the larger balance")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    assert "ASIA" not in transcript.inner_text()  # no credentials on screen
    accessible(page, "chat")


def test_a_chat_error_offers_a_retry(page: Page, stack: Stack) -> None:
    # The model fails (the client retries 500s, so three of them), then answers the retry.
    stack.model.enqueue(HttpError(500), HttpError(500), HttpError(500))
    sign_in(page, stack, CUSTOMER, "/chat")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_visible(timeout=15_000)
    expect(page.get_by_role("list", name="Conversation")).to_contain_text("turn_failed")
    stack.model.enqueue(Text("Hello! How can I help?"))
    retry.click()
    expect(page.get_by_role("list", name="Conversation")).to_contain_text("How can I help?")
    accessible(page, "chat-retry")


def test_a_customer_requests_and_receives_access(page: Page, stack: Stack) -> None:
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    sign_in(page, stack, CUSTOMER, "/access")
    accessible(page, "request-access")
    page.get_by_label("What do you need to do, and why?").fill("Check my balances before rent.")
    page.get_by_role("button", name="Ask for access").click()
    expect(page.get_by_role("heading", name=re.compile("Access granted"))).to_be_visible()
    expect(page.locator("#exports")).to_contain_text("export AWS_ACCESS_KEY_ID=ASIA")
    expect(page.locator(".countdown").first).to_contain_text("min")
    accessible(page, "access-granted")
    request_id = re.search(r"req-[A-Za-z0-9-]+", page.content()).group(0)  # type: ignore[union-attr]
    page.get_by_role("link", name="My grants").click()
    revoke = page.get_by_role("button", name=f"Revoke {request_id}")
    expect(revoke).to_have_count(1)
    accessible(page, "my-grants")
    revoke.click()
    expect(page.get_by_role("heading", name="My grants")).to_be_visible()
    expect(revoke).to_have_count(0)  # no longer active
    expect(page.get_by_text(request_id)).to_be_visible()  # listed under past


def test_an_approval_goes_from_pending_to_approved(
    page: Page, stack: Stack, browser: object
) -> None:
    stack.model.enqueue(
        Structured(
            {
                "decision": "escalate",
                "grants": [{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
                "duration_seconds": 900,
                "risk": "medium",
                "rationale": "A person should look at this.",
            }
        )
    )
    sign_in(page, stack, CUSTOMER, "/access")
    page.get_by_label("What do you need to do, and why?").fill("Balances for a mortgage form.")
    page.get_by_role("button", name="Ask for access").click()
    expect(page.get_by_role("heading", name=re.compile("Waiting for a person"))).to_be_visible()
    accessible(page, "access-pending")
    request_id = re.search(r"req-[A-Za-z0-9-]+", page.content()).group(0)  # type: ignore[union-attr]

    approver = page.context.browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[union-attr]
    try:
        admin = approver.new_page()
        sign_in(admin, stack, ADMIN, "/approvals")
        expect(admin.get_by_role("link", name=request_id)).to_be_visible()
        accessible(admin, "approvals")
        admin.get_by_role("link", name=request_id).click()
        expect(admin.get_by_text("A person should look at this.")).to_be_visible()
        accessible(admin, "approval-detail")
        admin.get_by_role("button", name="Approve").click()
        expect(admin.get_by_text("Nothing is waiting.")).to_be_visible()
    finally:
        approver.close()

    # The customer's page notices by itself (it polls) and offers the credentials.
    expect(page.get_by_role("button", name="Get my credentials")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Get my credentials").click()
    expect(page.get_by_role("heading", name=re.compile("Access granted"))).to_be_visible()


def test_an_admin_edits_a_policy_and_sees_the_new_version(page: Page, stack: Stack) -> None:
    second = second_admin_token(stack)
    sign_in(page, stack, ADMIN, "/admin/policies/ben.okafor")
    accessible(page, "policy-before")
    stack.model.enqueue(approve("policy-store", "broker:WritePolicy"))
    page.get_by_label("Why you need to make changes").fill("Ben asked for narrower access.")
    page.get_by_role("button", name="Ask for write access").click()
    request_id = re.search(r"req-[A-Za-z0-9-]+", page.content()).group(0)  # type: ignore[union-attr]
    grant = {"resource_key": "policy-store", "actions": ["broker:WritePolicy"]}
    approved = httpx.post(
        f"{stack.api.url}/v1/access-requests/{request_id}/approve",
        json={"grants": [grant], "duration_seconds": 900},
        headers={"Authorization": f"Bearer {second}"},
    )
    assert approved.status_code == 200

    page.goto(f"{stack.api.url}/admin/policies/ben.okafor")
    expect(page.get_by_text("You hold an approved grant")).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile(r"Edit \(now version \d+\)"))
    version = int(re.search(r"\d+", heading.inner_text()).group(0))  # type: ignore[union-attr]
    new_text = "Ben may read his own balances and transactions; nothing else."
    page.get_by_label("Policy text").fill(new_text)
    page.get_by_role("button", name="Save a new version").click()
    expect(page.get_by_role("heading", name=f"Edit (now version {version + 1})")).to_be_visible()
    page.get_by_role("link", name=f"changes in {version + 1}").click()
    expect(page.locator("#policy-diff")).to_contain_text("+ " + new_text)
    accessible(page, "policy-after")


def test_the_admin_pages_and_dashboard_render(page: Page, stack: Stack) -> None:
    sign_in(page, stack, ADMIN, "/dashboard")
    expect(page.locator("svg[role=img]")).to_have_count(3)
    expect(page.get_by_text("median decision time")).to_be_visible()
    accessible(page, "dashboard")
    for path, heading in [
        ("/admin/principals", "Principals"),
        ("/admin/policies", "Policies"),
        ("/admin/catalog", "Catalog"),
        ("/admin/log", "Request log"),
    ]:
        page.goto(f"{stack.api.url}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        accessible(page, path.strip("/").replace("/", "-"))
    first = page.locator("table.data tbody a").first
    if first.count():
        first.click()
        expect(page.locator("#chain-check")).to_contain_text("hash chain verifies")
        accessible(page, "request-detail")
