"""What the broker may grant at Fernhill Bank: one catalog entry per grantable resource.

Descriptions are written for the reviewer: what the resource holds, who needs
it and for what, and what makes it sensitive. The structured fields (kind,
sensitivity, allowed actions, row scope, target role) are what the guardrails
and the session-policy compiler read.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_zero.domain.catalog import (
    Catalog,
    CatalogEntry,
    PrincipalSelector,
    ResourceKind,
    RowScope,
    Sensitivity,
)
from agent_zero.domain.principals import PrincipalKind
from agent_zero.sandbox.demo_bank.models import (
    CUSTOMER_KEY_ATTRIBUTE,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    PRINCIPAL_GROUP_OF,
)
from agent_zero.sandbox.demo_bank.roles import (
    CUSTOMER_DATA_ROLE_NAME,
    DIRECTORY_ROLE_NAME,
    OPERATIONS_ROLE_NAME,
    role_arn,
)
from agent_zero.sandbox.demo_bank.tables import CUSTOMER_ID, demo_tables

ADMINS = PRINCIPAL_GROUP_OF["admin"]
# The bank's internal tables are for its staff: no customer, and no agent, whatever is asked.
STAFF = frozenset({PRINCIPAL_GROUP_OF["employee"], ADMINS})
# Agents always act for one customer, and customers only ever see their own rows.
CUSTOMER_ROWS = RowScope(
    partition_key=CUSTOMER_ID.name,
    owner_attribute=CUSTOMER_KEY_ATTRIBUTE,
    mandatory_for=PrincipalSelector(
        kinds=frozenset({PrincipalKind.AGENT}),
        groups=frozenset({PRINCIPAL_GROUP_OF["customer"]}),
    ),
)
# Every action here carries dynamodb:LeadingKeys, so a customer's grant can be
# narrowed to their rows. DescribeTable does not and is left out on purpose.
_KEYED_READS = frozenset({"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"})
_KEYED_WRITES = frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem"})
_OPERATIONAL_READS = _KEYED_READS | {"dynamodb:Scan", "dynamodb:DescribeTable"}


@dataclass(frozen=True, slots=True)
class _TableFacts:
    description: str
    sensitivity: Sensitivity
    actions: frozenset[str]
    role_name: str
    max_session_seconds: int = 3_600
    audience: frozenset[str] = frozenset()  # principal groups; empty: anyone the rules allow


_TABLE_FACTS = {
    "customer-profiles": _TableFacts(
        "Retail customer profiles, one item per customer keyed by customer id: full name, "
        "email, phone, postal address, date of birth, KYC status and marketing consent. "
        "Personal data under privacy law. Needed by the customer themselves and by a "
        "support engineer working that customer's open ticket; never for analytics. "
        "Read-only here: detail changes go through the verified change process.",
        Sensitivity.HIGH,
        _KEYED_READS,
        CUSTOMER_DATA_ROLE_NAME,
        max_session_seconds=900,
    ),
    "account-balances": _TableFacts(
        "Current balances of each customer's checking, savings, credit card and deposit "
        "accounts, keyed by customer id and account id: available and ledger balance, "
        "overdraft or credit limit. Needed to answer a customer's own balance questions "
        "or to investigate that customer's ticket. Read-only; balances are changed only "
        "by core banking.",
        Sensitivity.HIGH,
        _KEYED_READS,
        CUSTOMER_DATA_ROLE_NAME,
        max_session_seconds=1_800,
    ),
    "transactions": _TableFacts(
        "Each customer's card, ACH, wire and transfer transactions, keyed by customer id "
        "and '<date>#<transaction id>': merchant, category, amount, channel, status. "
        "Reveals where a named customer spends money. Needed to explain a customer's own "
        "charges or to investigate a disputed payment on a ticket. Read-only.",
        Sensitivity.HIGH,
        _KEYED_READS,
        CUSTOMER_DATA_ROLE_NAME,
        max_session_seconds=1_800,
    ),
    "support-tickets": _TableFacts(
        "Support requests raised by customers, keyed by customer id and ticket id: subject, "
        "status, priority, assigned engineer, a short summary and related transaction ids. "
        "Customers and the chat agent read and open their own tickets; support engineers "
        "read and update the tickets they work.",
        Sensitivity.MEDIUM,
        _KEYED_READS | _KEYED_WRITES,
        CUSTOMER_DATA_ROLE_NAME,
    ),
    "operations-metrics": _TableFacts(
        "Daily bank-wide operational aggregates keyed by date and metric name: card "
        "authorisations and declines, fraud alerts, ticket volumes and response times, "
        "sign-ins, settled ACH amounts. No customer-level data. For operations reporting "
        "and capacity planning by staff analysts.",
        Sensitivity.LOW,
        _OPERATIONAL_READS,
        OPERATIONS_ROLE_NAME,
        audience=STAFF,
    ),
    "transaction-ledger": _TableFacts(
        "Pseudonymised copy of all transactions for analysis, keyed by booking date and "
        "entry id: merchant, merchant category, amount, channel and an account reference "
        "that does not reveal the account or customer. No names, ids or contact details. "
        "For staff analysts' fraud-trend and spending-pattern analysis; whole-table reads "
        "are expected. Re-identifying account references is forbidden.",
        Sensitivity.MEDIUM,
        _OPERATIONAL_READS,
        OPERATIONS_ROLE_NAME,
        audience=STAFF,
    ),
}
_INDEX_FACTS = {
    "transaction-ledger-by-category": _TableFacts(
        "The transaction ledger's by-category index: ledger entries of one merchant "
        "category in time order, for the same analyses as the ledger itself.",
        Sensitivity.MEDIUM,
        frozenset({"dynamodb:Query"}),
        OPERATIONS_ROLE_NAME,
        audience=STAFF,
    ),
}


def _table_entries(account_id: str, region: str) -> list[CatalogEntry]:
    entries: list[CatalogEntry] = []
    for table in demo_tables():
        arn = table.arn(account_id=account_id, region=region)
        facts = _TABLE_FACTS[table.catalog_key]
        entries.append(
            CatalogEntry(
                key=table.catalog_key,
                kind=ResourceKind.DYNAMODB_TABLE,
                description=facts.description,
                sensitivity=facts.sensitivity,
                allowed_actions=facts.actions,
                arn=arn,
                target_role_arn=role_arn(account_id, facts.role_name),
                max_session_seconds=facts.max_session_seconds,
                row_scope=CUSTOMER_ROWS if table.customer_owned else None,
                audience_groups=facts.audience,
            )
        )
        for index in table.indexes:
            if index.catalog_key is None:
                continue
            index_facts = _INDEX_FACTS[index.catalog_key]
            entries.append(
                CatalogEntry(
                    key=index.catalog_key,
                    kind=ResourceKind.DYNAMODB_INDEX,
                    description=index_facts.description,
                    sensitivity=index_facts.sensitivity,
                    allowed_actions=index_facts.actions,
                    arn=table.index_arn(index, account_id=account_id, region=region),
                    target_role_arn=role_arn(account_id, index_facts.role_name),
                    parent_key=table.catalog_key,
                    audience_groups=index_facts.audience,
                )
            )
    return entries


def _directory_entries(account_id: str, region: str, user_pool_id: str) -> list[CatalogEntry]:
    return [
        CatalogEntry(
            key="user-directory",
            kind=ResourceKind.COGNITO_USER_POOL,
            description=(
                "The Cognito user pool every member of staff and every customer signs in "
                "with: usernames, emails, group membership and account status. For the "
                "identity administrator to verify identities, disable leavers' or "
                "compromised accounts, sign out their sessions, and onboard new staff (create "
                "an account and put it in its group). Existing accounts' groups and customer "
                "keys cannot be changed through it."
            ),
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset(
                {
                    "cognito-idp:AdminGetUser",
                    "cognito-idp:AdminListGroupsForUser",
                    "cognito-idp:ListUsers",
                    "cognito-idp:ListUsersInGroup",
                    "cognito-idp:AdminDisableUser",
                    "cognito-idp:AdminUserGlobalSignOut",
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminAddUserToGroup",
                }
            ),
            arn=f"arn:aws:cognito-idp:{region}:{account_id}:userpool/{user_pool_id}",
            target_role_arn=role_arn(account_id, DIRECTORY_ROLE_NAME),
            max_session_seconds=900,
            requires_approval=True,
        ),
        CatalogEntry(
            key="policy-store",
            kind=ResourceKind.BROKER_POLICY_STORE,
            description=(
                "Agent Zero's store of every principal's plain-words access policy and its "
                "version history. Writing a policy changes what the reviewer will approve "
                "for that principal; changes need a second administrator's approval."
            ),
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset({"broker:ReadPolicy", "broker:WritePolicy"}),
            max_session_seconds=900,
            requires_approval=True,
            internal_groups=frozenset({ADMINS}),
        ),
        CatalogEntry(
            key="principal-directory",
            kind=ResourceKind.BROKER_DIRECTORY,
            description=(
                "Agent Zero's directory of principals (people and AI agents): kind, groups, "
                "trusted attributes such as customer keys, and whether they are enabled."
            ),
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset({"broker:ReadPrincipal", "broker:WritePrincipal"}),
            max_session_seconds=900,
            requires_approval=True,
            internal_groups=frozenset({ADMINS}),
        ),
    ]


def demo_catalog(
    *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION, user_pool_id: str
) -> Catalog:
    """The demo bank's catalog in ``account_id``/``region``, with its user pool's ARN."""
    return Catalog(
        entries=(
            *_table_entries(account_id, region),
            *_directory_entries(account_id, region, user_pool_id),
        )
    )
