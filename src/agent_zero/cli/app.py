"""``agent-zero``: ask for AWS access from the terminal, the AWS CLI and any agent.

Exit codes: 0 approved or done, 2 bad usage (or not signed in), 3 denied (or revoked),
4 pending (without ``--wait``), 5 the service is unavailable, 1 anything else. Errors are
one readable line on stderr; ``--debug`` adds the traceback. Data goes to stdout,
progress and messages to stderr, so ``eval "$(agent-zero request ...)"`` works.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent_zero.cli.aws import aws_app
from agent_zero.cli.state import (
    CredentialCache,
    Endpoints,
    Login,
    config_dir,
    reason_key,
    request_key,
    resolve_endpoints,
)
from agent_zero.client import AccessAnswer, AccessDeniedError, BrokerClient
from agent_zero.domain.errors import (
    AgentZeroError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
)
from agent_zero.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED, EXIT_PENDING, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5
POLL_SECONDS = 3.0

app = typer.Typer(
    name="agent-zero",
    help="Just-in-time AWS access: ask in plain words, get a short, scoped session.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Read, change and try principals' access policies (admins).")
audit_app = typer.Typer(help="The hash-chained audit log (admins).")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
app.add_typer(aws_app, name="aws")

# Markup and emoji codes off: reasons, names and rationales are other people's text, and
# "[/x]" in a reason must print as itself (not crash an approver's terminal or hide text).
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)


class _State:
    debug = False


def _settings() -> Settings:
    return Settings()


def _fail(message: str, code: int) -> NoReturn:
    err.print(Text.assemble(("agent-zero: ", "bold red"), message))
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """One readable line per failure, and the exit code it deserves."""
    try:
        yield
    except typer.Exit:
        raise
    except AccessDeniedError as error:
        reasons = "; ".join(error.reasons) or "no reason given"
        _fail(f"denied: {reasons} (request {error.request_id})", EXIT_DENIED)
    except AuthenticationError as error:
        _fail(error.message, EXIT_USAGE)
    except PermissionDeniedError as error:
        _fail(f"not allowed: {error.message}", EXIT_DENIED)
    except (UnavailableError, RateLimitedError) as error:
        _fail(error.message, EXIT_UNAVAILABLE)
    except InvalidInputError as error:
        _fail(error.message, EXIT_USAGE)
    except AgentZeroError as error:
        _fail(error.message, EXIT_FAILED)
    except Exception as error:
        if _State.debug:
            raise
        _fail(f"{type(error).__name__}: {error} (run with --debug for details)", EXIT_FAILED)


def _endpoints() -> Endpoints:
    return resolve_endpoints(_settings())


def _login() -> Login:
    settings = _settings()
    return Login(config_dir(settings), resolve_endpoints(settings))


def _client() -> BrokerClient:
    endpoints = _endpoints()
    token = Login(config_dir(_settings()), endpoints).access_token()
    return BrokerClient(endpoints.api_url, bearer_token=token)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _State.debug = debug


# --- the sandbox and signing in ---------------------------------------------------------------


@app.command()
def version() -> None:
    """Print the version.

    Example: agent-zero version
    """
    from agent_zero import __version__

    out.print(f"agent-zero {__version__}")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def up(context: typer.Context) -> None:
    """Start the local sandbox (AWS emulator, IAM gateway, broker, web app).

    Example: agent-zero up --reset
    """
    from agent_zero.sandbox.up import run

    raise typer.Exit(run(list(context.args)))


@app.command()
def login(
    username: Annotated[str, typer.Option(prompt=True, help="Your username.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Sign in with your username and password; tokens are kept (mode 0600) and refreshed.

    Example: agent-zero login --username alice.moreau
    """
    with _errors():
        password = (
            sys.stdin.readline().rstrip("\n")
            if password_stdin
            else typer.prompt("Password", hide_input=True)
        )
        _login().sign_in(username, password)
        err.print(f"Signed in as {username}.")


@app.command()
def logout() -> None:
    """Forget the stored login.

    Example: agent-zero logout
    """
    with _errors():
        gone = _login().sign_out()
        err.print("Signed out." if gone else "Nobody was signed in.")


