"""The IAM gateway as boto3 sees it: minted sessions can do exactly what their policy says."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.conftest import ACCOUNT, REGION, RunningSandbox, policy, start_sandbox
from e2e.small_bank import (
    ACCOUNTS,
    BROKER,
    TARGET,
    error_code,
    key,
    make_bank,
    mint,
)

# --- a row-scoped session ---------------------------------------------------------------


def test_a_scoped_session_reads_its_own_rows(running: RunningSandbox, bank: dict[str, str]) -> None:
    dynamodb = running.session_client("dynamodb", mint(running, bank))
    assert dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))["Item"]["balance"] == {
        "N": "100"
    }
    query = dynamodb.query(
        TableName="Accounts",
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "customer_id"},
        ExpressionAttributeValues={":c": {"S": "c-1001"}},
    )
    assert query["Count"] == 1
    batch = dynamodb.batch_get_item(RequestItems={"Accounts": {"Keys": [key("c-1001")]}})
    assert len(batch["Responses"]["Accounts"]) == 1


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("another customer", lambda d: d.get_item(TableName="Accounts", Key=key("c-2002"))),
        (
            "another customer by query",
            lambda d: d.query(
                TableName="Accounts",
                KeyConditionExpression="customer_id = :c",
                ExpressionAttributeValues={":c": {"S": "c-2002"}},
            ),
        ),
        (
            "a batch mixing in another customer",
            lambda d: d.batch_get_item(
                RequestItems={"Accounts": {"Keys": [key("c-1001"), key("c-2002")]}}
            ),
        ),
        ("scan", lambda d: d.scan(TableName="Accounts")),
        ("partiql", lambda d: d.execute_statement(Statement='SELECT * FROM "Accounts"')),
        (
            "the index",
            lambda d: d.query(
                TableName="Accounts",
                IndexName="ByBranch",
                KeyConditionExpression="branch = :b",
                ExpressionAttributeValues={":b": {"S": "north"}},
            ),
        ),
        ("another table", lambda d: d.get_item(TableName="Transactions", Key=key("c-1001"))),
        (
            "a write without a write grant",
            lambda d: d.put_item(
                TableName="Accounts", Item={**key("c-1001"), "balance": {"N": "1"}}
            ),
        ),
        ("a table-level call", lambda d: d.delete_table(TableName="Accounts")),
    ],
)
def test_a_scoped_session_is_denied_everything_else(
    running: RunningSandbox, bank: dict[str, str], name: str, call: Any
) -> None:
    dynamodb = running.session_client("dynamodb", mint(running, bank))
    with pytest.raises(ClientError) as raised:
        call(dynamodb)
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", name
    assert error["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/bank-target/req-0001 is not authorized"
    )
    # Nothing was written or deleted behind the denial.
    assert running.client("dynamodb").get_item(TableName="Accounts", Key=key("c-1001"))["Item"][
        "balance"
    ] == {"N": "100"}


def test_the_denial_names_the_policy_type_as_aws_does(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    dynamodb = running.session_client("dynamodb", mint(running, bank))
    with pytest.raises(ClientError) as raised:
        dynamodb.scan(TableName="Accounts")
    assert raised.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/bank-target/req-0001 is not authorized to "
        f"perform: dynamodb:Scan on resource: {ACCOUNTS} because no session policy allows the "
        "dynamodb:Scan action"
    )


def test_an_empty_row_key_is_refused(running: RunningSandbox, bank: dict[str, str]) -> None:
    dynamodb = running.session_client("dynamodb", mint(running, bank))
    assert error_code(lambda: dynamodb.get_item(TableName="Accounts", Key=key(""))) in (
        "AccessDeniedException",
        "ValidationException",
    )


# --- credentials that must not work -------------------------------------------------------


def test_expired_credentials_are_refused(tmp_path: Path) -> None:
    # A wide skew lets the gateway's clock run ahead of boto3's without tripping the
    # signature-age rule, so the token's own expiry is what is tested.
    running = start_sandbox(tmp_path / "sandbox", max_skew=timedelta(hours=2))
    try:
        broker = make_bank(running)
        dynamodb = running.session_client("dynamodb", mint(running, broker))
        assert "Item" in dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))
        running.clock.offset = timedelta(seconds=901)
        with pytest.raises(ClientError) as raised:
            dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))
        assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
        assert raised.value.response["Error"]["Message"] == (
            "The security token included in the request is expired"
        )
    finally:
        running.sandbox.stop()


def test_a_wrong_signature_is_refused_per_protocol(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    credentials = mint(running, bank)
    forged = {**credentials, "SecretAccessKey": "x" * 40}
    dynamodb = running.session_client("dynamodb", forged)
    sts = running.session_client("sts", forged)
    assert error_code(lambda: dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))) == (
        "InvalidSignatureException"
    )
    assert error_code(sts.get_caller_identity) == "SignatureDoesNotMatch"


def test_a_stolen_key_without_its_session_token_is_refused(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    credentials = mint(running, bank)
    dynamodb = running.client(
        "dynamodb",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token="forged-token",
    )
    assert error_code(lambda: dynamodb.get_item(TableName="Accounts", Key=key("c-1001"))) == (
        "UnrecognizedClientException"
    )


def test_unknown_keys_and_unsigned_requests_are_refused(running: RunningSandbox) -> None:
    stranger = running.client(
        "dynamodb", aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x" * 40
    )
    assert error_code(stranger.list_tables) == "UnrecognizedClientException"
    anonymous = boto3.client(
        "dynamodb",
        endpoint_url=running.endpoint,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED),
    )
    assert error_code(anonymous.list_tables) == "MissingAuthenticationTokenException"


def test_a_request_signed_too_long_ago_is_refused(running: RunningSandbox) -> None:
    running.clock.offset = timedelta(minutes=6)
    assert error_code(running.client("dynamodb").list_tables) == "InvalidSignatureException"
    assert error_code(running.client("sts").get_caller_identity) == "SignatureDoesNotMatch"
    running.clock.offset = timedelta(minutes=4)
    assert "TableNames" in running.client("dynamodb").list_tables()


# --- revocation ------------------------------------------------------------------------------


def test_revoking_a_session_cuts_its_live_credentials(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    alice = running.session_client("dynamodb", mint(running, bank, SourceIdentity="alice"))
    bob = running.session_client(
        "dynamodb", mint(running, bank, SourceIdentity="bob", RoleSessionName="req-0002")
    )
    assert "Item" in alice.get_item(TableName="Accounts", Key=key("c-1001"))
    revocation = policy(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": ["alice"]}},
        }
    )
    running.client("iam", **bank).put_role_policy(
        RoleName="bank-target", PolicyName="agent-zero-revocations", PolicyDocument=revocation
    )
    with pytest.raises(ClientError) as raised:
        alice.get_item(TableName="Accounts", Key=key("c-1001"))
    assert raised.value.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy"
    )
    assert "Item" in bob.get_item(TableName="Accounts", Key=key("c-1001"))


def test_revoking_by_token_issue_time_cuts_older_sessions_only(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    old = running.session_client("dynamodb", mint(running, bank))
    running.clock.offset = timedelta(seconds=2)
    cutoff = (running.clock() - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    running.client("iam", **bank).put_role_policy(
        RoleName="bank-target",
        PolicyName="agent-zero-revocations",
        PolicyDocument=policy(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
            }
        ),
    )
    new = running.session_client("dynamodb", mint(running, bank, RoleSessionName="req-0003"))
    assert error_code(lambda: old.get_item(TableName="Accounts", Key=key("c-1001"))) == (
        "AccessDeniedException"
    )
    assert "Item" in new.get_item(TableName="Accounts", Key=key("c-1001"))


# --- AssumeRole as AWS checks it ---------------------------------------------------------------


def test_the_trust_policy_decides_who_may_assume(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    iam = running.client("iam")
    iam.create_user(UserName="mallory")
    iam.put_user_policy(
        UserName="mallory",
        PolicyName="wants-everything",
        PolicyDocument=policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    created = iam.create_access_key(UserName="mallory")["AccessKey"]
    mallory = running.client(
        "sts",
        aws_access_key_id=created["AccessKeyId"],
        aws_secret_access_key=created["SecretAccessKey"],
    )
    with pytest.raises(ClientError) as raised:
        mallory.assume_role(RoleArn=TARGET, RoleSessionName="steal")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/mallory is not authorized to perform: "
        f"sts:AssumeRole on resource: {TARGET} because no resource-based policy allows the "
        "sts:AssumeRole action"
    )


@pytest.mark.parametrize(
    ("arguments", "code", "text"),
    [
        ({"DurationSeconds": 899}, "ValidationError", "greater than or equal to 900"),
        ({"DurationSeconds": 7201}, "ValidationError", "MaxSessionDuration"),
        ({"Policy": "x" * 2049}, "ValidationError", "less than or equal to 2048"),
        ({"Policy": '{"Statement": "nope"}'}, "MalformedPolicyDocument", "not valid"),
        (
            {"Policy": '{"Version":"2012-10-17","Statement":[{"Sid":"\u2603"}]}'},
            "ValidationError",
            "regular expression",
        ),
        ({"RoleSessionName": "a b"}, "ValidationError", "roleSessionName"),
        ({"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/nope"}, "AccessDenied", "sts:AssumeRole"),
    ],
)
def test_assume_role_validates_like_aws(
    running: RunningSandbox, bank: dict[str, str], arguments: dict[str, Any], code: str, text: str
) -> None:
    with pytest.raises(ClientError) as raised:
        mint(running, bank, **arguments)
    assert raised.value.response["Error"]["Code"] == code
    assert text in raised.value.response["Error"]["Message"]


def test_role_chaining_is_capped_at_one_hour(running: RunningSandbox, bank: dict[str, str]) -> None:
    iam = running.client("iam")
    iam.update_assume_role_policy(
        RoleName="bank-target",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": [BROKER, f"arn:aws:iam::{ACCOUNT}:role/bank-target"]},
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
            DurationSeconds=3600,
        ),
    )
    with pytest.raises(ClientError) as raised:
        first.assume_role(RoleArn=TARGET, RoleSessionName="chained", DurationSeconds=3601)
    assert "role chaining" in raised.value.response["Error"]["Message"]
    chained = first.assume_role(RoleArn=TARGET, RoleSessionName="chained", DurationSeconds=3600)
    # SourceIdentity survives the chain and cannot be changed.
    assert chained["SourceIdentity"] == "alice"
    with pytest.raises(ClientError):
        first.assume_role(RoleArn=TARGET, RoleSessionName="chained2", SourceIdentity="bob")


def test_source_identity_and_tags_need_their_own_permissions(
    running: RunningSandbox, bank: dict[str, str]
) -> None:
    running.client("iam").update_assume_role_policy(
        RoleName="bank-target",
        PolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": BROKER}, "Action": "sts:AssumeRole"}
        ),
    )
    assert error_code(lambda: mint(running, bank, SourceIdentity="alice")) == "AccessDenied"
    plain = {"RoleArn": TARGET, "RoleSessionName": "req-9"}
    sts = running.client("sts", **bank)
    assert error_code(lambda: sts.assume_role(**plain, Tags=[{"Key": "k", "Value": "v"}])) == (
        "AccessDenied"
    )
    assert sts.assume_role(**plain)["AssumedRoleUser"]["Arn"].endswith("bank-target/req-9")


def test_sessions_know_who_they_are(running: RunningSandbox, bank: dict[str, str]) -> None:
    credentials = mint(running, bank)
    identity = running.session_client("sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/bank-target/req-0001"
    assert identity["Account"] == ACCOUNT
    assert identity["UserId"].endswith(":req-0001")


def test_iam_denials_use_the_query_protocol(running: RunningSandbox, bank: dict[str, str]) -> None:
    iam = running.client("iam", **bank)
    with pytest.raises(ClientError) as raised:
        iam.create_user(UserName="escalate")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# --- the endpoint itself ------------------------------------------------------------------------


def test_health_and_moto_control_api(running: RunningSandbox) -> None:
    with urllib.request.urlopen(running.endpoint + "/healthz", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
    request = urllib.request.Request(running.endpoint + "/moto-api/reset", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    raised.value.close()
    assert raised.value.code == 404


def test_s3_objects_and_presigned_urls(running: RunningSandbox) -> None:
    s3 = running.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="statements")
    s3.put_object(Bucket="statements", Key="2026/11 c-1001.pdf", Body=b"%PDF")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "statements", "Key": "2026/11 c-1001.pdf"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"%PDF"
    running.clock.offset = timedelta(seconds=61)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url, timeout=5)
    raised.value.close()
    assert raised.value.code == 403


def test_cognito_sign_in_and_tokens_verify_against_the_jwks(running: RunningSandbox) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    idp = running.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="bank")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool, GroupName="customer")
    idp.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="alice", Password="Corr3ct!horse", Permanent=True
    )
    idp.admin_add_user_to_group(UserPoolId=pool, Username="alice", GroupName="customer")
    public = boto3.client(
        "cognito-idp",
        endpoint_url=running.endpoint,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED),
    )
    tokens = public.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Corr3ct!horse"},
    )["AuthenticationResult"]
    with urllib.request.urlopen(f"{running.endpoint}/{pool}/.well-known/jwks.json", timeout=5) as r:
        keys = KeySet.import_key_set(json.loads(r.read()))
    claims = jwt.decode(tokens["IdToken"], keys).claims
    assert claims["cognito:username"] == "alice"
    assert claims["cognito:groups"] == ["customer"]
    assert claims["token_use"] == "id"
    tampered = tokens["IdToken"][:-4] + (
        "AAAA" if not tokens["IdToken"].endswith("AAAA") else "BBBB"
    )
    with pytest.raises(Exception, match="signature"):
        jwt.decode(tampered, keys)
    assert (
        error_code(
            lambda: public.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "alice", "PASSWORD": "wrong"},
            )
        )
        == "NotAuthorizedException"
    )
    # Admin calls still need a signature and IAM.
    assert error_code(lambda: public.admin_get_user(UserPoolId=pool, Username="alice")) == (
        "MissingAuthenticationTokenException"
    )
