"""The composition root: every adapter is built here, once, from Settings.

Nothing else constructs clients or stores. The sandbox wiring reads the
running sandbox's ``sandbox.json`` for its endpoint and the broker host's key;
on AWS the broker's own role credentials come from the environment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from pydantic import SecretStr

from agent_zero.adapters.aws.console import FederationConsoleSignIn
from agent_zero.adapters.aws.iam import IamRevocationPolicy, IamRolePolicySource
from agent_zero.adapters.aws.sts import StsCredentialMinter, refreshing_role_credentials
from agent_zero.adapters.sqlite import (
    SqliteAuditLog,
    SqliteDatabase,
    SqlitePolicyStore,
    SqlitePrincipalDirectory,
    SqliteRequestStore,
)
from agent_zero.adapters.system import RandomIds, SystemClock
from agent_zero.broker.access import Broker
from agent_zero.broker.ports import Clock, PolicyStore, PrincipalDirectory, Reviewer
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.errors import UnavailableError
from agent_zero.review.human import HumanReviewer
from agent_zero.settings import Settings

if TYPE_CHECKING:
    from agent_zero.adapters.dynamodb.revoked_sessions import DynamoDBRevokedSessions
    from agent_zero.agent.support import Resource
    from agent_zero.review.llm import LlmReviewerConfig
    from agent_zero.sandbox.record import SandboxRecord

BROKER_DATABASE = "broker.sqlite3"


@dataclass(frozen=True, slots=True)
class CatalogWithRolePolicies:
    """A fixed catalog; the target roles' policies read live from IAM for each proof."""

    fixed: Catalog
    policies: IamRolePolicySource

    def catalog(self) -> Catalog:
        """The catalog."""
        return self.fixed

    def role_policies(self, role_arn: str) -> list[dict[str, Any]]:
        """The role's policies as IAM holds them now."""
        return self.policies.role_policies(role_arn)


def build_reviewer(settings: Settings) -> Reviewer:
    """The reviewer the settings name; no model means every request waits for a person."""
    if settings.llm_provider == "none":
        return HumanReviewer()
    from agent_zero.review.llm import LlmReviewerConfig, build_llm_reviewer

    config = LlmReviewerConfig(
        provider=settings.llm_provider,
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
    )
    return build_llm_reviewer(config)


def agent_model_config(settings: Settings) -> LlmReviewerConfig | None:
    """The support agent's model: the reviewer's provider, its own model name when set."""
    from agent_zero.review.llm import LlmReviewerConfig

    if settings.llm_provider == "none":
        return None
    return LlmReviewerConfig(
        provider=settings.llm_provider,
        model=settings.agent_model or settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
    )


def sandbox_broker(
    settings: Settings,
    *,
    reviewer: Reviewer | None = None,
    clock: Clock | None = None,
) -> Broker:
    """The broker against a running sandbox, its state in the data directory."""
    from agent_zero.sandbox.demo_bank import demo_bank
    from agent_zero.sandbox.record import read_record

    record = read_record(settings.data_dir)
    if record is None:
        raise UnavailableError(
            f"no sandbox record in {settings.data_dir}: start the sandbox with `agent-zero up`"
        )
    session = broker_role_session(record)
    sts = session.client("sts", endpoint_url=record.aws_endpoint_url)
    iam = session.client("iam", endpoint_url=record.aws_endpoint_url)
    bank = demo_bank(account_id=record.account_id, region=record.region)
    database = SqliteDatabase(settings.data_dir / BROKER_DATABASE)
    directory = SqlitePrincipalDirectory(database)
    policies = SqlitePolicyStore(database)
    system_clock = clock or SystemClock()
    seed_directory(directory, policies, bank, clock=system_clock)
    return Broker(
        directory=directory,
        policies=policies,
        requests=SqliteRequestStore(database),
        audit=SqliteAuditLog(database),
        catalogs=CatalogWithRolePolicies(
            bank.catalog(record.cognito.user_pool_id),
            IamRolePolicySource(iam, policy_names=settings.target_policy_names),
        ),
        reviewer=reviewer or build_reviewer(settings),
        minter=StsCredentialMinter(sts),
        revoker=IamRevocationPolicy(
            iam, policy_name=settings.revocation_policy_name, clock=system_clock.now
        ),
        clock=system_clock,
        ids=RandomIds(),
        escalate_when_reviewer_fails=settings.escalate_when_reviewer_fails,
        # The sandbox's stand-in console shows what the session may do.
        console=FederationConsoleSignIn(
            federation_url=f"{record.aws_endpoint_url}/federation",
            destination=f"{record.aws_endpoint_url}/console",
        ),
    )


