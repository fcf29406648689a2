"""``AgentZeroStack``: everything the sandbox runs, on AWS, in one CloudFormation stack.

Context (``-c key=value``): ``demoBank`` (``true`` adds the demo bank's tables),
``llmProvider`` / ``llmModel`` / ``llmBaseUrl`` / ``agentModel`` (the reviewer's and the
agent's model; the API key goes into a secret, never into the template),
``threatProtection`` (``audit`` | ``enforced`` | ``off``), ``alarmEmail`` and
``logRetentionDays``. The stack is environment-agnostic: account and region are tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast, get_args

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, Node

from agent_zero.sandbox.demo_bank import REVOCATION_POLICY_NAME, TARGET_ACCESS_POLICY_NAME
from agent_zero.sandbox.demo_bank.people import SUPPORT_ASSISTANT_ID
from agent_zero.settings import LlmProvider
from infra import access, functions
from infra.apis import AgentSocketApi, BrokerApi, WebApi
from infra.functions import Function, SettingValue
from infra.identity import Identity, ThreatProtection
from infra.lambda_bundle import Asset
from infra.monitoring import Monitoring
from infra.tables import CONNECTIONS_TABLE, REVOKED_SESSIONS_TABLE, TABLE_PREFIX, Tables

STACK_NAME = "AgentZeroStack"
LLM_KEY_PLACEHOLDER = "replace-me"  # the operator puts the real key in with put-secret-value
# 64 lowercase hex digits = 32 random bytes: the key is bytes.fromhex(SecretString).
SESSION_KEY_HEX_DIGITS = 64
_NOT_HEX = "ghijklmnopqrstuvwxyz"
# The broker's DynamoDB calls (adapters/dynamodb): transactions are authorized per item.
# Its stores append and replace with conditional puts: never DeleteItem or UpdateItem.
_BROKER_ITEM_ACTIONS = ("GetItem", "PutItem", "ConditionCheckItem", "Query", "Scan")
_SESSION_ITEM_ACTIONS = ("GetItem", "PutItem")
# $connect puts a connection; the worker only reads it, ends its turn and forgets it.
_CONNECTION_ITEM_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
_WORKER_CONNECTION_ACTIONS = ("GetItem", "UpdateItem", "DeleteItem")
_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


@dataclass(frozen=True, slots=True)
class StackOptions:
    """The stack's choices, read from CDK context."""

    demo_bank: bool = False
    llm_provider: str = "none"
    llm_model: str = ""
    llm_base_url: str | None = None
    agent_model: str = ""
    threat_protection: ThreatProtection = "audit"
    alarm_email: str | None = None
    log_retention_days: int = 90

    @classmethod
    def from_context(cls, node: Node) -> StackOptions:
        """The options from ``-c key=value`` (values arrive as strings from the CLI)."""

        def text(key: str) -> str | None:
            value = node.try_get_context(key)
            return None if value is None else str(value)

        demo = (text("demoBank") or "false").lower()
        if demo not in {"true", "false"}:
            raise ValueError(f"demoBank must be true or false, not {demo!r}")
        provider = text("llmProvider") or "none"
        if provider not in get_args(LlmProvider):
            raise ValueError(f"llmProvider must be one of {get_args(LlmProvider)}")
        threat = text("threatProtection") or "audit"
        if threat not in get_args(ThreatProtection):
            raise ValueError(f"threatProtection must be one of {get_args(ThreatProtection)}")
        if provider not in {"none", "bedrock"} and not text("llmModel"):
            raise ValueError("llmModel is required with llmProvider")
        retention = int(text("logRetentionDays") or 90)
        if retention not in _RETENTION:
            raise ValueError(f"logRetentionDays must be one of {sorted(_RETENTION)}")
        return cls(
            demo_bank=demo == "true",
            llm_provider=provider,
            llm_model=text("llmModel") or "",
            llm_base_url=text("llmBaseUrl"),
            agent_model=text("agentModel") or "",
            threat_protection=cast(ThreatProtection, threat),
            alarm_email=text("alarmEmail"),
            log_retention_days=retention,
        )