@app.command()
def whoami() -> None:
    """Who the broker takes you to be, and your groups.

    Example: agent-zero whoami
    """
    with _errors(), _client() as client:
        me = client.me()
        out.print(f"{me['principal_id']} ({me['display_name']}), {me['kind']}")
        out.print(f"groups: {', '.join(me['groups']) or 'none'}")
        if me.get("customer_key"):
            out.print(f"customer key: {me['customer_key']}")


# --- asking for access --------------------------------------------------------------------------


def _status_line(message: str) -> Any:
    return err.status(message, spinner="dots")


def _print_credentials(answer: AccessAnswer, output: str, region: str) -> None:
    credentials = answer.credentials or {}
    if output == "json":
        out.print_json(
            json.dumps(
                {
                    "request_id": answer.request_id,
                    "status": answer.status,
                    "grants": answer.body.get("grants", []),
                    "expires_at": answer.body.get("expires_at"),
                    "credentials": credentials,
                    "console_url": answer.console_url,
                }
            )
        )
        return
    if output == "table":
        table = Table(title=f"Approved: {answer.request_id}")
        table.add_column("resource")
        table.add_column("actions")
        for grant in answer.body.get("grants", []):
            table.add_row(str(grant["resource_key"]), ", ".join(grant["actions"]))
        out.print(table)
        if answer.expires_at:
            out.print(f"expires {answer.expires_at.isoformat()}")
        return
    for name, value in (
        ("AWS_ACCESS_KEY_ID", credentials.get("access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", credentials.get("secret_access_key")),
        ("AWS_SESSION_TOKEN", credentials.get("session_token")),
        ("AWS_REGION", region),
    ):
        if value:
            sys.stdout.write(f"export {name}={shlex.quote(str(value))}\n")
    endpoint = _settings().cognito_endpoint_url or _sandbox_endpoint()
    if endpoint:
        sys.stdout.write(f"export AWS_ENDPOINT_URL={shlex.quote(endpoint)}\n")


def _sandbox_endpoint() -> str | None:
    from agent_zero.sandbox.record import read_record

    try:
        record = read_record(_settings().data_dir)
    except Exception:
        return None
    return None if record is None else record.aws_endpoint_url


def _wait(client: BrokerClient, answer: AccessAnswer, timeout: float) -> AccessAnswer:
    """Poll a pending request with a live status line until a person decides."""
    deadline = time.monotonic() + timeout
    with _status_line(f"Waiting for a person to approve {answer.request_id}…") as status:
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            answer = client.get(answer.request_id)
            if answer.status != "pending":
                return answer
            left = int(deadline - time.monotonic())
            status.update(f"Waiting for a person to approve {answer.request_id}… ({left} s left)")
    _fail(f"still pending after {int(timeout)} s (request {answer.request_id})", EXIT_PENDING)


def _finish(answer: AccessAnswer) -> None:
    if answer.status == "denied":
        reasons = "; ".join(answer.reasons) or "no reason given"
        _fail(f"denied: {reasons} (request {answer.request_id})", EXIT_DENIED)
    if answer.status == "pending":
        err.print(
            f"Pending: a person must approve request {answer.request_id}. "
            f"Wait with `agent-zero request --wait …` or fetch it later with "
            f"`agent-zero credential-process --request-id {answer.request_id}`."
        )
        raise typer.Exit(EXIT_PENDING)


@app.command()
def request(
    reason: Annotated[str, typer.Argument(help="What you need to do, and why, in plain words.")],
    output: Annotated[
        str, typer.Option("--format", "-f", help="env (export lines), json or table.")
    ] = "env",
    console: Annotated[
        bool, typer.Option("--console", help="Also get an AWS console sign-in link (staff).")
    ] = False,
    open_console: Annotated[
        bool, typer.Option("--open", help="Open the console link in a browser.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for a person when approval is needed.")
    ] = False,
    wait_timeout: Annotated[
        float, typer.Option("--timeout", help="How long --wait waits, in seconds.")
    ] = 900.0,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Also write a named AWS profile that gets these credentials through "
            "credential_process.",
        ),
    ] = None,
) -> None:
    """Ask for access; print credentials when approved.

    Examples:

      eval "$(agent-zero request 'Check my card transactions from last week')"

      agent-zero request 'Weekly fraud metrics' --format table --console --open

      agent-zero request 'Support ticket 4411 for customer c-1002' --wait --profile support
    """
    if output not in ("env", "json", "table"):
        _fail("--format is env, json or table", EXIT_USAGE)
    with _errors(), _client() as client:
        endpoints = _endpoints()
        with _status_line("Asking the broker; the reviewer is reading your reason…"):
            answer = client.request_access(reason, console=console or open_console)
        if answer.status == "pending" and wait:
            answer = _wait(client, answer, wait_timeout)
        _finish(answer)
        if answer.credentials is not None:
            CredentialCache(config_dir(_settings())).put(
                _cache_key(reason_key(reason)), answer.request_id, _process_credentials(answer)
            )
        _print_credentials(answer, output, endpoints.region)
        if answer.console_url:
            err.print(f"Console sign-in: {answer.console_url}")
            if open_console:
                webbrowser.open(answer.console_url)
        if profile:
            path = write_profile(profile, reason, endpoints.region, _sandbox_endpoint())
            err.print(f"Wrote profile {profile} to {path}.")


