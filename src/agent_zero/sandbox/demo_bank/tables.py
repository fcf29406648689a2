"""The bank's DynamoDB tables, their key schemas and their rows.

Four tables are customer-owned: every row's partition key ``customer_id`` is the
owner's customer key, which is what lets a session policy narrow a grant to one
customer's rows with ``dynamodb:LeadingKeys``. Two are operational and hold no
customer-identifying data.

The analyst's "transaction ledger for analysis" is its own table rather than the
transactions table without profiles: the transactions table is keyed by
customer id, so reading it at all reveals whose spending is whose, and a
customer id joins straight to the profiles any support engineer can read. The
ledger is keyed by booking date, carries a pseudonymous account reference
instead of customer and account ids, and has no names, so a whole-table read
for trend analysis reveals no one.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from agent_zero.sandbox.demo_bank.customers import (
    ACCOUNTS,
    CUSTOMERS,
    TICKETS,
    TRANSACTIONS,
    Transaction,
)
from agent_zero.sandbox.demo_bank.models import DemoTable, GlobalSecondaryIndex, Item, KeyAttribute

TABLE_PREFIX = "bank-"
CUSTOMER_ID = KeyAttribute("customer_id")
CURRENCY = "USD"
BALANCES_AS_OF = "2026-11-05T06:00:00Z"
# A fixed, public salt: the demo stays the same on every run. A real bank derives
# ledger references with a secret key held by its tokenisation service.
_LEDGER_REFERENCE_SALT = "fernhill-demo-ledger-v1"


def _transaction_id(number: int) -> str:
    return f"tx-{number:05d}"


def profile_rows() -> tuple[Item, ...]:
    """One profile per customer: the bank's PII."""
    return tuple(
        {
            "customer_id": c.key,
            "full_name": c.full_name,
            "email": c.email,
            "phone": c.phone,
            "date_of_birth": c.date_of_birth,
            "address": {
                "street": c.street,
                "city": c.city,
                "state": c.state,
                "postal_code": c.postal_code,
                "country": "US",
            },
            "customer_since": c.customer_since,
            "kyc_status": "verified",
            "segment": "retail",
            "marketing_opt_in": c.marketing_opt_in,
        }
        for c in CUSTOMERS
    )


def balance_rows() -> tuple[Item, ...]:
    """One row per account: available and ledger balance, limits."""
    rows: list[Item] = []
    for account in ACCOUNTS:
        limit_name = "credit_limit" if "Credit" in account.product else "overdraft_limit"
        rows.append(
            {
                "customer_id": account.customer_key,
                "account_id": account.account_id,
                "product": account.product,
                "currency": CURRENCY,
                "available_balance": account.available,
                "ledger_balance": account.ledger,
                limit_name: account.limit,
                "status": "open",
                "opened_on": account.opened_on,
                "as_of": BALANCES_AS_OF,
            }
        )
    return tuple(rows)


def transaction_rows() -> tuple[Item, ...]:
    """Every transaction under its owner, sorted by ``<date>#<transaction id>``."""
    rows: list[Item] = []
    for number, tx in enumerate(TRANSACTIONS, start=1):
        tx_id = _transaction_id(number)
        rows.append(
            {
                "customer_id": tx.customer_key,
                "transaction_key": f"{tx.posted_at[:10]}#{tx_id}",
                "transaction_id": tx_id,
                "account_id": tx.account_id,
                "posted_at": tx.posted_at,
                "merchant": tx.merchant,
                "category": tx.category,
                "amount": tx.amount,
                "currency": CURRENCY,
                "direction": tx.direction,
                "channel": tx.channel,
                "status": tx.status,
            }
        )
    return tuple(rows)


def ticket_rows() -> tuple[Item, ...]:
    """Support tickets under the customer who raised them."""
    ids = {
        (tx.customer_key, tx.posted_at): _transaction_id(number)
        for number, tx in enumerate(TRANSACTIONS, start=1)
    }
    rows: list[Item] = []
    for ticket in TICKETS:
        row: Item = {
            "customer_id": ticket.customer_key,
            "ticket_id": ticket.ticket_id,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "channel": ticket.channel,
            "created_at": ticket.created_at,
            "updated_at": ticket.updated_at,
            "summary": ticket.summary,
        }
        # An unassigned ticket has no assignee attribute, as DynamoDB models absence.
        if ticket.assigned_engineer is not None:
            row["assigned_engineer"] = ticket.assigned_engineer
        if ticket.about_posted_at:
            row["related_transaction_ids"] = [
                ids[(ticket.customer_key, at)] for at in ticket.about_posted_at
            ]
        rows.append(row)
    return tuple(rows)


