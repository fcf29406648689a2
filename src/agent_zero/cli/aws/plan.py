"""What seeding or tearing down the demo bank would change, given what exists: pure.

Seeding plans whatever of the demo bank is missing and nothing else; teardown plans the
deletion of what seeding makes. Both refuse to touch a Cognito user or principal that holds
a demo name but is not the demo's (another email, kind or customer key): someone real may
have that name, and seeding would hand a stranger's account demo access or a password.
Seeding also refuses a demo user that exists without its principal: it did not make it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from agent_zero.sandbox.demo_bank import CUSTOMER_KEY_ATTRIBUTE

if TYPE_CHECKING:
    from agent_zero.domain.policies import PrincipalPolicy
    from agent_zero.domain.principals import Principal
    from agent_zero.sandbox.demo_bank import DemoBank, DemoTable, DemoUser, Item

DEPLOY_HINT = "deploy the stack with `cdk deploy -c demoBank=true`"
Action = Literal["seed", "teardown"]
RowKey = tuple[object, ...]


def key_names(table: DemoTable) -> tuple[str, ...]:
    """The table's key attributes, partition key first."""
    return tuple(k.name for k in (table.partition_key, table.sort_key) if k is not None)


def row_key(table: DemoTable, row: Item) -> RowKey:
    """The row's primary key values, in key-schema order."""
    return tuple(row[name] for name in key_names(table))


@dataclass(frozen=True, slots=True)
class Inventory:
    """What of the demo bank, and of what it needs from the stack, exists now."""

    missing_tables: frozenset[str] = frozenset()
    missing_groups: frozenset[str] = frozenset()
    missing_attributes: frozenset[str] = frozenset()
    rows: Mapping[str, frozenset[RowKey]] = field(default_factory=dict)  # demo keys present
    users: Mapping[str, str | None] = field(default_factory=dict)  # demo username → email
    principals: Mapping[str, Principal] = field(default_factory=dict)  # demo ids present
    policies: frozenset[str] = frozenset()  # demo principals with a policy
    password_length: int = 8


@dataclass(frozen=True, slots=True)
class TableChange:
    """Demo rows of one table to write (seed) or delete (teardown)."""

    table: DemoTable
    rows: tuple[Item, ...]
    present: int  # demo rows there now


@dataclass(frozen=True, slots=True)
class Plan:
    """What a seed or a teardown would change, what it leaves alone, and why it must not run."""

    action: Action
    tables: tuple[TableChange, ...] = ()
    users: tuple[DemoUser, ...] = ()
    principals: tuple[Principal, ...] = ()
    policies: tuple[PrincipalPolicy, ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def changes(self) -> int:
        """How many rows, users, principals and policies would change."""
        rows = sum(len(change.rows) for change in self.tables)
        return rows + len(self.users) + len(self.principals) + len(self.policies)


def strangers(bank: DemoBank, found: Inventory) -> list[str]:
    """Demo names held by a Cognito user or principal that is not the demo's."""
    users = [u.username for u in bank.users if found.users.get(u.username, u.email) != u.email]
    principals = [
        p.id
        for p in bank.principals()
        if (held := found.principals.get(p.id)) is not None
        and (held.kind, held.attribute(CUSTOMER_KEY_ATTRIBUTE))
        != (p.kind, p.attribute(CUSTOMER_KEY_ATTRIBUTE))
    ]
    return sorted({*users, *principals})


def _names(things: Sequence[str]) -> str:
    return f"{len(things)} ({', '.join(things)})"


def _seed_problems(bank: DemoBank, found: Inventory) -> list[str]:
    demo_tables = {t.name for t in bank.tables}
    problems = []
    if missing := sorted(found.missing_tables & demo_tables):
        problems.append(
            f"the demo bank's tables do not exist ({', '.join(missing)}): {DEPLOY_HINT}"
        )
    if missing := sorted(found.missing_tables - demo_tables):
        problems.append(
            f"the broker's tables do not exist ({', '.join(missing)}): "
            "check the TablePrefix and PrincipalsTable outputs"
        )
    if missing := sorted(found.missing_groups | found.missing_attributes):
        problems.append(f"the user pool lacks {', '.join(missing)}: {DEPLOY_HINT}")
    held = strangers(bank, found)
    if held:
        problems.append(
            f"{', '.join(held)} exist but are not the demo's "
            "(another email, kind or customer key): remove or rename them first"
        )
    # Seeding writes principals before users, so a demo user without its principal was made
    # by someone else, whose password this command never set. The email proves nothing (it
    # is public, and users may change their own): its principal would hand that account
    # demo access, an admin's included.
    if unknown := sorted(
        u.username
        for u in bank.users
        if u.username in found.users
        and u.username not in found.principals
        and u.username not in held
    ):
        problems.append(
            f"{', '.join(unknown)} exist in the user pool but not in the broker's directory: "
            "seeding did not create them, so it will not give them demo access; "
            "remove or rename them first"
        )
    return problems


def plan_seed(bank: DemoBank, found: Inventory, *, agent_role_arn: str | None = None) -> Plan:
    """What seeding would create: whatever of the demo bank is missing, nothing else."""
    notes = []
    if kept := [u.username for u in bank.users if u.username in found.users]:
        notes.append(f"Cognito users already present, passwords unchanged: {_names(kept)}")
    if kept := [p.id for p in bank.principals() if p.id in found.principals]:
        notes.append(f"principals already present, left as they are: {_names(kept)}")
    if kept := [p.principal_id for p in bank.policies if p.principal_id in found.policies]:
        notes.append(f"policies already present, later edits kept: {_names(kept)}")
    role = f" {agent_role_arn}" if agent_role_arn else ""
    notes.append(
        f"{bank.agent.id} is the support agent: the broker knows it as sessions of the agent "
        f"worker role{role} (AGENT_ZERO_AGENT_ROLE_ARN), not as an IAM user"
    )
    return Plan(
        action="seed",
        tables=tuple(
            TableChange(t, tuple(r for r in t.rows if row_key(t, r) not in present), len(present))
            for t in bank.tables
            if (present := found.rows.get(t.name)) is not None
        ),
        users=tuple(u for u in bank.users if u.username not in found.users),
        principals=tuple(p for p in bank.principals() if p.id not in found.principals),
        policies=tuple(p for p in bank.policies if p.principal_id not in found.policies),
        notes=tuple(notes),
        problems=tuple(_seed_problems(bank, found)),
    )


def plan_teardown(bank: DemoBank, found: Inventory) -> Plan:
    """What teardown would delete: the demo's rows, Cognito users and principals that exist."""
    held = set(strangers(bank, found))
    notes = [
        f"{name} does not exist: nothing to delete there" for name in sorted(found.missing_tables)
    ]
    if held:
        notes.append(f"kept, as they are not the demo's: {_names(sorted(held))}")
    if found.policies:
        notes.append(
            "policy histories kept, as request records name the versions that decided them: "
            f"{_names(sorted(found.policies))}"
        )
    notes.append("the requests and audit tables, the tables themselves and the user pool stay")
    return Plan(
        action="teardown",
        tables=tuple(
            TableChange(t, tuple(r for r in t.rows if row_key(t, r) in present), len(present))
            for t in bank.tables
            if (present := found.rows.get(t.name))
        ),
        users=tuple(u for u in bank.users if u.username in found.users and u.username not in held),
        principals=tuple(
            p for p in bank.principals() if p.id in found.principals and p.id not in held
        ),
        notes=tuple(notes),
    )