class AgentZeroStack(cdk.Stack):
    """The broker, the web app, the chat agent and their state, identity and alarms."""

    def __init__(
        self, scope: Construct, construct_id: str, *, options: StackOptions, asset: Asset
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Agent Zero: just-in-time AWS access for people and AI agents.",
        )
        self.options = options
        retention = _RETENTION[options.log_retention_days]
        tables = Tables(self, "Tables", demo_bank=options.demo_bank)
        identity = Identity(self, "Identity", threat_protection=options.threat_protection)
        llm_key = secretsmanager.Secret(
            self,
            "LlmApiKey",
            secret_name="agent-zero/llm-api-key",  # noqa: S106 - a name, not a value
            description="The model provider's API key (set it with put-secret-value).",
            secret_string_value=cdk.SecretValue.unsafe_plain_text(LLM_KEY_PLACEHOLDER),
        )
        session_key = secretsmanager.Secret(
            self,
            "WebSessionKey",
            secret_name="agent-zero/web-session-key",  # noqa: S106 - a name, not a value
            description="The web app's cookie key: 64 hex digits (32 bytes).",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SESSION_KEY_HEX_DIGITS,
                exclude_uppercase=True,
                exclude_punctuation=True,
                include_space=False,
                exclude_characters=_NOT_HEX,
                require_each_included_type=False,
            ),
        )

        broker_role = access.new_broker_role(self)
        targets = access.TargetRoles(
            self, "TargetRoles", broker=broker_role, user_pool_arn=identity.user_pool.user_pool_arn
        )
        agent_role = access.new_function_role(
            self,
            "AgentRole",
            name=access.AGENT_ROLE_NAME,
            purpose="Agent Zero support agent: calls the broker API; holds no AWS access.",
        )
        socket_role = access.new_function_role(
            self,
            "AgentSocketRole",
            name=access.AGENT_SOCKET_ROLE_NAME,
            purpose="Agent Zero chat routes: connections, and starting the agent's turns.",
        )

        code = lambda_.Code.from_asset(
            str(asset.path), asset_hash=asset.content_hash, asset_hash_type=cdk.AssetHashType.CUSTOM
        )
        common = self._common_settings(identity)
        model = self._model_settings(llm_key)

        def function(
            construct_id: str,
            spec: functions.FunctionSpec,
            role: iam.Role,
            settings: Mapping[str, SettingValue],
        ) -> Function:
            return Function(
                self,
                construct_id,
                spec=spec,
                code=code,
                role=role,
                settings={**common, **settings},
                log_retention=retention,
            )

        broker_api_fn = function(
            "BrokerApiFunction",
            functions.BROKER_API,
            broker_role,
            {**model, "agent_role_arn": agent_role.role_arn},
        )
        web_fn = function(
            "WebFunction",
            functions.WEB,
            broker_role,
            {
                **model,
                "agent_role_arn": agent_role.role_arn,
                "web_session_key_secret_arn": session_key.secret_arn,
                "web_secure_cookies": True,
            },
        )
        socket_fn = function(
            "AgentSocketFunction",
            functions.AGENT_SOCKET,
            socket_role,
            {"agent_worker_function": functions.AGENT_WORKER.name},
        )
        worker_fn = function("AgentWorkerFunction", functions.AGENT_WORKER, agent_role, model)
        # A retried turn would repeat its tool calls; a turn that waited a minute is stale.
        worker_fn.function.configure_async_invoke(
            retry_attempts=0, max_event_age=cdk.Duration.seconds(60)
        )

        broker_api = BrokerApi(
            self, "BrokerApi", function=broker_api_fn.function, caller=agent_role
        )
        web_api = WebApi(self, "WebApi", function=web_fn.function, log_retention=retention)
        socket_api = AgentSocketApi(self, "AgentSocketApi", function=socket_fn.function)
        web_fn.set({"allowed_hosts": [web_api.host], "agent_socket_url": socket_api.url})
        socket_fn.set({"websocket_management_url": socket_api.management_url})
        worker_fn.set(
            {
                "broker_api_url": broker_api.url,
                "websocket_management_url": socket_api.management_url,
            }
        )

        # The broker (both functions on its role).
        access.write_logs(broker_role, [broker_api_fn.log_group, web_fn.log_group])
        broker_tables = [*tables.broker.values()]
        access.use_items(
            broker_role,
            "BrokerState",
            actions=_BROKER_ITEM_ACTIONS,
            arns=[arn for table in broker_tables for arn in table.arns()],
        )
        access.use_items(
            broker_role,
            "SignedOutSessions",
            actions=_SESSION_ITEM_ACTIONS,
            arns=tables.revoked_sessions.arns(),
        )
        access.read_secrets(broker_role, [llm_key, session_key])
        # The agent worker: the broker API, its connections, the model.
        access.write_logs(agent_role, [worker_fn.log_group])
        agent_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CallBrokerApi",
                actions=["execute-api:Invoke"],
                resources=[broker_api.invoke_arn()],
            )
        )
        self._chat_access(agent_role, tables, socket_api, actions=_WORKER_CONNECTION_ACTIONS)
        access.read_secrets(agent_role, [llm_key])
        # The chat routes: connections, sign-outs (a signed-out token ends the chat), and
        # starting the worker.
        access.write_logs(socket_role, [socket_fn.log_group])
        self._chat_access(socket_role, tables, socket_api, actions=_CONNECTION_ITEM_ACTIONS)
        access.use_items(
            socket_role,
            "SignedOutSessions",
            actions=("GetItem",),
            arns=tables.revoked_sessions.arns(),
        )
        worker_fn.function.grant_invoke(socket_role)
        if options.llm_provider == "bedrock" and options.llm_model:
            for role in (broker_role, agent_role):
                access.invoke_bedrock(role, options.llm_model)

        every = (broker_api_fn, web_fn, socket_fn, worker_fn)
        monitoring = Monitoring(
            self,
            "Monitoring",
            decision_logs=[broker_api_fn.log_group, web_fn.log_group],
            functions=every,
            alarm_email=options.alarm_email,
        )
        self._outputs(
            tables=tables,
            identity=identity,
            urls={
                "BrokerApiUrl": broker_api.url,
                "WebUrl": web_api.url,
                "WebSocketUrl": socket_api.url,
                "WebSocketManagementUrl": socket_api.management_url,
            },
            roles={
                "BrokerRoleArn": broker_role.role_arn,
                "AgentRoleArn": agent_role.role_arn,
                "AgentSocketRoleArn": socket_role.role_arn,
                **{
                    "".join(p.title() for p in n.split("-")[3:]) + "RoleArn": role.attr_arn
                    for n, role in targets.roles.items()
                },
            },
            secrets={
                "LlmApiKeySecretArn": llm_key.secret_arn,
                "WebSessionKeySecretArn": session_key.secret_arn,
            },
            more={
                "BrokerApiLogGroup": broker_api_fn.log_group.log_group_name,
                "WebLogGroup": web_fn.log_group.log_group_name,
                "AgentWorkerLogGroup": worker_fn.log_group.log_group_name,
                "AlarmTopicArn": monitoring.topic.topic_arn,
            },
        )
        self.template_options.metadata = {
            "cfn-lint": {
                "config": {
                    # CDK puts a DependsOn next to the GetAtt of each function's role.
                    "ignore_checks": ["W3005"]
                }
            }
        }

    def _common_settings(self, identity: Identity) -> dict[str, SettingValue]:
        return {
            "environment": "aws",
            "storage": "dynamodb",
            "region": cdk.Aws.REGION,
            "account_id": cdk.Aws.ACCOUNT_ID,
            "table_prefix": TABLE_PREFIX,
            "connections_table": CONNECTIONS_TABLE,
            "revoked_sessions_table": REVOKED_SESSIONS_TABLE,
            "cognito_user_pool_id": identity.user_pool.user_pool_id,
            "cognito_client_id": identity.client.user_pool_client_id,
            "agent_id": SUPPORT_ASSISTANT_ID,
            "revocation_policy_name": REVOCATION_POLICY_NAME,
            "target_policy_names": [TARGET_ACCESS_POLICY_NAME],
            "log_format": "json",
        }

    def _model_settings(self, llm_key: secretsmanager.Secret) -> dict[str, SettingValue]:
        options = self.options
        settings: dict[str, SettingValue] = {
            "llm_provider": options.llm_provider,
            "llm_model": options.llm_model,
        }
        if options.llm_provider not in {"none", "bedrock"}:
            settings["llm_api_key_secret_arn"] = llm_key.secret_arn
        if options.llm_base_url:
            settings["llm_base_url"] = options.llm_base_url
        if options.agent_model:
            settings["agent_model"] = options.agent_model
        return settings

    @staticmethod
    def _chat_access(
        role: iam.Role, tables: Tables, socket_api: AgentSocketApi, *, actions: tuple[str, ...]
    ) -> None:
        access.use_items(role, "ChatConnections", actions=actions, arns=tables.connections.arns())
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PostToChatConnections",
                actions=["execute-api:ManageConnections"],
                resources=[socket_api.post_to_connections_arn()],
            )
        )

    def _outputs(
        self,
        *,
        tables: Tables,
        identity: Identity,
        urls: Mapping[str, str],
        roles: Mapping[str, str],
        secrets: Mapping[str, str],
        more: Mapping[str, str],
    ) -> None:
        values: dict[str, str] = {
            **urls,
            "Region": cdk.Aws.REGION,
            "UserPoolId": identity.user_pool.user_pool_id,
            "UserPoolClientId": identity.client.user_pool_client_id,
            "TablePrefix": TABLE_PREFIX,
            **{f"{label}Table": table.name for label, table in tables.broker.items()},
            "ConnectionsTable": tables.connections.name,
            "RevokedSessionsTable": tables.revoked_sessions.name,
            "DemoBank": "true" if tables.demo else "false",
            # catalog key -> table name, for `agent-zero aws seed`
            "DemoBankTables": self.to_json_string({k: t.name for k, t in tables.demo.items()}),
            **roles,
            **secrets,
            **more,
        }
        for key, value in values.items():
            cdk.CfnOutput(self, key, value=value)