def _process_credentials(answer: AccessAnswer) -> dict[str, str] | None:
    credentials = answer.credentials
    if not credentials:
        return None
    return {
        "access_key_id": credentials["access_key_id"],
        "secret_access_key": credentials["secret_access_key"],
        "session_token": credentials["session_token"],
        "expiration": credentials["expiration"],
    }


def write_profile(name: str, reason: str, region: str, endpoint: str | None) -> Path:
    """A ``[profile NAME]`` in the AWS config file that runs credential_process.

    Only that profile's three settings change: every other line, comments included,
    stays as it was. The file is replaced atomically.
    """
    import os
    import re

    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise InvalidInputError("a profile name is 1-64 characters of A-Z a-z 0-9 _ . -")
    if any(c in reason for c in "\r\n\x00"):
        raise InvalidInputError("a reason for a profile is one line")
    program = shutil.which("agent-zero")
    command = shlex.quote(program) if program else f"{shlex.quote(sys.executable)} -m agent_zero"
    settings = {
        "credential_process": f"{command} credential-process --reason {shlex.quote(reason)}",
        "region": region,
    }
    if endpoint:
        settings["endpoint_url"] = endpoint
    path = Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser()
    lines = path.read_text().splitlines() if path.exists() else []
    header = "[default]" if name == "default" else f"[profile {name}]"
    updated = _with_section(lines, header, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.agent-zero-tmp")
    temporary.write_text("\n".join(updated) + "\n")
    if path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o777)
    os.replace(temporary, path)
    return path


