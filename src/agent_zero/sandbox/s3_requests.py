"""What an S3 REST call asks for, as IAM authorizes it.

The operation is the method, whether a key is named, and the sub-resource in
the query string. moto dispatches on these in its own order and also reads
parameters from form bodies and honours headers (ACLs, tags, object lock) that
AWS authorizes as separate actions, so the gateway refuses every combination
it cannot name exactly and checks each extra action a header asks for.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qsl, unquote

from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.dynamodb_requests import Check
from agent_zero.sandbox.sigv4 import HttpRequest

# (method, sub-resource) → action. Unlisted combinations fall to an action
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


# Headers that make one request do a second, separately authorized thing.
_OBJECT_HEADER_ACTIONS = (
    (("x-amz-acl", "x-amz-grant-"), "PutObjectAcl"),
    (("x-amz-tagging",), "PutObjectTagging"),
    (("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"), "PutObjectRetention"),
    (("x-amz-object-lock-legal-hold",), "PutObjectLegalHold"),
    (("x-amz-bypass-governance-retention",), "BypassGovernanceRetention"),
)
_BUCKET_HEADER_ACTIONS = (
    (("x-amz-acl", "x-amz-grant-"), "PutBucketAcl"),
    (("x-amz-bucket-object-lock-enabled",), "PutBucketObjectLockConfiguration"),
    (("x-amz-bucket-object-lock-enabled",), "PutBucketVersioning"),
)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(message: str) -> AwsError:
    return AwsError("InvalidRequest", message, 400)


def _sub_resource(names: list[str]) -> str:
    subs = {name for name in names if name in _S3_SUBRESOURCES}
    if any(not _plain_s3_parameter(name) and name not in _S3_SUBRESOURCES for name in names):
        return "unsupported"  # an unknown sub-resource must not pass as the plain call
    if not subs:
        return ""
    if subs == {"uploadId", "partNumber"}:
        return "uploadId"
    if len(subs) > 1 or subs == {"partNumber"}:
        # moto picks among several in its own order: the call cannot be named exactly.
        raise _refuse(f"the sandbox accepts one S3 sub-resource per request, not {sorted(subs)}")
    return subs.pop()


def _check_body(request: HttpRequest, method: str) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        # moto reads form fields (versionId, uploadId, ...) as if they were the query.
        raise _refuse("form-encoded S3 requests (browser POST uploads) are not supported")
    if method in ("GET", "HEAD", "DELETE") and request.body:
        raise _refuse(f"an S3 {method} carries no body")


def _header_checks(
    request: HttpRequest, table: tuple[tuple[tuple[str, ...], str], ...], resource: str
) -> list[Check]:
    checks = []
    for prefixes, action in table:
        if any(name.startswith(prefixes) for name in request.headers):
            checks.append(Check(f"s3:{action}", resource))
    return checks


def _delete_objects(request: HttpRequest, bucket: str) -> list[Check]:
    """DeleteObjects is authorized per key, as DeleteObject or DeleteObjectVersion."""
    if b"<!DOCTYPE" in request.body.upper() or b"<!ENTITY" in request.body.upper():
        raise _refuse("XML with a DOCTYPE is not accepted")
    try:
        root = ElementTree.fromstring(request.body)  # noqa: S314  # no DOCTYPE, expat limits
    except ElementTree.ParseError:
        raise AwsError("MalformedXML", "the Delete request body is not valid XML", 400) from None
    checks = []
    for element in root:
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
        if "Key" not in fields:
            raise AwsError("MalformedXML", "every Object names a Key", 400)
        action = "DeleteObjectVersion" if fields.get("VersionId") else "DeleteObject"
        checks.append(Check(f"s3:{action}", f"arn:aws:s3:::{bucket}/{fields['Key']}"))
    if not checks:
        raise AwsError("MalformedXML", "the Delete request names no objects", 400)
    return checks


def s3_checks(request: HttpRequest) -> tuple[str, list[Check]]:
    """The operation name and every check one S3 call needs."""
    path = request.raw_path.lstrip("/")
    bucket, _, key = path.partition("/")
    bucket = unquote(bucket)
    names = [name for name, _ in parse_qsl(request.query_string, keep_blank_values=True)]
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    method = request.method.upper()
    _check_body(request, method)
    sub = _sub_resource(names)
    if not bucket:
        name = (
            "ListAllMyBuckets" if method == "GET" and not names else "UnsupportedServiceOperation"
        )
        return name, [Check(f"s3:{name}", "*")]
    if key:
        name = _S3_OBJECT.get((method, sub), "UnsupportedObjectOperation")
        if "versionId" in query:
            # A version is its own resource action: s3:GetObject does not reach old versions.
            name = _S3_VERSIONED.get(name, "UnsupportedObjectOperation")
        resource = f"arn:aws:s3:::{bucket}/{unquote(key)}"
        checks = [Check(f"s3:{name}", resource)]
        source = request.headers.get("x-amz-copy-source")
        if source:
            # Whatever the operation (CopyObject, UploadPartCopy), the source is read.
            source_path, _, source_query = source.partition("?")
            reads = "GetObjectVersion" if "versionId=" in source_query else "GetObject"
            checks.append(Check(f"s3:{reads}", f"arn:aws:s3:::{unquote(source_path).lstrip('/')}"))
        if method in ("PUT", "POST"):
            checks += _header_checks(request, _OBJECT_HEADER_ACTIONS, resource)
        return name, checks
    name = _S3_BUCKET.get((method, sub), "UnsupportedBucketOperation")
    if name == "DeleteObject":  # POST ?delete: DeleteObjects
        return "DeleteObjects", _delete_objects(request, bucket)
    resource = f"arn:aws:s3:::{bucket}"
    context: dict[str, str | list[str]] = {}
    if name == "ListBucket":
        for parameter in ("prefix", "delimiter", "max-keys"):
            if parameter in query:
                context[f"s3:{parameter}"] = query[parameter]
    checks = [Check(f"s3:{name}", resource, context)]
    if name == "CreateBucket":
        checks += _header_checks(request, _BUCKET_HEADER_ACTIONS, resource)
    return name, checks