def broker_role_session(record: SandboxRecord) -> boto3.Session:
    """The sandbox broker host's session as the broker role, renewed before it expires."""
    from agent_zero.sandbox.demo_bank import BROKER_ROLE_NAME

    host = boto3.Session(
        aws_access_key_id=record.broker_host_credentials.access_key_id,
        aws_secret_access_key=record.broker_host_credentials.secret_access_key,
        region_name=record.region,
    )
    broker_credentials = refreshing_role_credentials(
        host.client("sts", endpoint_url=record.aws_endpoint_url),
        role_arn=record.roles[BROKER_ROLE_NAME],
        session_name="agent-zero-broker",
    )
    core = botocore.session.get_session()
    # botocore has no public setter for self-refreshing credentials; this is its idiom.
    core._credentials = broker_credentials
    return boto3.Session(botocore_session=core, region_name=record.region)


def seed_directory(
    directory: PrincipalDirectory, policies: PolicyStore, bank: Any, *, clock: Clock
) -> None:
    """Load the demo principals and their first policy versions, leaving later edits alone."""
    for principal in bank.principals():
        if directory.get(principal.id) is None:
            directory.put(principal)
    for policy in bank.policies:
        if policies.current(policy.principal_id) is None:
            policies.write(
                policy.principal_id,
                text=policy.text,
                author_id=policy.author_id,
                at=clock.now(),
                expected_version=0,
            )


# --- AWS: the same broker on DynamoDB, STS and IAM, for the Lambda entry points -----------

MIN_SESSION_SECRET_CHARS = 32


def read_secret(secrets: Any, arn: str) -> SecretStr:
    """A Secrets Manager string, read once per cold start (never from the environment)."""
    try:
        value = secrets.get_secret_value(SecretId=arn)["SecretString"]
    except Exception as error:
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) or "error"
        raise UnavailableError(f"the secret could not be read ({code})") from None
    return SecretStr(str(value))


def with_secrets(settings: Settings, secrets: Any) -> Settings:
    """Settings with the model's API key filled in from Secrets Manager, when named."""
    if settings.llm_api_key_secret_arn is None or settings.llm_api_key is not None:
        return settings
    key = read_secret(secrets, settings.llm_api_key_secret_arn)
    return settings.model_copy(update={"llm_api_key": key})


def web_session_key(settings: Settings, secrets: Any) -> bytes:
    """The cookie key: SHA-256 of a generated secret string every web instance shares."""
    if settings.web_session_key_secret_arn is None:
        raise UnavailableError("AGENT_ZERO_WEB_SESSION_KEY_SECRET_ARN is not set")
    secret = read_secret(secrets, settings.web_session_key_secret_arn).get_secret_value()
    if len(secret) < MIN_SESSION_SECRET_CHARS:
        raise UnavailableError("the web session secret is too short to derive a key from")
    return hashlib.sha256(b"agent-zero web session key v1\x00" + secret.encode()).digest()


def _required(value: str | None, name: str) -> str:
    if not value:
        raise UnavailableError(f"AGENT_ZERO_{name.upper()} is not set")
    return value


def aws_catalog(settings: Settings) -> Catalog:
    """The catalog file the deployment ships, or the demo bank's for this account."""
    if settings.catalog_file is not None:
        return Catalog.model_validate_json(settings.catalog_file.read_text())
    from agent_zero.sandbox.demo_bank import demo_bank

    bank = demo_bank(
        account_id=_required(settings.account_id, "account_id"), region=settings.region
    )
    return bank.catalog(_required(settings.cognito_user_pool_id, "cognito_user_pool_id"))