def _with_section(lines: list[str], header: str, settings: dict[str, str]) -> list[str]:
    """``lines`` with ``settings`` set in the ``header`` section (added at the end if new)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        block = [header, *(f"{k} = {v}" for k, v in settings.items())]
        return [*lines, *([""] if lines and lines[-1].strip() else []), *block]
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    body = [
        line
        for line in lines[start + 1 : end]
        if line.split("=", 1)[0].strip() not in settings  # replaced below
    ]
    kept_tail = len(body)
    while kept_tail and not body[kept_tail - 1].strip():
        kept_tail -= 1  # new settings go before the blank lines that end the section
    new = [f"{k} = {v}" for k, v in settings.items()]
    return [*lines[: start + 1], *body[:kept_tail], *new, *body[kept_tail:], *lines[end:]]


@app.command("credential-process")
def credential_process(
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Use this (approved) request.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Ask with this reason when needed.")
    ] = None,
) -> None:
    """Print credentials in the AWS credential_process format (Version 1, with Expiration).

    Credentials are cached until five minutes before they expire. A revoked grant is
    never replaced silently: ask again with `agent-zero request`.

    Example (in ~/.aws/config):

      credential_process = agent-zero credential-process --reason "Nightly billing export"
    """
    if (request_id is None) == (reason is None):
        _fail("give exactly one of --request-id and --reason", EXIT_USAGE)
    with _errors():
        cache = CredentialCache(config_dir(_settings()))
        key = _cache_key(request_key(request_id) if request_id else reason_key(reason or ""))
        fresh = _credentials_for(cache, key, request_id=request_id, reason=reason)
        sys.stdout.write(
            json.dumps(
                {
                    "Version": 1,
                    "AccessKeyId": fresh["access_key_id"],
                    "SecretAccessKey": fresh["secret_access_key"],
                    "SessionToken": fresh["session_token"],
                    "Expiration": fresh["expiration"],
                }
            )
            + "\n"
        )


def _cache_key(key: str) -> str:
    # Per broker and per signed-in user: after switching either, nothing cached for the
    # other is ever handed out.
    return f"{_endpoints().api_url}|{_login().username()}|{key}"


def _credentials_for(
    cache: CredentialCache, key: str, *, request_id: str | None, reason: str | None
) -> dict[str, str]:
    """Cached credentials if still good and not revoked; else the request's own, or a new
    request (for a reason) once the last one ended naturally. Never a new request while
    one is pending, after a denial, or after a revocation."""
    entry = cache.get(key)
    if entry and entry.get("revoked"):
        _fail(_revoked_message(str(entry["request_id"])), EXIT_DENIED)
    with _client() as client:
        known = str(entry["request_id"]) if entry and entry.get("request_id") else request_id
        if known is None:  # a reason never asked before
            return _ask(client, cache, key, reason or "")
        try:
            state: dict[str, Any] | None = client.status(known)
        except NotFoundError:
            state = None
        if state is None or state.get("revoked_at"):
            cache.mark_revoked(key, known)  # fail closed: an unknown grant counts as revoked
            _fail(_revoked_message(known), EXIT_DENIED)
        fresh = cache.fresh(key)
        if fresh is not None:
            return fresh
        if state["status"] == "pending":
            _fail(f"request {known} still waits for a person's approval", EXIT_PENDING)
        if state["status"] != "approved":
            _fail(
                f"request {known} was {state['status']}; run `agent-zero request` to ask again",
                EXIT_DENIED,
            )
        try:
            answer = client.get(known)  # collects a person's approval, once
        except ConflictError:
            answer = None
        if answer is not None and answer.credentials is not None:
            cache.put(key, answer.request_id, _process_credentials(answer))
            found = cache.fresh(key)
            if found is not None:
                return found
        if reason is None:
            _fail(
                f"request {known}'s credentials were handed out before and are not cached "
                "here any more; ask again with `agent-zero request`",
                EXIT_DENIED,
            )
        return _ask(client, cache, key, reason)  # the last grant ended on its own


def _ask(client: BrokerClient, cache: CredentialCache, key: str, reason: str) -> dict[str, str]:
    answer = client.request_access(reason)
    # Remembered even when pending or denied, so the next call looks at this request
    # instead of filing another one.
    cache.put(key, answer.request_id, _process_credentials(answer))
    _finish(answer)
    fresh = cache.fresh(key)
    if fresh is None:
        _fail("the broker issued no AWS credentials for this request", EXIT_FAILED)
    return fresh


def _revoked_message(request_id: str) -> str:
    return (
        f"request {request_id} was revoked; not asking again on my own. "
        "Run `agent-zero request` if you still need access."
    )


# --- grants and approvals --------------------------------------------------------------------


def _requests_table(title: str, records: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("request", "who", "status", "grants", "reason", "asked"):
        table.add_column(column)
    for record in records:
        status = "revoked" if record.get("revoked_at") else str(record["status"])
        grants = "; ".join(
            f"{g['resource_key']}: {', '.join(g['actions'])}" for g in record.get("grants", [])
        )
        who = str(record["principal_id"])
        if record.get("acting_agent_id"):
            who += f" via {record['acting_agent_id']}"
        table.add_row(
            str(record["request_id"]),
            who,
            status,
            grants or "—",
            str(record["reason"])[:60],
            str(record["received_at"])[:19],
        )
    return table


@app.command()
def grants(
    show_all: Annotated[bool, typer.Option("--all", help="Past requests too.")] = False,
) -> None:
    """Your requests: active grants first.

    Example: agent-zero grants --all
    """
    with _errors(), _client() as client:
        me = client.me()["principal_id"]
        records = [r for r in client.list_requests() if r["principal_id"] == me]
        now = datetime.now(UTC).isoformat()
        active = [
            r
            for r in records
            if r["status"] == "approved"
            and not r.get("revoked_at")
            and (r.get("expires_at") is None or str(r["expires_at"]) > now)
        ]
        out.print(_requests_table("Active", active) if active else "No active grants.")
        if show_all:
            past = [r for r in records if r not in active]
            out.print(_requests_table("Past", past) if past else "No past requests.")


@app.command()
def revoke(request_id: Annotated[str, typer.Argument(help="The request to revoke.")]) -> None:
    """Cut a grant's live credentials now (yours, or anyone's if you are an admin).

    Example: agent-zero revoke req-20261126-0a1b2c3d
    """
    with _errors(), _client() as client:
        client.revoke(request_id)
        err.print(f"Revoked {request_id}.")


@app.command()
def approvals() -> None:
    """Requests waiting for a person (approvers).

    Example: agent-zero approvals
    """
    with _errors(), _client() as client:
        pending = client.list_requests(status="pending")
        out.print(_requests_table("Waiting for a person", pending) if pending else "Nothing waits.")


def _parse_grants(values: list[str]) -> list[dict[str, Any]]:
    found: dict[str, list[str]] = {}
    for value in values:
        resource, _, action = value.partition("=")
        if not resource or not action:
            _fail(f"--grant is RESOURCE=ACTION, like transactions=dynamodb:Query: {value!r}", 2)
        found.setdefault(resource, []).append(action)
    return [{"resource_key": k, "actions": sorted(v)} for k, v in sorted(found.items())]


@app.command()
def approve(
    request_id: Annotated[str, typer.Argument(help="The pending request.")],
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="RESOURCE=ACTION to grant (repeat); default: what the reviewer proposed.",
        ),
    ] = None,
    duration: Annotated[int, typer.Option(help="Seconds, 900 to 3600.")] = 900,
) -> None:
    """Approve a pending request (never your own).

    Example: agent-zero approve req-20261126-0a1b2c3d --grant transactions=dynamodb:Query
    """
    with _errors(), _client() as client:
        chosen = _parse_grants(grant) if grant else None
        if chosen is None:
            record = next(
                (
                    r
                    for r in client.list_requests(status="pending")
                    if r["request_id"] == request_id
                ),
                None,
            )
            if record is None:
                raise NotFoundError(f"there is no pending request {request_id}")
            chosen = [
                {"resource_key": g["resource_key"], "actions": g["actions"]}
                for g in record.get("grants", [])
            ]
            if not chosen:
                _fail("nothing was proposed: name the grants with --grant", EXIT_USAGE)
        client.approve(request_id, grants=chosen, duration_seconds=duration)
        err.print(f"Approved {request_id}.")


@app.command()
def deny(
    request_id: Annotated[str, typer.Argument(help="The pending request.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (the requester reads it).")],
) -> None:
    """Deny a pending request, saying why.

    Example: agent-zero deny req-20261126-0a1b2c3d --reason "Use the monthly report instead."
    """
    with _errors(), _client() as client:
        client.deny(request_id, reason=reason)
        err.print(f"Denied {request_id}.")


# --- administration ----------------------------------------------------------------------------


@app.command()
def principals() -> None:
    """People and agents the broker knows (admins).

    Example: agent-zero principals
    """
    with _errors(), _client() as client:
        table = Table(title="Principals")
        for column in ("id", "name", "kind", "groups", "enabled"):
            table.add_column(column)
        for p in client.principals():
            table.add_row(
                str(p["id"]),
                str(p["display_name"]),
                str(p["kind"]),
                ", ".join(sorted(p.get("groups", []))),
                "yes" if p.get("enabled", True) else "no",
            )
        out.print(table)


@policy_app.command("get")
def policy_get(principal: Annotated[str, typer.Argument(help="Whose policy.")]) -> None:
    """Print a principal's current policy.

    Example: agent-zero policy get ben.okafor
    """
    with _errors(), _client() as client:
        current = client.policy_history(principal).get("current")
        if not current:
            _fail(f"{principal} has no policy", EXIT_FAILED)
        err.print(f"version {current['version']} by {current['author_id']}")
        sys.stdout.write(str(current["text"]) + "\n")


def _policy_text(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        _fail("give exactly one of --text and --file", EXIT_USAGE)
    return text if text is not None else (file or Path()).read_text()


@policy_app.command("set")
def policy_set(
    principal: Annotated[str, typer.Argument(help="Whose policy.")],
    text: Annotated[str | None, typer.Option("--text", help="The new policy.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read it from a file.")] = None,
    expected_version: Annotated[
        int | None,
        typer.Option(help="Refuse if the current version is not this one (default: current)."),
    ] = None,
) -> None:
    """Write a new version (needs an approved policy-store grant).

    Example: agent-zero policy set ben.okafor --file ben.txt --expected-version 3
    """
    with _errors(), _client() as client:
        body = _policy_text(text, file)
        if expected_version is None:
            current = client.policy_history(principal).get("current")
            expected_version = int(current["version"]) if current else 0
        written = client.write_policy(principal, body, expected_version=expected_version)
        err.print(f"Saved version {written['version']} of {principal}'s policy.")


@policy_app.command("history")
def policy_history(principal: Annotated[str, typer.Argument(help="Whose policy.")]) -> None:
    """Every version of a principal's policy.

    Example: agent-zero policy history ben.okafor
    """
    with _errors(), _client() as client:
        table = Table(title=f"Policy of {principal}")
        for column in ("version", "author", "when", "text"):
            table.add_column(column)
        for version in client.policy_history(principal).get("history", []):
            table.add_row(
                str(version["version"]),
                str(version["author_id"]),
                str(version["created_at"])[:19],
                str(version["text"])[:80],
            )
        out.print(table)


@policy_app.command("try")
def policy_try(
    principal: Annotated[str, typer.Argument(help="Whose policy.")],
    reason: Annotated[str, typer.Option("--reason", help="A sample request's reason.")],
    text: Annotated[str | None, typer.Option("--text", help="The draft policy.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read it from a file.")] = None,
) -> None:
    """Run the reviewer and the rules on a draft policy; nothing is saved or granted.

    Example: agent-zero policy try ben.okafor --file draft.txt --reason "Check my balance"
    """
    with _errors(), _client() as client:
        trial = client.try_policy(principal, _policy_text(text, file), reason=reason)
        out.print(
            Text.assemble((trial["outcome"].replace("_", " "), "bold"), f": {trial['explanation']}")
        )
        for grant in trial.get("grants", []):
            out.print(f"  {grant['resource_key']}: {', '.join(grant['actions'])}")
        for violation in trial.get("violations", []):
            out.print(f"  rule: {violation}")


@app.command()
def log(
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Only this request's records.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing new records.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Records per page.")] = 100,
) -> None:
    """The audit log, oldest first (admins).

    Example: agent-zero log --follow
    """
    with _errors(), _client() as client:
        offset = 0
        while True:
            page = client.audit(request_id=request_id, offset=offset, limit=limit)
            for record in page:
                details = ", ".join(f"{k}={v}" for k, v in record.get("details", {}).items())
                out.print(
                    f"{record['sequence']:>6}  {str(record['at'])[:19]}  "
                    f"{record['event']:<18} {record.get('request_id') or '-'}  {details}"
                )
            offset += len(page)
            if len(page) == limit:
                continue
            if not follow:
                return
            time.sleep(2.0)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain.

    Example: agent-zero audit verify
    """
    with _errors(), _client() as client:
        result = client.verify_audit()
        if result.get("verified"):
            out.print("The audit log's hash chain verifies.")
            return
        for problem in result.get("problems", []):
            err.print(f"  {problem}")
        _fail("the audit log's hash chain does not verify", EXIT_FAILED)


