"""The three API Gateway APIs in front of the functions.

- the broker's REST API: every method ``AWS_IAM``, and a resource policy that lets only
  the agent worker's role invoke it (API Gateway then passes a verified caller ARN);
- the web app's HTTP API: one ``$default`` route, payload format 2.0;
- the agent's WebSocket API: ``$connect``, ``$disconnect`` and ``$default``.

Each Lambda permission names its own API's execute-api ARN, so no other API (or
account) can invoke the function with a forged request context.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

STAGE = "prod"
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(
        self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat
    ) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class BrokerApi(Construct):
    """The broker's REST API, callable only by ``caller`` (the agent worker's role)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, caller: iam.IRole
    ) -> None:
        super().__init__(scope, construct_id)
        everything = ["execute-api:/*"]
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AgentWorkerInvokes",
                    principals=[iam.ArnPrincipal(caller.role_arn)],
                    actions=["execute-api:Invoke"],
                    resources=everything,
                ),
                # Same-account callers pass on their own identity policy alone: deny them.
                iam.PolicyStatement(
                    sid="NobodyElse",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["execute-api:Invoke"],
                    resources=everything,
                    conditions={"ArnNotEquals": {"aws:PrincipalArn": caller.role_arn}},
                ),
            ]
        )
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name="agent-zero-broker",
            description="Agent Zero broker API: SigV4-signed calls of the support agent.",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,  # an account-wide setting: not this stack's to change
            policy=policy,
            default_method_options=apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM
            ),
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=20,
                throttling_burst_limit=40,
                metrics_enabled=True,
            ),
        )
        # Test invocations from the console skip IAM auth: no permission for them.
        integration = apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        self.api.root.add_method("ANY", integration)
        self.api.root.add_proxy(default_integration=integration, any_method=True)
        self.api.node.try_remove_child("Endpoint")  # the stack outputs it as BrokerApiUrl

    @property
    def url(self) -> str:
        """``https://{id}.execute-api.{region}.amazonaws.com/prod/``."""
        return self.api.url

    def invoke_arn(self) -> str:
        """Every method and path of the deployed stage."""
        return self.api.arn_for_execute_api("*", "/*", STAGE)


class WebApi(Construct):
    """The web app's HTTP API: pages and ``/v1/*`` for the CLI and MCP server."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name="agent-zero-web",
            description="Agent Zero web app and its /v1 API.",
            create_default_stage=False,
            default_integration=integrations.HttpLambdaIntegration(
                "WebIntegration",
                function,
                payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
            ),
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.stage = self.api.add_stage(
            "Stage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS)),
            ),
        )

    @property
    def host(self) -> str:
        """The Host header browsers send."""
        return f"{self.api.api_id}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"

    @property
    def url(self) -> str:
        """``https://{id}.execute-api.{region}.amazonaws.com/``."""
        return f"https://{self.host}/"


class AgentSocketApi(Construct):
    """The chat's WebSocket API; the route function verifies the token on ``$connect``."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)

        def route(name: str) -> apigwv2.WebSocketRouteOptions:
            return apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration(f"{name}Integration", function)
            )

        # Every frame goes to $default, which validates it (an unknown frame gets an error
        # frame, not API Gateway's silence); the route function also accepts "message".
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name="agent-zero-agent",
            description="Agent Zero support chat.",
            route_selection_expression="$request.body.type",
            connect_route_options=route("Connect"),
            disconnect_route_options=route("Disconnect"),
            default_route_options=route("Message"),
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40),
        )

    @property
    def url(self) -> str:
        """``wss://{id}.execute-api.{region}.amazonaws.com/prod``."""
        return self.stage.url

    @property
    def management_url(self) -> str:
        """``https://{id}.execute-api.{region}.amazonaws.com/prod`` (PostToConnection)."""
        return self.stage.callback_url

    def post_to_connections_arn(self) -> str:
        """PostToConnection on this stage's connections, nothing else."""
        stack = cdk.Stack.of(self)
        return stack.format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"{STAGE}/POST/@connections/*",
        )
