"""Reading S3, IAM, STS and Cognito calls into IAM checks, and answering in AWS's error shapes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from agent_zero import iam
from agent_zero.iam import Decision, EvaluationResult, PolicyKind
from agent_zero.sandbox.aws_errors import (
    AwsError,
    access_denied,
    authentication_failed,
    render,
)
from agent_zero.sandbox.dynamodb_requests import Check
from agent_zero.sandbox.operations import Operation, read_operation
from agent_zero.sandbox.sigv4 import HttpRequest

ACCOUNT = "123456789012"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


class KnownEntities:
    """An account with one role on a path, one user and one group."""

    def iam_arn(self, kind: str, name: str) -> str | None:
        known = {
            ("role", "known"): f"arn:aws:iam::{ACCOUNT}:role/service/known",
            ("user", "admin"): f"arn:aws:iam::{ACCOUNT}:user/admin",
            ("group", "admins"): f"arn:aws:iam::{ACCOUNT}:group/admins",
        }
        return known.get((kind, name))


def operation(
    service: str, method: str, path: str, query: str = "", body: bytes = b"", **headers: str
) -> Operation:
    request = HttpRequest(method, path, query, headers, body)
    return read_operation(
        service,
        request,
        region="us-east-1",
        account=ACCOUNT,
        keys_of=lambda _table: None,
        names=KnownEntities(),
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/me",
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "action", "resource"),
    [
        ("GET", "/", "", "s3:ListAllMyBuckets", "*"),
        ("GET", "/docs", "list-type=2&prefix=a%2F", "s3:ListBucket", "arn:aws:s3:::docs"),
        ("PUT", "/docs", "", "s3:CreateBucket", "arn:aws:s3:::docs"),
        ("PUT", "/docs", "policy", "s3:PutBucketPolicy", "arn:aws:s3:::docs"),
        ("GET", "/docs/a%20b/c.pdf", "", "s3:GetObject", "arn:aws:s3:::docs/a b/c.pdf"),
        ("HEAD", "/docs/k", "", "s3:GetObject", "arn:aws:s3:::docs/k"),
        ("PUT", "/docs/k", "acl", "s3:PutObjectAcl", "arn:aws:s3:::docs/k"),
        ("DELETE", "/docs/k", "uploadId=1", "s3:AbortMultipartUpload", "arn:aws:s3:::docs/k"),
        # Anything unmapped becomes an action no narrow grant names: it fails closed.
        ("PUT", "/docs", "lifecycle", "s3:UnsupportedBucketOperation", "arn:aws:s3:::docs"),
        ("GET", "/docs/k", "torrent", "s3:UnsupportedObjectOperation", "arn:aws:s3:::docs/k"),
        # A version is its own action: GetObject does not reach old versions.
        ("GET", "/docs/k", "versionId=3", "s3:GetObjectVersion", "arn:aws:s3:::docs/k"),
        ("DELETE", "/docs/k", "versionId=3", "s3:DeleteObjectVersion", "arn:aws:s3:::docs/k"),
        ("GET", "/docs/k", "response-content-type=a", "s3:GetObject", "arn:aws:s3:::docs/k"),
    ],
)
def test_s3_requests_map_to_actions_and_arns(
    method: str, path: str, query: str, action: str, resource: str
) -> None:
    found = operation("s3", method, path, query)
    assert (found.checks[0].action, found.checks[0].resource) == (action, resource)


def test_s3_list_sends_prefix_and_copy_needs_read_on_the_source() -> None:
    listing = operation("s3", "GET", "/docs", "prefix=home%2Fbob%2F&delimiter=%2F")
    assert listing.checks[0].context == {"s3:prefix": "home/bob/", "s3:delimiter": "/"}
    copy = operation("s3", "PUT", "/docs/new", **{"x-amz-copy-source": "/secret/old%20file"})
    assert [(c.action, c.resource) for c in copy.checks] == [
        ("s3:PutObject", "arn:aws:s3:::docs/new"),
        ("s3:GetObject", "arn:aws:s3:::secret/old file"),
    ]


@pytest.mark.parametrize(
    ("parameters", "resource"),
    [
        ("Action=PutRolePolicy&RoleName=known", f"arn:aws:iam::{ACCOUNT}:role/service/known"),
        ("Action=CreateRole&RoleName=new&Path=%2Fteam%2F", f"arn:aws:iam::{ACCOUNT}:role/team/new"),
        ("Action=CreateUser&UserName=bob", f"arn:aws:iam::{ACCOUNT}:user/bob"),
        (
            "Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX",
            "arn:aws:iam::aws:policy/X",
        ),
        ("Action=ListRoles", "*"),
        # A Path parameter cannot move an existing user (it names only new entities).
        (
            "Action=CreateAccessKey&UserName=admin&Path=%2Fteam%2F",
            f"arn:aws:iam::{ACCOUNT}:user/admin",
        ),
        ("Action=CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/me"),
        ("Action=DeleteRolePolicy&RoleName=gone&Path=%2Fx%2F", f"arn:aws:iam::{ACCOUNT}:role/gone"),
        # Membership is authorized on the group, not on the user being added.
        (
            "Action=AddUserToGroup&GroupName=admins&UserName=me",
            f"arn:aws:iam::{ACCOUNT}:group/admins",
        ),
    ],
)
def test_iam_calls_name_the_resource_they_touch(parameters: str, resource: str) -> None:
    found = operation("iam", "POST", "/", body=parameters.encode(), **FORM)
    assert [(c.action, c.resource) for c in found.checks] == [(f"iam:{found.name}", resource)]


def test_read_and_write_operations_are_told_apart_by_the_action_table() -> None:
    read = operation("s3", "GET", "/docs/k")
    write = operation("s3", "PUT", "/docs/k")
    unknown = operation("s3", "PUT", "/docs", "lifecycle")
    # IAM is not in the action table: every IAM call counts as a write (snapshot-safe).
    iam_read = operation("iam", "POST", "/", body=b"Action=GetRole&RoleName=x", **FORM)
    assert (read.mutating, write.mutating, unknown.mutating, iam_read.mutating) == (
        False,
        True,
        True,
        True,
    )


def test_attaching_a_policy_carries_its_arn_as_a_condition_key() -> None:
    body = b"Action=AttachUserPolicy&UserName=admin&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX"
    [check] = operation("iam", "POST", "/", body=body, **FORM).checks
    assert check.resource == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert check.context == {"iam:PolicyARN": "arn:aws:iam::aws:policy/X"}


@pytest.mark.parametrize(
    ("query", "body", "headers"),
    [
        ("", b"Action=ListUsers&Action=CreateAccessKey", FORM),
        ("", b"Action=PutRolePolicy&RoleName=a&RoleName=b", FORM),
        ("Action=CreateAccessKey", b"Action=ListUsers", FORM),
        ("", b"Action=ListUsers", {"Content-Type": "application/json"}),
    ],
)
def test_ambiguous_query_protocol_parameters_are_refused(
    query: str, body: bytes, headers: dict[str, str]
) -> None:
    # moto keeps the first of repeated fields and reads the query string when the
    # body is not a form; refusing both keeps the checked call the executed one.
    with pytest.raises(AwsError) as raised:
        operation("iam", "POST", "/", query, body, **headers)
    assert raised.value.code == "MalformedQueryString"


def test_cognito_admin_calls_are_checked_on_the_pool() -> None:
    body = json.dumps({"UserPoolId": "us-east-1_abc", "Username": "alice"}).encode()
    found = operation(
        "cognito-idp",
        "POST",
        "/",
        body=body,
        **{"X-Amz-Target": "AWSCognitoIdentityProviderService.AdminGetUser"},
    )
    assert found.checks == (
        Check(
            "cognito-idp:AdminGetUser",
            f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_abc",
        ),
    )


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"TableName": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]
)
def test_bodies_that_are_not_a_json_object_are_refused(body: bytes) -> None:
    with pytest.raises(AwsError) as raised:
        operation(
            "dynamodb", "POST", "/", body=body, **{"X-Amz-Target": "DynamoDB_20120810.GetItem"}
        )
    assert raised.value.code == "SerializationException"


# --- error shapes -------------------------------------------------------------------------


def denial(kind: PolicyKind, decision: Decision) -> EvaluationResult:
    return EvaluationResult(decision, (), kind)


def test_access_denied_speaks_each_protocol() -> None:
    result = iam.evaluate(
        action="dynamodb:Scan",
        resource="arn:aws:dynamodb:us-east-1:123456789012:table/T",
        principal="arn:aws:sts::123456789012:assumed-role/R/s",
        identity_policies=[
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ],
        session_policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
        },
    )
    error = access_denied(
        "dynamodb",
        caller_arn="arn:aws:sts::123456789012:assumed-role/R/s",
        action="dynamodb:Scan",
        resource="arn:aws:dynamodb:us-east-1:123456789012:table/T",
        result=result,
    )
    answer = render("dynamodb", error)
    body = json.loads(answer.body)
    assert answer.status == 400
    assert body["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert body["Message"].endswith("because no session policy allows the dynamodb:Scan action")
    sts = render("sts", AwsError("AccessDenied", "no <way> & no", 403))
    root = ET.fromstring(sts.body)  # our own output
    namespace = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.find(f"{namespace}Error/{namespace}Code").text == "AccessDenied"  # type: ignore[union-attr]
    assert root.find(f"{namespace}Error/{namespace}Message").text == "no <way> & no"  # type: ignore[union-attr]
    s3 = ET.fromstring(render("s3", AwsError("AccessDenied", "Access Denied", 403)).body)
    assert s3.findtext("Code") == "AccessDenied"


@pytest.mark.parametrize(
    ("kind", "decision", "ending"),
    [
        (
            PolicyKind.IDENTITY,
            Decision.EXPLICIT_DENY,
            "with an explicit deny in an identity-based policy",
        ),
        (
            PolicyKind.RESOURCE,
            Decision.EXPLICIT_DENY,
            "with an explicit deny in a resource-based policy",
        ),
        (
            PolicyKind.PERMISSIONS_BOUNDARY,
            Decision.IMPLICIT_DENY,
            "because no permissions boundary allows the s3:GetObject action",
        ),
        (
            PolicyKind.IDENTITY,
            Decision.IMPLICIT_DENY,
            "because no identity-based policy allows the s3:GetObject action",
        ),
    ],
)
def test_denial_messages_name_the_policy_type(
    kind: PolicyKind, decision: Decision, ending: str
) -> None:
    error = access_denied(
        "s3",
        caller_arn="arn:x",
        action="s3:GetObject",
        resource="arn:y",
        result=denial(kind, decision),
    )
    assert (
        error.message
        == f"User: arn:x is not authorized to perform: s3:GetObject on resource: arn:y {ending}"
    )
    assert (error.code, error.status) == ("AccessDenied", 403)


@pytest.mark.parametrize(
    ("service", "kind", "code", "status"),
    [
        ("dynamodb", "unknown_key", "UnrecognizedClientException", 400),
        ("dynamodb", "expired_token", "ExpiredTokenException", 400),
        ("dynamodb", "mismatch", "InvalidSignatureException", 400),
        ("sts", "mismatch", "SignatureDoesNotMatch", 403),
        ("iam", "unknown_key", "InvalidClientTokenId", 403),
        ("sts", "expired_token", "ExpiredToken", 403),
        ("s3", "unknown_key", "InvalidAccessKeyId", 403),
        ("s3", "skewed", "RequestTimeTooSkewed", 403),
        ("cognito-idp", "missing", "MissingAuthenticationTokenException", 400),
    ],
)
def test_authentication_failures_use_each_services_codes(
    service: str, kind: str, code: str, status: int
) -> None:
    error = authentication_failed(service, kind)
    assert (error.code, error.status) == (code, status)


def test_renaming_a_user_needs_rights_on_the_new_name_too() -> None:
    body = b"Action=UpdateUser&UserName=admin&NewUserName=root-ish"
    found = operation("iam", "POST", "/", body=body, **FORM)
    assert [c.resource for c in found.checks] == [
        f"arn:aws:iam::{ACCOUNT}:user/admin",
        f"arn:aws:iam::{ACCOUNT}:user/root-ish",
    ]


def test_instance_profile_calls_are_authorized_on_the_profile() -> None:
    body = b"Action=AddRoleToInstanceProfile&InstanceProfileName=web&RoleName=known"
    [check] = operation("iam", "POST", "/", body=body, **FORM).checks
    assert check.resource == f"arn:aws:iam::{ACCOUNT}:instance-profile/web"


def test_cognito_calls_by_resource_arn_are_authorized_on_that_arn() -> None:
    arn = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_abc"
    found = operation(
        "cognito-idp",
        "POST",
        "/",
        body=json.dumps({"ResourceArn": arn, "Tags": {"a": "b"}}).encode(),
        **{"X-Amz-Target": "AWSCognitoIdentityProviderService.TagResource"},
    )
    assert [c.resource for c in found.checks] == [arn]


def test_a_copy_from_a_version_needs_read_access_to_versions() -> None:
    found = operation(
        "s3",
        "PUT",
        "/mine/k",
        "partNumber=1&uploadId=u",
        **{"x-amz-copy-source": "/src/k?versionId=7"},
    )
    assert [(c.action, c.resource) for c in found.checks] == [
        ("s3:PutObject", "arn:aws:s3:::mine/k"),
        ("s3:GetObjectVersion", "arn:aws:s3:::src/k"),
    ]


def test_delete_objects_is_checked_per_key_and_per_version() -> None:
    body = (
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Object><Key>public/a</Key></Object>"
        b"<Object><Key>secret/b</Key><VersionId>v1</VersionId></Object></Delete>"
    )
    found = operation("s3", "POST", "/docs", "delete", body)
    assert [(c.action, c.resource) for c in found.checks] == [
        ("s3:DeleteObject", "arn:aws:s3:::docs/public/a"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::docs/secret/b"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "headers"),
    [
        ("PUT", "/docs/k", "partNumber=1&acl", b"", {}),
        ("GET", "/docs", "policy&versions", b"", {}),
        ("PUT", "/docs", "tagging&versioning", b"", {}),
        ("GET", "/docs/k", "partNumber=1", b"", {}),
        (
            "GET",
            "/docs/k",
            "",
            b"versionId=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        ("DELETE", "/docs/k", "", b'{"versionId": "1"}', {}),
        ("POST", "/docs", "delete", b"<!DOCTYPE x [<!ENTITY a 'b'>]><Delete/>", {}),
    ],
)
def test_s3_requests_moto_would_read_differently_are_refused(
    method: str, path: str, query: str, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(AwsError):
        operation("s3", method, path, query, body, **headers)


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        ({"x-amz-acl": "public-read"}, "s3:PutObjectAcl"),
        ({"x-amz-grant-read": "uri=x"}, "s3:PutObjectAcl"),
        ({"x-amz-tagging": "a=b"}, "s3:PutObjectTagging"),
        ({"x-amz-object-lock-mode": "GOVERNANCE"}, "s3:PutObjectRetention"),
        ({"x-amz-object-lock-legal-hold": "ON"}, "s3:PutObjectLegalHold"),
    ],
)
def test_headers_that_do_a_second_thing_need_its_permission(
    headers: dict[str, str], extra: str
) -> None:
    found = operation("s3", "PUT", "/docs/k", **headers)
    assert [c.action for c in found.checks] == ["s3:PutObject", extra]


def test_creating_a_locked_public_bucket_needs_those_permissions() -> None:
    found = operation(
        "s3",
        "PUT",
        "/docs",
        **{"x-amz-acl": "public-read", "x-amz-bucket-object-lock-enabled": "true"},
    )
    assert [c.action for c in found.checks] == [
        "s3:CreateBucket",
        "s3:PutBucketAcl",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
    ]


@pytest.mark.parametrize(
    ("method", "name"),
    [("POST", "PostToConnection"), ("GET", "GetConnection"), ("DELETE", "DeleteConnection")],
)
def test_connection_management_is_checked_on_the_connections_arn(method: str, name: str) -> None:
    # botocore percent-encodes '@' and '=' in the path.
    found = operation("execute-api", method, "/a1b2c3/prod/%40connections/Ab_c%3D")
    assert found.name == name
    assert found.checks == (
        Check(
            "execute-api:ManageConnections",
            f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3/prod/{method}/@connections/Ab_c=",
        ),
    )


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", "/a1b2c3/prod/@connections/abc%2F..%2Fother", ""),  # a '/' smuggled encoded
        ("POST", "/a1b2c3/@connections/abc", ""),  # no stage
        ("PUT", "/a1b2c3/prod/@connections/abc", ""),
        ("POST", "/a1b2c3/prod/@connections/abc", "x=1"),
        ("POST", "/a1b2c3/prod/connections/abc", ""),
    ],
)
def test_anything_else_on_the_management_api_is_refused(method: str, path: str, query: str) -> None:
    with pytest.raises(AwsError) as refused:
        operation("execute-api", method, path, query)
    assert refused.value.code == "BadRequestException"


def test_management_api_denials_are_rest_json_forbidden() -> None:
    result = EvaluationResult(Decision.IMPLICIT_DENY, (), PolicyKind.IDENTITY)
    error = access_denied(
        "execute-api",
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/me",
        action="execute-api:ManageConnections",
        resource="arn:aws:execute-api:us-east-1:1:a/b/POST/@connections/c",
        result=result,
    )
    answer = render("execute-api", error)
    assert answer.status == 403
    assert dict(answer.headers)["x-amzn-ErrorType"] == "ForbiddenException:"
    assert dict(answer.headers)["Content-Type"] == "application/json"
    assert (
        "is not authorized to perform: execute-api:ManageConnections"
        in (json.loads(answer.body)["message"])
    )