@app.command()
def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (as the signed-in user) or http (bearer tokens).")
    ] = "stdio",
    port: Annotated[int, typer.Option(help="http only: the port on 127.0.0.1.")] = 8471,
    hand_out_credentials: Annotated[
        bool,
        typer.Option(
            "--hand-out-credentials",
            help="Give minted credentials to the MCP client (default: the server keeps them).",
        ),
    ] = False,
) -> None:
    """Serve the MCP tools: over stdio as the signed-in user, or over streamable HTTP where
    every request carries its user's Cognito access token.

    Example (Claude Desktop): {"command": "agent-zero", "args": ["mcp"]}
    """
    if transport not in ("stdio", "http"):
        _fail("--transport is stdio or http", EXIT_USAGE)
    with _errors():
        if transport == "http":
            from agent_zero.mcp.__main__ import main as serve_http

            args = ["--transport", "http", "--port", str(port)]
            args += ["--data-dir", str(_settings().data_dir)]
            if hand_out_credentials:
                args.append("--hand-out-credentials")
            raise typer.Exit(serve_http(args))
        from agent_zero.mcp.server import build_server, run_stdio

        endpoints = _endpoints()
        login_state = _login()
        login_state.access_token()  # fail now, clearly, if nobody is signed in
        server = build_server(
            api_url=endpoints.api_url,
            region=endpoints.region,
            aws_endpoint_url=_sandbox_endpoint(),
            hand_out_credentials=hand_out_credentials,
            token_source=login_state.access_token,
        )
        run_stdio(server)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="agent-zero", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
