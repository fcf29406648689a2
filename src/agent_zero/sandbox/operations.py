"""Read an AWS API request into the IAM checks it needs, for every emulated service.

Each protocol names its operation differently: JSON services in ``X-Amz-Target``,
query services (STS, IAM) in the ``Action`` parameter, S3 in the method, path
and sub-resource. Anything the gateway cannot name precisely becomes an action
that only a wildcard grant allows, so an unknown request fails closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from agent_zero.iam.actions import lookup_action
from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.dynamodb_requests import Check, KeyLookup, dynamodb_checks
from agent_zero.sandbox.forwarding import query_parameters
from agent_zero.sandbox.iam_requests import IamNames, iam_checks
from agent_zero.sandbox.s3_requests import s3_checks
from agent_zero.sandbox.sigv4 import HttpRequest

_READ_LEVELS = frozenset({"Read", "List"})


@dataclass(frozen=True, slots=True)
class Operation:
    """One API call: its service and action, the checks it needs, whether it writes."""

    service: str
    name: str  # the API operation, e.g. "GetItem"
    checks: tuple[Check, ...]
    parameters: Mapping[str, str]  # query-protocol parameters (STS/IAM), else empty

    @property
    def action(self) -> str:
        """The IAM action named after the operation."""
        return f"{self.service}:{self.name}"

    @property
    def mutating(self) -> bool:
        """Whether the call may change state (unknown actions count as writes)."""
        info = lookup_action(self.action)
        return info is None or info.access_level not in _READ_LEVELS


def header(request: HttpRequest, name: str) -> str | None:
    """A request header, looked up without regard to case."""
    wanted = name.lower()
    for key, value in request.headers.items():
        if key.lower() == wanted:
            return value
    return None


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object a JSON-protocol request carries."""
    if not request.body:
        return {}
    try:
        decoded = json.loads(request.body)
    except (ValueError, RecursionError):
        raise AwsError("SerializationException", "the request body is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise AwsError("SerializationException", "the request body must be a JSON object")
    return decoded


def target_operation(request: HttpRequest) -> str:
    """The operation named by ``X-Amz-Target`` (``DynamoDB_20120810.GetItem`` → GetItem)."""
    target = header(request, "x-amz-target") or ""
    _, _, name = target.rpartition(".")
    if not name:
        raise AwsError("UnknownOperationException", "X-Amz-Target is missing")
    return name


def read_operation(
    service: str,
    request: HttpRequest,
    *,
    region: str,
    account: str,
    keys_of: KeyLookup,
    names: IamNames,
    caller_arn: str,
    domain_pool_of: Callable[[str, str], str | None] = lambda _region, _domain: None,
) -> Operation:
    """The operation a verified request performs and the checks it needs."""
    if service == "dynamodb":
        name = target_operation(request)
        checks = dynamodb_checks(
            name, json_body(request), region=region, account=account, keys_of=keys_of
        )
        return Operation(service, name, tuple(checks), {})
    if service == "cognito-idp":
        name = target_operation(request)
        body = json_body(request)
        pool = body.get("UserPoolId")
        pool_arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{{}}"
        resource = "*"
        if isinstance(body.get("ResourceArn"), str):
            resource = body["ResourceArn"]
        elif isinstance(pool, str):
            resource = pool_arn.format(pool)
        checks = [Check(f"cognito-idp:{name}", resource)]
        domain = body.get("Domain")
        if isinstance(domain, str) and name.endswith("UserPoolDomain"):
            # moto finds a domain by name alone: authorize on the pool that owns it too.
            owner = domain_pool_of(region, domain)
            if owner is not None and owner != pool:
                checks.append(Check(f"cognito-idp:{name}", pool_arn.format(owner)))
        return Operation(service, name, tuple(checks), {})
    if service in ("iam", "sts"):
        parameters = query_parameters(request)
        name = parameters.get("Action", "")
        if not name:
            raise AwsError("MissingAction", "Action is required")
        if service == "iam":
            checks = iam_checks(
                name, parameters, account=account, names=names, caller_arn=caller_arn
            )
        else:
            checks = [Check(f"sts:{name}", "*")]
        return Operation(service, name, tuple(checks), parameters)
    if service == "s3":
        name, checks = s3_checks(request)
        return Operation("s3", name, tuple(checks), {})
    if service == "execute-api":
        return _connections_operation(request, region=region, account=account)
    raise AwsError("UnrecognizedClientException", f"the sandbox does not emulate {service}")


_CONNECTION_PATH = re.compile(
    r"/([A-Za-z0-9]{1,32})/([A-Za-z0-9_-]{1,128})/@connections/([A-Za-z0-9=_-]{1,128})"
)
_CONNECTION_OPERATIONS = {
    "POST": "PostToConnection",
    "GET": "GetConnection",
    "DELETE": "DeleteConnection",
}


def _connections_operation(request: HttpRequest, *, region: str, account: str) -> Operation:
    # API Gateway's management API: /{api-id}/{stage}/@connections/{connection-id} (the
    # sandbox's endpoint carries the API id in the path, where AWS has it in the host).
    # botocore percent-encodes '@' and '='; the pattern refuses any decoded '/'.
    match = _CONNECTION_PATH.fullmatch(unquote(request.raw_path))
    name = _CONNECTION_OPERATIONS.get(request.method.upper())
    if match is None or name is None or request.query_string:
        raise AwsError("BadRequestException", "not a connection management call", 400)
    api_id, stage, connection = match.groups()
    resource = (
        f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/"
        f"{request.method.upper()}/@connections/{connection}"
    )
    return Operation("execute-api", name, (Check("execute-api:ManageConnections", resource),), {})
