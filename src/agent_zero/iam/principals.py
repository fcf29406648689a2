"""Who is calling: the forms of a caller's identity that a resource policy can name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from agent_zero.domain.errors import InvalidInputError
from agent_zero.iam.policy import PrincipalMatch, PrincipalSet

_ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([^/]+)/(.+)")
_FEDERATED = re.compile(r"arn:(aws[a-z-]*):sts::([0-9]{12}):federated-user/(.+)")
_USER = re.compile(r"arn:(aws[a-z-]*):iam::([0-9]{12}):user/(.+)")
_ROOT = re.compile(r"arn:(aws[a-z-]*):iam::([0-9]{12}):root")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):role/(?:[^*?]*/)?([^/*?]+)")


def role_identity(account: str, role_name: str) -> str:
    """How principal sets name a role: by account and name, never by path.

    IAM role names are unique in an account whatever their path, and a session
    ARN drops the path, so matching on the name is exact; matching on a guessed
    path-less ARN would miss a Deny that names ``role/service/Target``.
    """
    return f"role:{account}:{role_name}"


def role_identity_of_arn(arn: str) -> str | None:
    """The role identity of a role ARN (with or without a path), or None."""
    match = _ROLE.fullmatch(arn)
    return None if match is None else role_identity(match.group(1), match.group(2))


class CallerKind(StrEnum):
    """The kinds of principal that sign requests."""

    ROLE_SESSION = "role_session"
    FEDERATED_USER = "federated_user"
    USER = "user"
    ROOT = "root"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller's ARN and the identities behind it (session → role → account)."""

    arn: str
    kind: CallerKind
    account: str | None
    role: str | None = None  # role_identity() of a session's role

    @property
    def is_session(self) -> bool:
        """Role and federated-user sessions are the principals session policies limit."""
        return self.kind in (CallerKind.ROLE_SESSION, CallerKind.FEDERATED_USER)

    def chain(self) -> tuple[str, ...]:
        """Every form under which a resource policy could name this caller."""
        forms = [self.arn]
        if self.role:
            forms.append(self.role)
        if self.account:
            forms.append(f"account:{self.account}")
        return tuple(forms)


@lru_cache(maxsize=1024)
def identify_caller(principal: str) -> Caller:
    """Read a caller ARN into the identities a resource policy could name."""
    if match := _ASSUMED_ROLE.fullmatch(principal):
        _partition, account, role_name, _session = match.groups()
        return Caller(
            principal, CallerKind.ROLE_SESSION, account, role_identity(account, role_name)
        )
    if match := _FEDERATED.fullmatch(principal):
        return Caller(principal, CallerKind.FEDERATED_USER, match.group(2))
    if match := _USER.fullmatch(principal):
        return Caller(principal, CallerKind.USER, match.group(2))
    if match := _ROOT.fullmatch(principal):
        return Caller(principal, CallerKind.ROOT, match.group(2))
    if _SERVICE.fullmatch(principal):
        return Caller(principal, CallerKind.SERVICE, None)
    raise InvalidInputError(f"not a principal ARN: {principal!r}")


def match_principal(principals: PrincipalSet, caller: Caller) -> PrincipalMatch | None:
    """The most direct way ``principals`` names ``caller``, or None."""
    if principals.everyone:
        return PrincipalMatch.DIRECT
    if caller.kind is CallerKind.SERVICE:
        return PrincipalMatch.DIRECT if caller.arn in principals.services else None
    if caller.arn in principals.aws:
        return PrincipalMatch.DIRECT
    if caller.role and caller.role in principals.aws:
        return PrincipalMatch.ROLE
    if caller.account and f"account:{caller.account}" in principals.aws:
        return PrincipalMatch.ACCOUNT
    return None


def excluded_by_not_principal(principals: PrincipalSet, caller: Caller) -> bool:
    """NotPrincipal exempts a caller only when every identity in its chain is listed."""
    if principals.everyone:
        return True
    if caller.kind is CallerKind.SERVICE:
        return caller.arn in principals.services
    return all(form in principals.aws for form in caller.chain())
