"""Who works at and banks with Fernhill Bank: the Cognito users and the chat agent."""

from __future__ import annotations

from agent_zero.sandbox.demo_bank.models import (
    CUSTOMER_KEY_ATTRIBUTE,
    CognitoGroupSpec,
    DemoAgent,
    DemoUser,
    DemoUserPool,
    RoleLabel,
)

BANK_NAME = "Fernhill Bank"
STAFF_DOMAIN = "fernhill-bank.example"

ADMIN_USERNAME = "priya.raman"
ANALYST_USERNAME = "tomas.lindqvist"
SUPPORT_ENGINEER_USERNAME = "kwame.mensah"
# The two customers who can sign in; more customers exist only as rows.
ALICE_KEY = "c-1001"
BEN_KEY = "c-1002"
SUPPORT_ASSISTANT_ID = "support-assistant"


def demo_user_pool() -> DemoUserPool:
    """The one user pool for staff and customers, its groups and its custom attribute."""
    return DemoUserPool(
        name="fernhill-bank-users",
        client_name="agent-zero-web",
        groups=(
            CognitoGroupSpec(
                name="admin",
                description="Identity and access administrators of Agent Zero.",
                precedence=1,
            ),
            CognitoGroupSpec(
                name="employee",
                description="Fernhill Bank staff: analysts, support engineers, administrators.",
                precedence=10,
            ),
            CognitoGroupSpec(
                name="customer",
                description="Retail customers using online banking and the support chat.",
                precedence=20,
            ),
        ),
        custom_attributes=(CUSTOMER_KEY_ATTRIBUTE,),
    )


def demo_users() -> tuple[DemoUser, ...]:
    """Every person who signs in to the sandbox, staff first."""
    return (
        DemoUser(
            username=ADMIN_USERNAME,
            display_name="Priya Raman",
            email=f"priya.raman@{STAFF_DOMAIN}",
            role_label=RoleLabel.ADMIN,
            cognito_groups=frozenset({"admin", "employee"}),
        ),
        DemoUser(
            username=ANALYST_USERNAME,
            display_name="Tomas Lindqvist",
            email=f"tomas.lindqvist@{STAFF_DOMAIN}",
            role_label=RoleLabel.ANALYST,
            cognito_groups=frozenset({"employee"}),
        ),
        DemoUser(
            username=SUPPORT_ENGINEER_USERNAME,
            display_name="Kwame Mensah",
            email=f"kwame.mensah@{STAFF_DOMAIN}",
            role_label=RoleLabel.SUPPORT_ENGINEER,
            cognito_groups=frozenset({"employee"}),
        ),
        DemoUser(
            username="alice.moreau",
            display_name="Alice Moreau",
            email="alice.moreau@example.com",
            role_label=RoleLabel.CUSTOMER,
            cognito_groups=frozenset({"customer"}),
            customer_key=ALICE_KEY,
        ),
        DemoUser(
            username="ben.okafor",
            display_name="Ben Okafor",
            email="ben.okafor@example.net",
            role_label=RoleLabel.CUSTOMER,
            cognito_groups=frozenset({"customer"}),
            customer_key=BEN_KEY,
        ),
    )


def demo_agent() -> DemoAgent:
    """The support chat agent; it acts for whichever customer it is chatting with."""
    return DemoAgent(
        id=SUPPORT_ASSISTANT_ID,
        display_name=f"{BANK_NAME} support assistant",
        iam_user_name=SUPPORT_ASSISTANT_ID,
    )
