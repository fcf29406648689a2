"""Requests crafted to make the gateway check one thing while moto does another.

Each was found by a review that attacked the gateway with raw signed HTTP; each
must now be refused, or executed only as what was authorized.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e.conftest import ACCOUNT, REGION, RunningSandbox, policy
from e2e.raw_http import sign_and_send
from e2e.small_bank import ACCOUNTS, READ_OWN_ACCOUNT, TARGET, key, mint

JSON_10 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def send(
    running: RunningSandbox,
    credentials: Credentials | None,
    service: str,
    *,
    method: str = "POST",
    path: str = "/",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = REGION,
    host: str | None = None,
    unsigned_headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Sign with botocore (unless credentials is None) and send exactly these bytes."""
    hostport = running.endpoint.split("//", 1)[1]
    target = path + (f"?{query}" if query else "")
    prepared = dict(headers or {})
    if host:
        prepared["Host"] = host
    if credentials is not None:
        request = AWSRequest(
            method=method, url=running.endpoint + target, data=body, headers=prepared
        )
        SigV4Auth(credentials, service, region).add_auth(request)
        prepared = dict(request.headers.items())
    prepared.update(unsigned_headers or {})
    connection = http.client.HTTPConnection(hostport, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if not any(name.lower() == "host" for name in prepared):
            connection.putheader("Host", hostport)
        for name, value in prepared.items():
            connection.putheader(name, value)
        if body and not any(name.lower() == "content-length" for name in prepared):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def session_credentials(running: RunningSandbox, broker: dict[str, str], **kw: Any) -> Credentials:
    minted = mint(running, broker, **kw)
    return Credentials(minted["AccessKeyId"], minted["SecretAccessKey"], minted["SessionToken"])


def user_credentials(
    running: RunningSandbox, name: str, *statements: dict[str, Any]
) -> Credentials:
    iam = running.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    created = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(created["AccessKeyId"], created["SecretAccessKey"])


def dynamodb_call(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "body": json.dumps(payload).encode(),
        "headers": {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": JSON_10},
    }


def rows_of_accounts(running: RunningSandbox) -> set[str]:
    items = running.client("dynamodb").scan(TableName="Accounts")["Items"]
    return {item["customer_id"]["S"] for item in items}


@pytest.mark.parametrize("smuggled", ["Scan", "DeleteTable"])
def test_a_query_string_cannot_change_a_json_operation(
    running: RunningSandbox, bank: dict[str, str], smuggled: str
) -> None:
    credentials = session_credentials(running, bank)
    status, body = send(
        running,
        credentials,
        "dynamodb",
        query=f"Action={smuggled}",
        **dynamodb_call("GetItem", {"TableName": "Accounts", "Key": key("c-1001")}),
    )
    assert status == 400
    assert b"c-2002" not in body
    assert rows_of_accounts(running) == {"c-1001", "c-2002"}  # the table is still there


def test_unsigned_cognito_admin_calls_are_refused_in_every_disguise(
    running: RunningSandbox,
) -> None:
    idp = running.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="bank")["UserPool"]["Id"]
    payload = json.dumps({"UserPoolId": pool, "Username": "mallory"}).encode()
    for query, path in (("Action=AdminCreateUser", "/"), ("", "/x"), ("", "/?")):
        status, _ = send(
            running,
            None,
            "cognito-idp",
            path=path,
            query=query,
            body=payload,
            headers={
                "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        assert status in (400, 403)
    assert idp.list_users(UserPoolId=pool)["Users"] == []


@pytest.mark.parametrize(
    ("query", "body", "content_type"),
    [
        ("", b"Action=CreateAccessKey&UserName=victim&Version=2010-05-08&Action=ListUsers", FORM),
        (
            "Action=CreateAccessKey&UserName=victim&Version=2010-05-08",
            b"Action=ListUsers",
            "text/plain",
        ),
    ],
)
def test_iam_runs_only_the_action_it_checked(
    running: RunningSandbox, query: str, body: bytes, content_type: str
) -> None:
    running.client("iam").create_user(UserName="victim")
    reader = user_credentials(
        running, "reader", {"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"}
    )
    status, answer = send(
        running, reader, "iam", query=query, body=body, headers={"Content-Type": content_type}
    )
    assert status in (400, 403)
    assert b"SecretAccessKey" not in answer
    assert running.client("iam").list_access_keys(UserName="victim")["AccessKeyMetadata"] == []


def test_a_key_condition_cannot_name_one_customer_to_the_gateway_and_another_to_moto(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    credentials = session_credentials(running, bank)
    status, body = send(
        running,
        credentials,
        "dynamodb",
        **dynamodb_call(
            "Query",
            {
                "TableName": "Accounts",
                "KeyConditionExpression": "customer_id = :o-x",
                "ExpressionAttributeValues": {":o": {"S": "c-1001"}, ":o-x": {"S": "c-2002"}},
            },
        ),
    )
    assert status == 400
    assert b"c-2002" not in body


def test_s3_virtual_host_addressing_cannot_redirect_to_another_bucket(
    running: RunningSandbox,
) -> None:
    s3 = running.client("s3")
    for bucket in ("public-b", "secret-b"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="secret-b", Key="public-b/x", Body=b"SECRET")
    reader = user_credentials(
        running,
        "s3user",
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::public-b/*",
        },
    )
    unsigned_payload = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    status, body = send(
        running, reader, "s3", method="GET", path="/public-b/x", host="secret-b.s3.local",
        headers=unsigned_payload,
    )  # fmt: skip
    assert status == 400
    assert b"SECRET" not in body
    send(
        running, reader, "s3", method="PUT", path="/public-b/planted", body=b"evil",
        host="secret-b.s3.local", headers=unsigned_payload,
    )  # fmt: skip
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="secret-b")["Contents"]]
    assert keys == ["public-b/x"]


@pytest.mark.parametrize(
    "where",
    [
        {"unsigned_headers": {"User-Agent": "Boto3/1 region/us-east-1"}},
        {"host": "dynamodb.us-east-1.amazonaws.com"},
    ],
)
def test_moto_uses_the_region_that_was_signed_and_checked(
    running: RunningSandbox, where: dict[str, Any]
) -> None:
    west_only = user_credentials(
        running,
        "west",
        {
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/*",
        },
    )
    running.client("dynamodb").create_table(
        TableName="EastOnly",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    status, body = send(
        running, west_only, "dynamodb", region="us-west-2",
        **dynamodb_call("DescribeTable", {"TableName": "EastOnly"}), **where,
    )  # fmt: skip
    assert b'"TableStatus"' not in body
    assert status == 400  # ResourceNotFound in us-west-2, or refused outright


def test_an_unsigned_amz_header_is_refused(running: RunningSandbox, bank: dict[str, str]) -> None:
    credentials = session_credentials(running, bank)
    call = dynamodb_call("GetItem", {"TableName": "Accounts", "Key": key("c-1001")})
    status, body = send(
        running, credentials, "dynamodb", body=call["body"],
        headers={"Content-Type": JSON_10},
        unsigned_headers={"X-Amz-Target": "DynamoDB_20120810.Scan"},
    )  # fmt: skip
    assert status == 400
    assert b"must be signed" in body


def test_group_membership_is_authorized_on_the_group(running: RunningSandbox) -> None:
    running.client("iam").create_group(GroupName="admins")
    joiner = user_credentials(
        running,
        "joiner",
        {
            "Effect": "Allow",
            "Action": "iam:AddUserToGroup",
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/joiner",
        },
    )
    iam = running.client(
        "iam", aws_access_key_id=joiner.access_key, aws_secret_access_key=joiner.secret_key
    )
    with pytest.raises(ClientError) as raised:
        iam.add_user_to_group(GroupName="admins", UserName="joiner")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert running.client("iam").get_group(GroupName="admins")["Users"] == []


def test_a_transitive_tag_cannot_be_overridden_down_a_chain(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    iam = running.client("iam")
    iam.update_assume_role_policy(
        RoleName="bank-target",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:user/broker", TARGET]},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="bank-target",
        PolicyName="chain",
        PolicyDocument=policy({"Effect": "Allow", "Action": "sts:*", "Resource": TARGET}),
    )
    first = running.session_client(
        "sts",
        mint(
            running,
            bank,
            Policy=policy({"Effect": "Allow", "Action": "sts:*", "Resource": TARGET}),
            Tags=[{"Key": "customer", "Value": "c-1001"}],
            TransitiveTagKeys=["customer"],
        ),
    )
    for spelling in ("customer", "Customer"):
        with pytest.raises(ClientError) as raised:
            first.assume_role(
                RoleArn=TARGET,
                RoleSessionName="chained",
                Tags=[{"Key": spelling, "Value": "c-2002"}],
            )
        assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_a_recreated_role_does_not_revive_old_sessions(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    dynamodb = running.session_client("dynamodb", mint(running, bank))
    assert "Item" in dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))
    iam = running.client("iam")
    trust = iam.get_role(RoleName="bank-target")["Role"]["AssumeRolePolicyDocument"]
    iam.delete_role_policy(RoleName="bank-target", PolicyName="broad")
    iam.delete_role(RoleName="bank-target")
    iam.create_role(RoleName="bank-target", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="bank-target",
        PolicyName="broad",
        PolicyDocument=policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": ACCOUNTS}),
    )
    with pytest.raises(ClientError) as raised:
        dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_root_user_cannot_assume_roles(running: RunningSandbox, bank: dict[str, str]) -> None:
    del bank
    with pytest.raises(ClientError) as raised:
        running.client("sts").assume_role(RoleArn=TARGET, RoleSessionName="root")
    assert raised.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."


@pytest.mark.parametrize("length", ["-1", "abc", str(64 * 1024 * 1024)])
def test_bad_or_huge_content_lengths_are_refused_before_reading(
    running: RunningSandbox, length: str
) -> None:
    hostport = running.endpoint.split("//", 1)[1]
    connection = http.client.HTTPConnection(hostport, timeout=10)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", length)
        connection.putheader("X-Amz-Target", "DynamoDB_20120810.ListTables")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status in (400, 413)
        response.read()
    finally:
        connection.close()


def test_a_session_reads_only_what_its_policy_names_after_all_this(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    # The ordinary path still works: the defences above refuse only ambiguity.
    dynamodb = running.session_client("dynamodb", mint(running, bank, Policy=READ_OWN_ACCOUNT))
    assert dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))["Item"]["balance"]


# --- a second review's findings --------------------------------------------------------------


def test_a_json_body_cannot_name_the_operation_moto_runs(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    credentials = session_credentials(running, bank)
    for smuggled in ("Scan", "DeleteTable"):
        call = dynamodb_call(
            "GetItem",
            {"TableName": "Accounts", "Key": key("c-1001"), "Zz": f"&Action={smuggled}&"},
        )
        status, body = send(running, credentials, "dynamodb", **call)
        assert b"c-2002" not in body
        assert status in (200, 400)  # GetItem ran (own row) or the body was refused
    assert rows_of_accounts(running) == {"c-1001", "c-2002"}


def test_an_unsigned_public_cognito_call_cannot_smuggle_an_admin_operation(
    running: RunningSandbox,
) -> None:
    idp = running.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="bank")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"][
        "ClientId"
    ]
    payload = {
        "ClientId": client_id,
        "Username": "mallory",
        "Password": "Passw0rd!x",
        "UserPoolId": pool,
        "Zz": "&Action=AdminCreateUser&",
    }
    send(
        running,
        None,
        "cognito-idp",
        body=json.dumps(payload).encode(),
        headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    users = idp.list_users(UserPoolId=pool)["Users"]
    # SignUp may create an unconfirmed user; AdminCreateUser would have confirmed it.
    assert all(user["UserStatus"] != "FORCE_CHANGE_PASSWORD" for user in users)
    assert all(user["UserStatus"] == "UNCONFIRMED" for user in users)


def test_two_content_types_cannot_switch_moto_to_another_body_parser(
    running: RunningSandbox,
) -> None:
    iam = running.client("iam")
    iam.create_policy(
        PolicyName="Admin",
        PolicyDocument=policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    intern = user_credentials(
        running,
        "intern",
        {
            "Effect": "Allow",
            "Action": "iam:GetUser",
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/intern",
        },
    )
    parts = [
        ("Action", "AttachUserPolicy"),
        ("Version", "2010-05-08"),
        ("UserName", "intern"),
        ("PolicyArn", f"arn:aws:iam::{ACCOUNT}:policy/Admin"),
    ]
    multipart = "".join(
        f'--BB\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in parts
    )
    body = ("Action=GetUser&Version=2010-05-08&pad=\r\n" + multipart + "--BB--\r\n").encode()
    status, _ = sign_and_send(
        running,
        intern,
        "iam",
        body=body,
        unsigned_headers=[
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Content-Type", "multipart/form-data; boundary=BB"),
        ],
    )
    assert status == 400
    assert iam.list_attached_user_policies(UserName="intern")["AttachedPolicies"] == []


def test_an_absolute_form_request_target_is_refused(running: RunningSandbox) -> None:
    s3 = running.client("s3")
    s3.create_bucket(Bucket="secret")
    s3.put_object(Bucket="secret", Key="payroll.csv", Body=b"alice,1000000")
    user = user_credentials(
        running,
        "u",
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::secret", "arn:aws:s3:::secret/*"],
        },
    )
    hostport = running.endpoint.split("//", 1)[1]
    status, body = sign_and_send(
        running, user, "s3", method="GET", target=f"http://{hostport}/secret/payroll.csv"
    )
    assert status == 400
    assert b"1000000" not in body


def test_upload_part_copy_needs_read_access_to_its_source(running: RunningSandbox) -> None:
    s3 = running.client("s3")
    for bucket in ("mine", "secret"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="secret", Key="payroll.csv", Body=b"alice,1000000" * 1000)
    user = user_credentials(
        running,
        "copier",
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::mine", "arn:aws:s3:::mine/*"],
        },
    )
    mine = running.client(
        "s3", aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key
    )
    upload = mine.create_multipart_upload(Bucket="mine", Key="stolen")["UploadId"]
    with pytest.raises(ClientError) as raised:
        mine.upload_part_copy(
            Bucket="mine",
            Key="stolen",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": "secret", "Key": "payroll.csv"},
        )
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    # An ordinary part upload into one's own bucket still works.
    assert mine.upload_part(Bucket="mine", Key="stolen", UploadId=upload, PartNumber=1, Body=b"x")[
        "ETag"
    ]


def test_a_repeated_query_parameter_cannot_split_a_condition_from_the_call(
    running: RunningSandbox,
) -> None:
    s3 = running.client("s3")
    s3.create_bucket(Bucket="home")
    s3.put_object(Bucket="home", Key="home/bob/secret.txt", Body=b"bob")
    alice = user_credentials(
        running,
        "alice",
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::home",
            "Condition": {"StringLike": {"s3:prefix": "home/alice/*"}},
        },
    )
    status, body = sign_and_send(
        running,
        alice,
        "s3",
        method="GET",
        target="/home",
        query="prefix=home%2F&prefix=home%2Falice%2F",
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    assert status == 400
    assert b"bob" not in body


def test_a_user_pool_domain_is_authorized_on_the_pool_that_owns_it(
    running: RunningSandbox,
) -> None:
    idp = running.client("cognito-idp")
    mine = idp.create_user_pool(PoolName="mine")["UserPool"]["Id"]
    victim = idp.create_user_pool(PoolName="victim")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=victim, Domain="victim-login")
    owner = user_credentials(
        running,
        "pool-owner",
        {
            "Effect": "Allow",
            "Action": "cognito-idp:*",
            "Resource": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{mine}",
        },
    )
    client = running.client(
        "cognito-idp", aws_access_key_id=owner.access_key, aws_secret_access_key=owner.secret_key
    )
    with pytest.raises(ClientError) as raised:
        client.delete_user_pool_domain(UserPoolId=mine, Domain="victim-login")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert idp.describe_user_pool_domain(Domain="victim-login")["DomainDescription"]


# --- a third review's findings ----------------------------------------------------------------


OWN_KEY = [{"Name": "custom:customer_key", "Value": "c-1001"}]


@pytest.mark.parametrize(
    ("operation", "payload"),
    [
        (
            "ConfirmForgotPassword",
            {"Username": "victim", "ConfirmationCode": "123456", "Password": "Owned-123!x"},
        ),
        ("SignUp", {"Username": "mallory", "Password": "Passw0rd!x", "UserAttributes": OWN_KEY}),
        ("ConfirmSignUp", {"Username": "mallory", "ConfirmationCode": "000000"}),
        ("ForgotPassword", {"Username": "victim"}),
        ("ChangePassword", {"PreviousPassword": "x", "ProposedPassword": "y", "AccessToken": "z"}),
    ],
)
def test_cognito_operations_moto_cannot_check_are_not_public(
    running: RunningSandbox, operation: str, payload: dict[str, Any]
) -> None:
    idp = running.client("cognito-idp")
    pool = idp.create_user_pool(
        PoolName="bank", AdminCreateUserConfig={"AllowAdminCreateUserOnly": True}
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"][
        "ClientId"
    ]
    idp.admin_create_user(UserPoolId=pool, Username="victim", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="victim", Password="Victim-Pass-1!", Permanent=True
    )
    status, body = send(
        running,
        None,
        "cognito-idp",
        body=json.dumps({"ClientId": client_id, **payload}).encode(),
        headers={
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert status == 400
    assert b"MissingAuthenticationToken" in body
    assert [u["Username"] for u in idp.list_users(UserPoolId=pool)["Users"]] == ["victim"]
    signed_in = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "victim", "PASSWORD": "Victim-Pass-1!"},
    )
    assert signed_in["AuthenticationResult"]["AccessToken"]


def test_an_s3_put_cannot_make_an_object_public_without_acl_permission(
    running: RunningSandbox,
) -> None:
    s3 = running.client("s3")
    s3.create_bucket(Bucket="bkt")
    writer = user_credentials(
        running,
        "writer",
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bkt/*"},
    )
    client = running.client(
        "s3", aws_access_key_id=writer.access_key, aws_secret_access_key=writer.secret_key
    )
    client.put_object(Bucket="bkt", Key="doc", Body=b"x")
    with pytest.raises(ClientError) as raised:
        client.put_object(Bucket="bkt", Key="doc", Body=b"x", ACL="public-read")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    grants = s3.get_object_acl(Bucket="bkt", Key="doc")["Grants"]
    assert all("AllUsers" not in str(grant) for grant in grants)


def test_delete_objects_is_authorized_per_key(running: RunningSandbox) -> None:
    s3 = running.client("s3")
    s3.create_bucket(Bucket="bkt")
    for key_name in ("public/a", "secret/x"):
        s3.put_object(Bucket="bkt", Key=key_name, Body=b"x")
    user = user_credentials(
        running,
        "cleaner",
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bkt/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bkt/secret/*"},
    )
    client = running.client(
        "s3", aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key
    )
    with pytest.raises(ClientError):
        client.delete_objects(
            Bucket="bkt", Delete={"Objects": [{"Key": "public/a"}, {"Key": "secret/x"}]}
        )
    remaining = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"])
    assert remaining == ["public/a", "secret/x"]
    client.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "public/a"}]})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["secret/x"]


def test_a_scoped_session_cannot_rewrite_its_rows_key_with_attribute_updates(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    writer = policy(
        {
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": ACCOUNTS,
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        }
    )
    dynamodb = running.session_client("dynamodb", mint(running, bank, Policy=writer))
    with pytest.raises(ClientError) as raised:
        dynamodb.update_item(
            TableName="Accounts",
            Key=key("c-1001"),
            AttributeUpdates={"customer_id": {"Action": "PUT", "Value": {"S": "c-2002"}}},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert rows_of_accounts(running) == {"c-1001", "c-2002"}


def test_assume_role_durations_are_ascii_digits(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    broker = Credentials(bank["aws_access_key_id"], bank["aws_secret_access_key"])
    body = (
        f"Action=AssumeRole&Version=2011-06-15&RoleArn={TARGET}&RoleSessionName=req-1"
        "&DurationSeconds=%D9%A9%D9%A0%D9%A0"  # Arabic-Indic "900"
    ).encode()
    status, answer = sign_and_send(
        running, broker, "sts", body=body, headers={"content-type": FORM}
    )
    assert status == 400
    assert b"durationSeconds" in answer