def signed_out_sessions(settings: Settings, session: boto3.Session) -> DynamoDBRevokedSessions:
    """Web sessions (and their tokens) signed out early, in the table every function reads."""
    from agent_zero.adapters.dynamodb.revoked_sessions import DynamoDBRevokedSessions

    return DynamoDBRevokedSessions(
        client=session.client("dynamodb", endpoint_url=settings.aws_endpoint_url),
        table=settings.revoked_sessions_table,
    )


def cognito_token_verifier(settings: Settings, *, clock: Clock | None = None) -> Any:
    """Access tokens of the configured pool and app client (JWKS over HTTPS on AWS)."""
    from agent_zero.web.auth import CognitoTokenVerifier, HttpJwksSource

    pool = _required(settings.cognito_user_pool_id, "cognito_user_pool_id")
    issuer = f"https://cognito-idp.{settings.region}.amazonaws.com/{pool}"
    base = settings.cognito_endpoint_url.rstrip("/") if settings.cognito_endpoint_url else issuer
    jwks = (
        f"{base}/{pool}/.well-known/jwks.json"
        if settings.cognito_endpoint_url
        else f"{base}/.well-known/jwks.json"
    )
    return CognitoTokenVerifier(
        issuer=issuer,
        client_id=_required(settings.cognito_client_id, "cognito_client_id"),
        jwks=HttpJwksSource(jwks),
        clock=(clock or SystemClock()).now,
    )


def aws_broker(
    settings: Settings,
    session: boto3.Session,
    *,
    reviewer: Reviewer | None = None,
    clock: Clock | None = None,
) -> Broker:
    """The broker as the AWS functions run it: state in DynamoDB, sessions from STS.

    ``session`` carries the function's own role (the broker role); every client is built
    from it here, once per cold start.
    """
    from agent_zero.adapters.dynamodb import (
        DynamoDBAuditLog,
        DynamoDBPolicyStore,
        DynamoDBPrincipalDirectory,
        DynamoDBRequestStore,
        DynamoDBTables,
    )

    tables = DynamoDBTables.with_prefix(settings.table_prefix)
    endpoint = settings.aws_endpoint_url
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    iam = session.client("iam", endpoint_url=endpoint)
    system_clock = clock or SystemClock()
    return Broker(
        directory=DynamoDBPrincipalDirectory(client=dynamodb, table=tables.principals),
        policies=DynamoDBPolicyStore(client=dynamodb, table=tables.policies),
        requests=DynamoDBRequestStore(client=dynamodb, table=tables.requests),
        audit=DynamoDBAuditLog(client=dynamodb, table=tables.audit),
        catalogs=CatalogWithRolePolicies(
            aws_catalog(settings),
            IamRolePolicySource(iam, policy_names=settings.target_policy_names),
        ),
        reviewer=reviewer or build_reviewer(settings),
        minter=StsCredentialMinter(session.client("sts", endpoint_url=endpoint)),
        revoker=IamRevocationPolicy(
            iam, policy_name=settings.revocation_policy_name, clock=system_clock.now
        ),
        clock=system_clock,
        ids=RandomIds(),
        escalate_when_reviewer_fails=settings.escalate_when_reviewer_fails,
        console=FederationConsoleSignIn(),
    )


def agent_resources(catalog: Catalog) -> dict[str, Resource]:
    """The tables the support agent's data tool may name, by catalog key."""
    from agent_zero.agent.support import Resource

    return {
        entry.key: Resource(
            table=(entry.arn or "").rsplit("table/", 1)[-1],
            partition_key=entry.row_scope.partition_key if entry.row_scope else "",
        )
        for entry in catalog
        if entry.arn and ":table/" in entry.arn and "/index/" not in entry.arn
    }


class StaticSecrets:
    """Secrets Manager's ``get_secret_value`` over a dict: the in-memory fake of that port."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3's name)
        """The secret string, or a ResourceNotFoundException-shaped failure."""
        if SecretId not in self._values:
            raise LookupError("ResourceNotFoundException")
        return {"SecretString": self._values[SecretId]}
