"""What an IAM API call acts on, as IAM authorizes it.

The resource is the entity the call really touches, looked up in the account
(so a caller cannot rename it with a ``Path`` parameter); ``Path`` only names the
resource of a ``Create*`` call. Group membership calls are authorized on the
group, attach/detach calls carry ``iam:PolicyARN``, boundary calls
``iam:PermissionsBoundary``, and calls that default to the caller's own user do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from agent_zero.sandbox.dynamodb_requests import Check

EntityKind = Literal["role", "user", "group", "instance-profile"]


class IamNames(Protocol):
    """Looks up the ARN (with its path) of an existing IAM entity."""

    def iam_arn(self, kind: EntityKind, name: str) -> str | None:
        """The entity's ARN, or None when it does not exist."""
        ...


_GROUP_ACTIONS = frozenset(
    {
        "AddUserToGroup", "RemoveUserFromGroup", "CreateGroup", "DeleteGroup", "GetGroup",
        "UpdateGroup", "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy",
        "ListGroupPolicies", "AttachGroupPolicy", "DetachGroupPolicy",
        "ListAttachedGroupPolicies",
    }
)  # fmt: skip
# Calls that act on the caller's own user when UserName is left out.
_SELF_USER_ACTIONS = frozenset(
    {
        "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ListAccessKeys", "GetUser",
        "ChangePassword", "ListSigningCertificates", "ListSSHPublicKeys", "ListMFADevices",
        "GetLoginProfile",
    }
)  # fmt: skip
_PARAMETER_OF = {
    "role": "RoleName",
    "user": "UserName",
    "group": "GroupName",
    "instance-profile": "InstanceProfileName",
}
_POLICY_ARN_ACTIONS = frozenset(
    {
        "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
        "AttachGroupPolicy", "DetachGroupPolicy",
    }
)  # fmt: skip
_BOUNDARY_ACTIONS = frozenset(
    {"PutRolePermissionsBoundary", "PutUserPermissionsBoundary", "CreateRole", "CreateUser"}
)


def _entity_arn(
    kind: EntityKind, name: str, *, action: str, path: str, account: str, names: IamNames
) -> str:
    found = names.iam_arn(kind, name)
    if found is not None:
        return found
    # Only a Create* names a new entity's path; anything else acts on what exists.
    return f"arn:aws:iam::{account}:{kind}{path if action.startswith('Create') else '/'}{name}"


def iam_checks(
    action: str,
    parameters: Mapping[str, str],
    *,
    account: str,
    names: IamNames,
    caller_arn: str,
) -> list[Check]:
    """Every check an IAM call needs: renaming needs rights on the old and the new name."""
    checks = [iam_check(action, parameters, account=account, names=names, caller_arn=caller_arn)]
    for new_name, kind in (("NewUserName", "user"), ("NewGroupName", "group")):
        if new_name in parameters:
            new_path = parameters.get("NewPath", "/") or "/"
            target = f"arn:aws:iam::{account}:{kind}{new_path}{parameters[new_name]}"
            checks.append(Check(f"iam:{action}", target))
    return checks


def iam_check(
    action: str,
    parameters: Mapping[str, str],
    *,
    account: str,
    names: IamNames,
    caller_arn: str,
) -> Check:
    """The one check an IAM call needs."""
    path = parameters.get("Path", "/") or "/"
    if not path.startswith("/") or not path.endswith("/"):
        path = "/"
    context: dict[str, str | list[str]] = {}
    if action in _POLICY_ARN_ACTIONS and "PolicyArn" in parameters:
        context["iam:PolicyARN"] = parameters["PolicyArn"]
    if action in _BOUNDARY_ACTIONS and "PermissionsBoundary" in parameters:
        context["iam:PermissionsBoundary"] = parameters["PermissionsBoundary"]
    kind: EntityKind | None = None
    if action in _GROUP_ACTIONS:
        kind = "group"
    elif "InstanceProfile" in action and "InstanceProfileName" in parameters:
        kind = "instance-profile"
    elif "RoleName" in parameters:
        kind = "role"
    elif "UserName" in parameters:
        kind = "user"
    if kind is not None:
        name = parameters.get(_PARAMETER_OF[kind], "")
        resource = _entity_arn(kind, name, action=action, path=path, account=account, names=names)
        return Check(f"iam:{action}", resource, context)
    if action in _SELF_USER_ACTIONS:
        return Check(f"iam:{action}", caller_arn, context)
    if "PolicyArn" in parameters:
        return Check(f"iam:{action}", parameters["PolicyArn"], context)
    if action == "CreatePolicy" and "PolicyName" in parameters:
        resource = f"arn:aws:iam::{account}:policy{path}{parameters['PolicyName']}"
        return Check(f"iam:{action}", resource, context)
    if "InstanceProfileName" in parameters:
        resource = _entity_arn(
            "instance-profile",
            parameters["InstanceProfileName"],
            action=action,
            path=path,
            account=account,
            names=names,
        )
        return Check(f"iam:{action}", resource, context)
    return Check(f"iam:{action}", "*", context)
