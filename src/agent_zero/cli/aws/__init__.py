"""``agent-zero aws``: load the demo bank into a deployed AgentZeroStack, or take it out."""

from agent_zero.cli.aws.commands import aws_app

__all__ = ["aws_app"]
