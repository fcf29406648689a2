"""The four Lambda functions: one asset (this package), arm64, Python 3.12, JSON logs.

Everything a function needs arrives as ``AGENT_ZERO_*`` variables that name fields of
``agent_zero.settings.Settings`` (checked here, so a typo fails the synth, not a cold
start). Secrets never do: a function gets a secret's ARN and reads it once per cold start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from agent_zero.settings import Settings

SettingValue = str | bool | int | Sequence[str]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What differs between the functions."""

    name: str
    handler: str
    description: str
    timeout_seconds: int
    memory_mb: int = 1024  # CPU comes with memory: the imports (pydantic, pydantic-ai) need it


BROKER_API = FunctionSpec(
    "agent-zero-broker-api",
    "agent_zero.lambdas.broker_api.handler",
    "Agent Zero broker API (REST, IAM auth): the support agent's access requests.",
    timeout_seconds=29,  # API Gateway REST integrations end at 29 s
)
WEB = FunctionSpec(
    "agent-zero-web",
    "agent_zero.lambdas.web.handler",
    "Agent Zero web app and /v1 API (HTTP API, Cognito bearer tokens).",
    timeout_seconds=30,  # API Gateway HTTP integrations end at 30 s
)
AGENT_SOCKET = FunctionSpec(
    "agent-zero-agent-socket",
    "agent_zero.lambdas.agent_socket.handler",
    "Agent Zero chat WebSocket routes: $connect, $disconnect, $default.",
    timeout_seconds=15,
)
AGENT_WORKER = FunctionSpec(
    "agent-zero-agent-worker",
    "agent_zero.lambdas.agent_socket.worker",
    "Agent Zero chat turn, invoked asynchronously once per message (never retried).",
    timeout_seconds=120,  # a turn's own bound (agent_timeout_seconds) plus posting frames
)
ALL = (BROKER_API, WEB, AGENT_SOCKET, AGENT_WORKER)


def settings_environment(values: Mapping[str, SettingValue]) -> dict[str, str]:
    """``AGENT_ZERO_<FIELD>`` variables; ValueError for a name Settings does not have."""
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ValueError(f"not Settings fields: {', '.join(unknown)}")
    environment = {}
    for field, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            text = json.dumps(list(value))  # pydantic-settings reads sequences as JSON
        environment[f"AGENT_ZERO_{field.upper()}"] = text
    return environment


class Function(Construct):
    """A function, its log group (kept with a retention) and nothing it may do yet."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        code: lambda_.Code,
        role: iam.Role,
        settings: Mapping[str, SettingValue],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=spec.name,
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=spec.handler,
            role=role,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment=settings_environment(settings),
            log_group=self.log_group,
        )

    def set(self, values: Mapping[str, SettingValue]) -> None:
        """Add settings known only once other resources exist (API URLs)."""
        for name, value in settings_environment(values).items():
            self.function.add_environment(name, value)
