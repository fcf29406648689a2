"""Alarms: function errors, and a spike in the share of denied access decisions.

The broker logs one JSON line per decision, ``{"event": "access_decision", "outcome":
"approved" | "denied" | "pending" | "failed", ...}``; two metric filters count all
decisions and the denied ones, and the alarm watches their ratio once there are enough
decisions to mean something. Alarms go to one SNS topic (``alarmEmail`` subscribes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.functions import Function

NAMESPACE = "AgentZero"
DECISIONS_METRIC = "AccessDecisions"
DENIED_METRIC = "DeniedAccessDecisions"
DECISIONS_PATTERN = '{ $.event = "access_decision" }'
DENIED_PATTERN = '{ ($.event = "access_decision") && ($.outcome = "denied") }'
PERIOD = cdk.Duration.minutes(5)
MIN_DECISIONS = 10  # fewer decisions in a period than this: no ratio worth alarming on
DENIED_PERCENT = 50


class Monitoring(Construct):
    """The alarm topic, the decision metrics and the alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        decision_logs: Sequence[logs.ILogGroup],
        functions: Iterable[Function],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", topic_name="agent-zero-alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = actions.SnsAction(self.topic)
        for index, group in enumerate(decision_logs):
            for name, pattern in (
                (DECISIONS_METRIC, DECISIONS_PATTERN),
                (DENIED_METRIC, DENIED_PATTERN),
            ):
                logs.MetricFilter(
                    self,
                    f"{name}{index}",
                    log_group=group,
                    metric_namespace=NAMESPACE,
                    metric_name=name,
                    metric_value="1",
                    filter_pattern=logs.FilterPattern.literal(pattern),
                )
        decisions, denied = (
            cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, statistic="Sum", period=PERIOD)
            for name in (DECISIONS_METRIC, DENIED_METRIC)
        )
        ratio = cloudwatch.MathExpression(
            expression=f"IF(decisions >= {MIN_DECISIONS}, 100 * denied / decisions, 0)",
            using_metrics={"decisions": decisions, "denied": denied},
            period=PERIOD,
            label="Denied decisions (%)",
        )
        spike = ratio.create_alarm(
            self,
            "DeniedRateSpike",
            alarm_name="agent-zero-denied-rate-spike",
            alarm_description=(
                f"Over {DENIED_PERCENT}% of at least {MIN_DECISIONS} access decisions in 5 "
                "minutes were denials: someone may be probing the broker."
            ),
            threshold=DENIED_PERCENT,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        spike.add_alarm_action(notify)
        for function in functions:
            metric = function.function.metric_errors(period=PERIOD, statistic="Sum")
            errors = metric.create_alarm(
                self,
                f"{function.node.id}Errors",
                alarm_name=f"{function.spec.name}-errors",
                alarm_description="The function failed (an unhandled error or a timeout).",
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            errors.add_alarm_action(notify)
