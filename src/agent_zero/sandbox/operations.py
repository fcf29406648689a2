"""Read an AWS API request into the IAM checks it needs, for every emulated service.

Each protocol names its operation differently: JSON services in ``X-Amz-Target``,
query services (STS, IAM) in the ``Action`` parameter, S3 in the method, path
and sub-resource. Anything the gateway cannot name precisely becomes an action
that only a wildcard grant allows, so an unknown request fails closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from agent_zero.iam.actions import lookup_action
from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.dynamodb_requests import Check, KeyLookup, dynamodb_checks
from agent_zero.sandbox.forwarding import query_parameters
from agent_zero.sandbox.iam_requests import IamNames, iam_checks
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
        return _s3_operation(request)
    raise AwsError("UnrecognizedClientException", f"the sandbox does not emulate {service}")


# S3: (method, has key, sub-resource) → action. Unlisted combinations fall to an action
# no narrow grant names.
_S3_BUCKET = {
    ("GET", ""): "ListBucket",
    ("HEAD", ""): "ListBucket",
    ("PUT", ""): "CreateBucket",
    ("DELETE", ""): "DeleteBucket",
    ("GET", "versions"): "ListBucketVersions",
    ("GET", "location"): "GetBucketLocation",
    ("GET", "uploads"): "ListBucketMultipartUploads",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("DELETE", "tagging"): "PutBucketTagging",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "cors"): "GetBucketCORS",
    ("PUT", "cors"): "PutBucketCORS",
    ("POST", "delete"): "DeleteObject",
}
_S3_OBJECT = {
    ("GET", ""): "GetObject",
    ("HEAD", ""): "GetObject",
    ("PUT", ""): "PutObject",
    ("DELETE", ""): "DeleteObject",
    ("GET", "acl"): "GetObjectAcl",
    ("PUT", "acl"): "PutObjectAcl",
    ("GET", "tagging"): "GetObjectTagging",
    ("PUT", "tagging"): "PutObjectTagging",
    ("DELETE", "tagging"): "DeleteObjectTagging",
    ("POST", "uploads"): "PutObject",
    ("POST", "uploadId"): "PutObject",
    ("PUT", "partNumber"): "PutObject",
    ("PUT", "uploadId"): "PutObject",  # UploadPart and UploadPartCopy
    ("GET", "uploadId"): "ListMultipartUploadParts",
    ("DELETE", "uploadId"): "AbortMultipartUpload",
}
_S3_VERSIONED = {
    "GetObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
}
_S3_SUBRESOURCES = (
    "uploadId", "partNumber", "uploads", "versions", "location", "policy",
    "acl", "tagging", "versioning", "cors", "delete",
)  # fmt: skip


_S3_PLAIN_PARAMETERS = frozenset(
    {
        "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
        "encoding-type", "fetch-owner", "marker", "key-marker", "version-id-marker",
        "upload-id-marker", "max-uploads", "max-parts", "part-number-marker", "versionId", "x-id",
    }
)  # fmt: skip


def _plain_s3_parameter(name: str) -> bool:
    # Parameters that refine a call without naming another operation.
    return (
        name in _S3_PLAIN_PARAMETERS
        or name.startswith("response-")
        or name.lower().startswith("x-amz-")
    )


def _s3_operation(request: HttpRequest) -> Operation:
    path = request.raw_path.lstrip("/")
    bucket, _, key = path.partition("/")
    bucket = unquote(bucket)
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    sub = next((name for name in _S3_SUBRESOURCES if name in query), "")
    method = request.method.upper()
    if any(not _plain_s3_parameter(name) and name not in _S3_SUBRESOURCES for name in query):
        # An unknown sub-resource (?lifecycle, ?replication) must not pass as the plain call.
        sub = "unsupported"
    if not bucket:
        name = "ListAllMyBuckets" if method == "GET" else "UnsupportedServiceOperation"
        return Operation("s3", name, (Check(f"s3:{name}", "*"),), {})
    if key:
        name = _S3_OBJECT.get((method, sub), "UnsupportedObjectOperation")
        if "versionId" in query:
            # A version is its own resource action: s3:GetObject does not reach old versions.
            name = _S3_VERSIONED.get(name, "UnsupportedObjectOperation")
        resource = f"arn:aws:s3:::{bucket}/{unquote(key)}"
        checks = [Check(f"s3:{name}", resource)]
        source = header(request, "x-amz-copy-source")
        if source:
            # Whatever the operation (CopyObject, UploadPartCopy), the source is read.
            source_path, _, source_query = source.partition("?")
            reads = "GetObjectVersion" if "versionId=" in source_query else "GetObject"
            source_arn = f"arn:aws:s3:::{unquote(source_path).lstrip('/')}"
            checks.append(Check(f"s3:{reads}", source_arn))
        return Operation("s3", name, tuple(checks), {})
    name = _S3_BUCKET.get((method, sub), "UnsupportedBucketOperation")
    resource = f"arn:aws:s3:::{bucket}" if name != "DeleteObject" else f"arn:aws:s3:::{bucket}/*"
    context: dict[str, str | list[str]] = {}
    if name == "ListBucket":
        for parameter in ("prefix", "delimiter", "max-keys"):
            if parameter in query:
                context[f"s3:{parameter}"] = query[parameter]
    return Operation("s3", name, (Check(f"s3:{name}", resource, context),), {})
