"""The composition root: every adapter is built here, once, from Settings.

Nothing else constructs clients or stores. The sandbox wiring reads the
running sandbox's ``sandbox.json`` for its endpoint and the broker host's key;
on AWS the broker's own role credentials come from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session

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
    from agent_zero.review.llm import LlmReviewerConfig

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
    from agent_zero.sandbox.demo_bank import (
        BROKER_ROLE_NAME,
        demo_bank,
    )
    from agent_zero.sandbox.record import read_record

    record = read_record(settings.data_dir)
    if record is None:
        raise UnavailableError(
            f"no sandbox record in {settings.data_dir}: start the sandbox with `agent-zero up`"
        )
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
    session = boto3.Session(botocore_session=core, region_name=record.region)
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