# metric name, unit, values on the three reporting days
_METRICS: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    ("card_authorisations", "count", ("48211", "51873", "49902")),
    ("card_declines", "count", ("1207", "1311", "1189")),
    ("fraud_alerts_raised", "count", ("37", "52", "41")),
    ("fraud_alerts_confirmed", "count", ("6", "11", "7")),
    ("support_tickets_opened", "count", ("214", "238", "201")),
    ("support_tickets_resolved", "count", ("198", "225", "230")),
    ("median_first_response_minutes", "minutes", ("6.4", "7.9", "5.8")),
    ("mobile_app_sign_ins", "count", ("88412", "90237", "87655")),
    ("failed_sign_ins", "count", ("2310", "2544", "2198")),
    ("ach_settled_amount", "usd", ("18233410.55", "20118734.10", "17602219.87")),
)
METRIC_DATES = ("2026-11-02", "2026-11-03", "2026-11-04")


def metric_rows() -> tuple[Item, ...]:
    """Daily aggregates across the whole bank; no row belongs to a customer."""
    return tuple(
        {
            "metric_date": day,
            "metric_name": name,
            "value": Decimal(values[index]),
            "unit": unit,
            "source": "operations-warehouse",
            "computed_at": f"{day}T23:30:00Z",
        }
        for index, day in enumerate(METRIC_DATES)
        for name, unit, values in _METRICS
    )


def ledger_reference(account_id: str) -> str:
    """The pseudonymous account reference the ledger carries instead of the account id."""
    digest = hashlib.sha256(f"{_LEDGER_REFERENCE_SALT}:{account_id}".encode()).hexdigest()
    return f"ref-{digest[:12]}"


def _ledger_row(number: int, tx: Transaction) -> Item:
    return {
        "booking_date": tx.posted_at[:10],
        "entry_id": f"{tx.posted_at}#le-{number:05d}",
        "account_ref": ledger_reference(tx.account_id),
        "merchant": tx.merchant,
        "merchant_category": tx.category,
        "amount": tx.amount,
        "currency": CURRENCY,
        "direction": tx.direction,
        "channel": tx.channel,
        "status": tx.status,
    }


def ledger_rows() -> tuple[Item, ...]:
    """Every transaction once more, by booking date, without anything that names its owner."""
    return tuple(_ledger_row(number, tx) for number, tx in enumerate(TRANSACTIONS, start=1))


def demo_tables() -> tuple[DemoTable, ...]:
    """All six tables, customer-owned first."""
    return (
        DemoTable(
            catalog_key="customer-profiles",
            name=f"{TABLE_PREFIX}customer-profiles",
            partition_key=CUSTOMER_ID,
            rows=profile_rows(),
            customer_owned=True,
        ),
        DemoTable(
            catalog_key="account-balances",
            name=f"{TABLE_PREFIX}account-balances",
            partition_key=CUSTOMER_ID,
            sort_key=KeyAttribute("account_id"),
            rows=balance_rows(),
            customer_owned=True,
        ),
        DemoTable(
            catalog_key="transactions",
            name=f"{TABLE_PREFIX}transactions",
            partition_key=CUSTOMER_ID,
            sort_key=KeyAttribute("transaction_key"),
            rows=transaction_rows(),
            customer_owned=True,
        ),
        DemoTable(
            catalog_key="support-tickets",
            name=f"{TABLE_PREFIX}support-tickets",
            partition_key=CUSTOMER_ID,
            sort_key=KeyAttribute("ticket_id"),
            rows=ticket_rows(),
            customer_owned=True,
        ),
        DemoTable(
            catalog_key="operations-metrics",
            name=f"{TABLE_PREFIX}operations-metrics",
            partition_key=KeyAttribute("metric_date"),
            sort_key=KeyAttribute("metric_name"),
            rows=metric_rows(),
        ),
        DemoTable(
            catalog_key="transaction-ledger",
            name=f"{TABLE_PREFIX}transaction-ledger",
            partition_key=KeyAttribute("booking_date"),
            sort_key=KeyAttribute("entry_id"),
            rows=ledger_rows(),
            indexes=(
                GlobalSecondaryIndex(
                    name="by-category",
                    partition_key=KeyAttribute("merchant_category"),
                    sort_key=KeyAttribute("entry_id"),
                    catalog_key="transaction-ledger-by-category",
                ),
            ),
        ),
    )
