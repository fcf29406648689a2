"""``agent-zero aws seed`` and ``aws teardown``: the demo bank in a deployed AgentZeroStack.

Both are dry runs unless ``--execute``: they print what they would create or delete, with
counts, and change nothing. The stack (``cdk deploy -c demoBank=true``) owns the tables, the
user pool, its groups and the roles; these commands own only the demo's rows, Cognito users,
broker principals and first policy versions. Seeding creates what is missing and leaves what
exists, so a second run changes nothing and a policy edited since is never overwritten.
Teardown deletes what seeding creates but keeps policy histories (request records name the
policy version that decided them) and never touches the requests or audit tables.

Stack outputs read, from ``cdk deploy --outputs-file`` or else CloudFormation's
DescribeStacks: ``UserPoolId`` (required); ``Region`` (default: the pool id's);
``TablePrefix`` (default ``agent-zero-``) or ``PrincipalsTable`` and ``PoliciesTable``;
``DemoBank`` (``false`` refuses a seed); ``DemoBankTables`` (JSON, catalog key → table name;
default: the demo bank's own ``bank-…`` names) and ``AgentRoleArn`` (shown in the plan).
New users' passwords are printed once, to stdout, and stored nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import boto3
import typer
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from rich.console import Console
from rich.table import Table

from agent_zero.domain.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from agent_zero.cli.aws.account import StackOutputs
    from agent_zero.cli.aws.plan import Action, Plan
    from agent_zero.sandbox.record import UserRecord

DEFAULT_STACK = "AgentZeroStack"
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
}
_THROTTLED = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
}

aws_app = typer.Typer(help="Load the demo bank into a deployed AgentZeroStack, or take it out.")

OutputsOption = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        dir_okay=False,
        help="The JSON `cdk deploy --outputs-file` wrote; default: ask CloudFormation.",
    ),
]
StackOption = Annotated[str, typer.Option("--stack", help="The CloudFormation stack's name.")]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="Default: the user pool's region.")
]
ExecuteOption = Annotated[
    bool, typer.Option("--execute", help="Make the changes; without it, only show them.")
]


@aws_app.command()
def seed(
    outputs: OutputsOption = None,
    stack: StackOption = DEFAULT_STACK,
    region: RegionOption = None,
    execute: ExecuteOption = False,
) -> None:
    """Load the demo bank's rows, Cognito users, principals and first policies into the stack.

    A dry run unless --execute. Creates only what is missing; new users' passwords are
    printed once, here, and stored nowhere.

    Example: agent-zero aws seed --outputs cdk-outputs.json --execute
    """
    _run("seed", outputs=outputs, stack=stack, region=region, execute=execute)


@aws_app.command()
def teardown(
    outputs: OutputsOption = None,
    stack: StackOption = DEFAULT_STACK,
    region: RegionOption = None,
    execute: ExecuteOption = False,
) -> None:
    """Delete the demo bank's rows, Cognito users and principals from the stack.

    A dry run unless --execute. Policy histories, requests and the audit log are kept.

    Example: agent-zero aws teardown --outputs cdk-outputs.json --execute
    """
    _run("teardown", outputs=outputs, stack=stack, region=region, execute=execute)


def _run(
    action: Action, *, outputs: Path | None, stack: str, region: str | None, execute: bool
) -> None:
    # Imported here, not above: app.py imports this module to register the commands, and
    # every other command (credential-process runs on each AWS CLI call) would pay for them.
    from agent_zero.cli import app as cli
    from agent_zero.cli.aws.account import AwsAccount, apply_seed, apply_teardown, take_inventory
    from agent_zero.cli.aws.plan import DEPLOY_HINT, plan_seed, plan_teardown
    from agent_zero.sandbox.demo_bank import demo_bank

    with cli._errors(), _aws_errors(), ExitStack() as clients:
        found = _stack_outputs(outputs, stack=stack, region=region, clients=clients)
        session = boto3.session.Session(region_name=region or found.region)
        account = AwsAccount.of(
            dynamodb=_client(session, "dynamodb", clients),
            cognito=_client(session, "cognito-idp", clients),
            outputs=found,
        )
        if action == "seed" and found.demo_bank is False:
            cli._fail(f"{stack} was deployed without the demo bank: {DEPLOY_HINT}", cli.EXIT_USAGE)
        # Its rows, people and policies are the same in every account; only names differ.
        bank = found.deployed(demo_bank())
        with cli.err.status(f"Reading what {stack} holds…", spinner="dots"):
            inventory = take_inventory(account, bank)
        plan = (
            plan_seed(bank, inventory, agent_role_arn=found.agent_role_arn)
            if action == "seed"
            else plan_teardown(bank, inventory)
        )
        print_plan(cli.out, plan, where=f"{stack} ({session.region_name})")
        if plan.problems:
            cli._fail(f"refusing to {action}: {'; '.join(plan.problems)}", cli.EXIT_USAGE)
        if not plan.changes:
            cli.err.print("Nothing to do: " + _NOTHING_TO_DO[action])
            return
        if not execute:
            cli.err.print(f"Dry run: nothing changed. `agent-zero aws {action} --execute` does it.")
            return

        def progress(message: str) -> None:
            cli.err.print(f"  {message}…")

        if action == "teardown":
            apply_teardown(plan, account, progress=progress)
            cli.err.print(f"Deleted {_counts(plan)}.")
            return
        created = apply_seed(
            plan, account, bank, password_length=inventory.password_length, progress=progress
        )
        cli.err.print(f"Created {_counts(plan)}.")
        if created:
            print_passwords(cli.out, created)


def _stack_outputs(
    path: Path | None, *, stack: str, region: str | None, clients: ExitStack
) -> StackOutputs:
    from agent_zero.cli.aws.account import describe_outputs, read_outputs_file

    if path is not None:
        return read_outputs_file(path, stack)
    session = boto3.session.Session(region_name=region)
    return describe_outputs(_client(session, "cloudformation", clients), stack)


def _client(session: Any, service: str, clients: ExitStack) -> Any:
    client = session.client(service)
    clients.callback(client.close)
    return client


@contextmanager
def _aws_errors() -> Iterator[None]:
    """AWS's failures as the CLI's errors, so they get its one line and exit code."""
    try:
        yield
    except NoCredentialsError:
        raise AuthenticationError("no AWS credentials: sign in to the account first") from None
    except NoRegionError:
        raise InvalidInputError("no AWS region: give --region or set AWS_REGION") from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
        raise UnavailableError(f"cannot reach AWS: {error}") from None
    except ClientError as error:
        found = str(error.response.get("Error", {}).get("Code", ""))
        if found in _BAD_CREDENTIALS:
            raise AuthenticationError(f"AWS does not accept these credentials ({found})") from None
        if "AccessDenied" in found:
            raise PermissionDeniedError(
                f"AWS refused {error.operation_name} ({found}): check your credentials' rights"
            ) from None
        if found in _THROTTLED:
            raise UnavailableError(f"AWS is throttling {error.operation_name}: try again") from None
        raise


_NOTHING_TO_DO = {
    "seed": "the demo bank is already there.",
    "teardown": "none of the demo bank is left.",
}


def _counts(plan: Plan) -> str:
    rows = sum(len(change.rows) for change in plan.tables)
    counted = (
        (rows, "rows"),
        (len(plan.users), "Cognito users"),
        (len(plan.principals), "principals"),
        (len(plan.policies), "policies"),
    )
    return ", ".join(f"{n} {what}" for n, what in counted if n) or "nothing"


def print_plan(console: Console, plan: Plan, *, where: str) -> None:
    """The plan as lines: what changes, with counts, then what stays and why."""
    verb = "delete" if plan.action == "teardown" else "create"
    console.print(
        f"{'Teardown' if plan.action == 'teardown' else 'Seed'} of the demo bank in {where}:"
    )
    for change in plan.tables:
        rows = "write" if plan.action == "seed" else "delete"
        line = f"  {change.table.name}: {len(change.rows)} rows to {rows}"
        if plan.action == "seed" and change.present:
            line += f" ({change.present} already present)"
        console.print(line)
    for things, label in (
        ([u.username for u in plan.users], f"Cognito users to {verb}"),
        ([p.id for p in plan.principals], f"principals to {verb}"),
        ([p.principal_id for p in plan.policies], "first policy versions to write"),
    ):
        if things:
            console.print(f"  {label}: {len(things)} ({', '.join(things)})")
    for note in plan.notes:
        console.print(f"  {note}")


def print_passwords(console: Console, created: Sequence[UserRecord]) -> None:
    """The new users and their passwords, once: note them now, they are stored nowhere."""
    table = Table(title="New Cognito users: passwords shown once, stored nowhere")
    table.add_column("username", no_wrap=True)
    table.add_column("password", no_wrap=True, min_width=max(len(u.password) for u in created))
    table.add_column("groups")
    table.add_column("customer key")
    for user in created:
        table.add_row(user.username, user.password, ", ".join(user.groups), user.customer_key or "")
    console.print(table)
