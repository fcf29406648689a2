"""The IAM policy language: parse, validate and evaluate policies as AWS does.

Pure: imports only the standard library and pydantic, does no I/O. Pass
``Policy`` objects from ``parse_policy`` to ``evaluate`` when deciding many
requests against the same policies; plain documents are parsed on each call.
"""

from agent_zero.domain.errors import MalformedPolicyError
from agent_zero.iam.context import RequestContext
from agent_zero.iam.evaluation import Decision, EvaluationResult, StatementMatch, evaluate
from agent_zero.iam.parsing import load_policy_json, parse_policy
from agent_zero.iam.policy import Effect, Policy, PolicyKind, Statement
from agent_zero.iam.principals import Caller, CallerKind, identify_caller

__all__ = [
    "Caller",
    "CallerKind",
    "Decision",
    "Effect",
    "EvaluationResult",
    "MalformedPolicyError",
    "Policy",
    "PolicyKind",
    "RequestContext",
    "Statement",
    "StatementMatch",
    "evaluate",
    "identify_caller",
    "load_policy_json",
    "parse_policy",
]
