"""STS, answered by the gateway itself: AssumeRole checked as AWS checks it.

moto would mint any session: it ignores the trust policy, DurationSeconds
limits, the policy size and grammar, and drops SourceIdentity and session tags.
Here the trust policy must admit the caller (evaluated as a resource policy that
is required), SourceIdentity needs ``sts:SetSourceIdentity`` and cannot change
down a chain, tags need ``sts:TagSession``, and role chaining caps sessions at
one hour. The minted session is recorded so later requests are judged by it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from agent_zero.domain.errors import MalformedPolicyError
from agent_zero.iam import PolicyKind
from agent_zero.sandbox.aws_errors import AwsError, access_denied
from agent_zero.sandbox.callers import (
    Caller,
    CallerKind,
    ContextValues,
    authorize,
    parsed,
)
from agent_zero.sandbox.dynamodb_requests import Check
from agent_zero.sandbox.moto_host import IamRoleRecord
from agent_zero.sandbox.sessions import (
    GatewayState,
    RoleSession,
    new_access_key_id,
    new_secret_access_key,
)

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
MIN_DURATION = 900
CHAINED_MAX_DURATION = 3_600
POLICY_MAX_CHARS = 2_048
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_SOURCE_IDENTITY = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_ROLE_ARN = re.compile(
    r"arn:aws:iam::([0-9]{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})", re.ASCII
)
_LATIN1 = re.compile(r"[\t\n\r\x20-\xff]*")


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


def _members(parameters: Mapping[str, str], prefix: str) -> list[dict[str, str]]:
    # "Tags.member.1.Key=k&Tags.member.1.Value=v" → [{"Key": "k", "Value": "v"}]
    grouped: dict[int, dict[str, str]] = {}
    for name, value in parameters.items():
        if not name.startswith(prefix + ".member."):
            continue
        rest = name[len(prefix) + 8 :]
        number, _, field = rest.partition(".")
        if number.isdigit():
            grouped.setdefault(int(number), {})[field or ""] = value
    return [grouped[n] for n in sorted(grouped)]


MAX_SESSION_TAGS = 50
_TAG_KEY = re.compile(r"[\w .:/=+\-@]{1,128}", re.ASCII)
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}", re.ASCII)


def _session_tags(members: list[dict[str, str]]) -> dict[str, str]:
    """Session tags as AWS accepts them: at most 50, keys unique ignoring case."""
    if len(members) > MAX_SESSION_TAGS:
        raise _validation(f"at most {MAX_SESSION_TAGS} session tags are allowed")
    tags: dict[str, str] = {}
    for member in members:
        key, value = member.get("Key", ""), member.get("Value", "")
        if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(value):
            raise _validation("session tag keys are 1-128 and values 0-256 allowed characters")
        if key.lower() in {existing.lower() for existing in tags}:
            raise _validation(f"Duplicate tag keys found: {key} (tag keys are case-insensitive)")
        tags[key] = value
    return tags


def _duration(parameters: Mapping[str, str]) -> int:
    raw = parameters.get("DurationSeconds", "3600")
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise _validation(f"Value '{raw[:32]}' at 'durationSeconds' failed to satisfy constraint")
    duration = int(raw)
    if duration < MIN_DURATION:
        raise _validation(
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}"
        )
    return duration


def _session_policy(parameters: Mapping[str, str]) -> str | None:
    text = parameters.get("Policy")
    if text is None:
        return None
    if len(text) > POLICY_MAX_CHARS:
        raise _validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
            f"Member must have length less than or equal to {POLICY_MAX_CHARS}"
        )
    if not _LATIN1.fullmatch(text):
        raise _validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
        )
    try:
        parsed(text, PolicyKind.SESSION)
    except MalformedPolicyError as error:
        raise AwsError(
            "MalformedPolicyDocument", f"The policy is not valid: {error}", 400
        ) from None
    return text


def assume_role(
    caller: Caller,
    parameters: Mapping[str, str],
    *,
    state: GatewayState,
    role_of: Callable[[str], IamRoleRecord | None],
    base_context: ContextValues,
    now: datetime,
) -> bytes:
    """Validate and authorize an AssumeRole call, record the session, answer AWS's XML."""
    role_arn = parameters.get("RoleArn", "")
    session_name = parameters.get("RoleSessionName", "")
    if not _SESSION_NAME.fullmatch(session_name):
        raise _validation(
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    if "PolicyArns.member.1.arn" in parameters:
        raise _validation("managed session policies (PolicyArns) are not supported by the sandbox")
    if "SerialNumber" in parameters or "TokenCode" in parameters:
        raise _validation("MFA is not supported by the sandbox")
    if caller.kind is CallerKind.ROOT:
        raise AwsError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
    duration = _duration(parameters)
    policy_text = _session_policy(parameters)
    tags = _session_tags(_members(parameters, "Tags"))
    transitive = {t.get("", "") for t in _members(parameters, "TransitiveTagKeys")}
    if not transitive <= set(tags):
        raise _validation("TransitiveTagKeys must name tags passed in Tags")
    requested_source = parameters.get("SourceIdentity")
    if requested_source is not None and not _SOURCE_IDENTITY.fullmatch(requested_source):
        raise _validation("SourceIdentity must be 2-64 characters of [\\w+=,.@-]")
    inherited_source = caller.session.source_identity if caller.session else None
    if inherited_source and requested_source and requested_source != inherited_source:
        raise AwsError(
            "AccessDenied", "SourceIdentity cannot be changed once it is set on a session", 403
        )
    source_identity = requested_source or inherited_source
    if caller.session is not None:
        inherited_tags = {
            k: v for k, v in caller.session.tags.items() if k in caller.session.transitive_tag_keys
        }
        clashing = sorted(k for k in tags if k.lower() in {i.lower() for i in inherited_tags})
        if clashing:
            # A transitive tag holds for the whole chain; overriding it would re-scope the chain.
            raise _validation(
                f"The session tags {clashing} are transitive tags of the calling session "
                "and cannot be overridden"
            )
        tags = {**inherited_tags, **tags}
        transitive |= set(caller.session.transitive_tag_keys)

    arn_match = _ROLE_ARN.fullmatch(role_arn)
    role = role_of(arn_match.group(2)) if arn_match else None
    check = Check("sts:AssumeRole", role_arn or "*")
    request_keys: ContextValues = {"sts:RoleSessionName": session_name}
    if source_identity:
        request_keys["sts:SourceIdentity"] = source_identity
    if tags:
        request_keys["aws:TagKeys"] = sorted(tags)
        request_keys |= {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if transitive:
        request_keys["sts:TransitiveTagKeys"] = sorted(transitive)
    if "ExternalId" in parameters:
        request_keys["sts:ExternalId"] = parameters["ExternalId"]
    context = {**base_context, **request_keys}
    if (
        role is None
        or role.arn != role_arn
        or arn_match is None
        or arn_match.group(1) != caller.account_id
    ):
        # AWS answers a missing role as a denial, never as "no such role".
        raise _denied(
            caller, check, "because no resource-based policy allows the sts:AssumeRole action"
        )
    trust = parsed(role.trust_policy, PolicyKind.RESOURCE)
    needed = [check]
    if source_identity is not None:
        # Also when inherited down a chain: every role in it must allow SetSourceIdentity.
        needed.append(Check("sts:SetSourceIdentity", role.arn))
    if tags or transitive:
        needed.append(Check("sts:TagSession", role.arn))
    for each in needed:
        result = authorize(
            caller,
            Check(each.action, role.arn, {}),
            base_context=context,
            resource_policy=trust,
            resource_policy_required=True,
        )
        if not result.allowed:
            raise access_denied(
                "sts", caller_arn=caller.arn, action=each.action, resource=role.arn, result=result
            )
    if duration > role.max_session_seconds:
        raise _validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    if caller.kind is CallerKind.SESSION and duration > CHAINED_MAX_DURATION:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles "
            "assumed by role chaining."
        )
    issued = now.replace(microsecond=0)
    session = RoleSession(
        access_key_id=new_access_key_id("ASIA"),
        secret_access_key=new_secret_access_key(),
        session_token=secrets.token_urlsafe(192),
        account_id=caller.account_id,
        role_name=role.name,
        role_arn=role.arn,
        role_id=role.role_id,
        session_name=session_name,
        session_policy=policy_text,
        source_identity=source_identity,
        tags=tags,
        transitive_tag_keys=frozenset(transitive),
        issued_at=issued,
        expires_at=issued + timedelta(seconds=duration),
        assumed_by=caller.arn,
    )
    state.add_session(session)
    packed = 0 if policy_text is None else min(100, len(policy_text) * 100 // POLICY_MAX_CHARS)
    source_xml = (
        f"<SourceIdentity>{escape(source_identity)}</SourceIdentity>" if source_identity else ""
    )
    return _response(
        "AssumeRole",
        f"{source_xml}<AssumedRoleUser><AssumedRoleId>{escape(session.user_id)}</AssumedRoleId>"
        f"<Arn>{escape(session.arn)}</Arn></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{session.secret_access_key}</SecretAccessKey>"
        f"<SessionToken>{session.session_token}</SessionToken>"
        f"<Expiration>{session.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
        f"</Credentials><PackedPolicySize>{packed}</PackedPolicySize>",
    )


def _denied(caller: Caller, check: Check, because: str) -> AwsError:
    return AwsError(
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: {check.action} on resource: "
        f"{check.resource} {because}",
        403,
    )


def get_caller_identity(caller: Caller) -> bytes:
    """Who the caller is; AWS answers this whatever the caller's policies say."""
    return _response(
        "GetCallerIdentity",
        f"<Arn>{escape(caller.arn)}</Arn><UserId>{escape(caller.user_id)}</UserId>"
        f"<Account>{caller.account_id}</Account>",
    )


def _response(operation: str, result: str) -> bytes:
    return (
        f'<{operation}Response xmlns="{NAMESPACE}"><{operation}Result>{result}'
        f"</{operation}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        f"</ResponseMetadata></{operation}Response>"
    ).encode()
