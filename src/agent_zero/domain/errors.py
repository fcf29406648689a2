"""Failures of Agent Zero, as one hierarchy of exceptions with a stable code.

Denials are not errors: a denied request is an ``Outcome`` value. These
exceptions mean the system could not do what was asked. Each class carries a
machine-readable ``code`` and the HTTP status an entry point should answer
with; entry points map them to responses in one place. Exceptions never log,
never do I/O, and their messages never carry secrets.

    AgentZeroError                      internal_error          500
    ├── InvalidInputError               invalid_input           400
    │   ├── MalformedPolicyError        malformed_policy        400
    │   └── CatalogError                invalid_catalog         400
    ├── AuthenticationError             unauthenticated         401
    ├── PermissionDeniedError           permission_denied       403
    ├── NotFoundError                   not_found               404
    ├── ConflictError                   conflict                409
    ├── SessionPolicyError              session_policy_invalid  422
    │   └── SessionPolicyTooLargeError  session_policy_too_large 422
    ├── RateLimitedError                rate_limited            429
    ├── ContainmentViolationError       containment_violation   500
    └── UnavailableError                unavailable             503
        └── ReviewerUnavailableError    reviewer_unavailable    503
"""

from __future__ import annotations

from typing import ClassVar


class AgentZeroError(Exception):
    """Base of every failure Agent Zero raises on purpose."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(AgentZeroError):
    """The caller sent something that cannot be processed as it is."""

    code = "invalid_input"
    http_status = 400


class MalformedPolicyError(InvalidInputError):
    """An IAM policy document does not follow the policy grammar."""

    code = "malformed_policy"

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class CatalogError(InvalidInputError):
    """The resource catalog is inconsistent (unknown keys, impossible actions)."""

    code = "invalid_catalog"


class AuthenticationError(AgentZeroError):
    """The caller's identity could not be verified."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(AgentZeroError):
    """The verified caller may not perform this operation."""

    code = "permission_denied"
    http_status = 403


class NotFoundError(AgentZeroError):
    """The named thing does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(AgentZeroError):
    """The operation conflicts with the current state (e.g. a stale version)."""

    code = "conflict"
    http_status = 409


class SessionPolicyError(AgentZeroError):
    """Approved grants cannot be expressed as a valid STS session policy."""

    code = "session_policy_invalid"
    http_status = 422


class SessionPolicyTooLargeError(SessionPolicyError):
    """The compiled session policy exceeds the 2,048-character STS limit."""

    code = "session_policy_too_large"

    def __init__(self, message: str, *, length: int, limit: int) -> None:
        super().__init__(message)
        self.length = length
        self.limit = limit


class RateLimitedError(AgentZeroError):
    """Too many requests; the caller should retry later."""

    code = "rate_limited"
    http_status = 429


class ContainmentViolationError(AgentZeroError):
    """A session policy would allow something outside the approved grants."""

    code = "containment_violation"
    http_status = 500


class UnavailableError(AgentZeroError):
    """A dependency (store, reviewer, STS) is unavailable; nothing was issued."""

    code = "unavailable"
    http_status = 503


class ReviewerUnavailableError(UnavailableError):
    """The reviewer gave no usable answer (timeout, error, malformed output, refusal)."""

    code = "reviewer_unavailable"
