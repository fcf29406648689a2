"""Condition operators: parsing policy values and matching request values.

Missing-key rules (condition operators reference page): without a qualifier a
missing key makes a positive operator false and a negated one true;
``...IfExists`` makes a missing key true; ``ForAllValues`` over a missing key or
an empty set is true; ``ForAnyValue`` over a missing key is false; ``Null``
tests presence itself.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from agent_zero.domain.errors import MalformedPolicyError
from agent_zero.iam.context import RequestContext
from agent_zero.iam.patterns import Template, arn_matches, glob_matches, parse_template


class ConditionValueError(Exception):
    """A request value could not be read as the operator's type (evaluation fails closed)."""


class Qualifier(StrEnum):
    """Set operators for multivalued keys."""

    FOR_ALL_VALUES = "ForAllValues"
    FOR_ANY_VALUE = "ForAnyValue"


Matcher = Callable[[str, Any, RequestContext], bool]


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """How one base operator prepares policy values and compares a request value."""

    prepare: Callable[[str, bool], object]
    compare: Matcher
    negated: bool


# ASCII digits only: Python's \d and Decimal() also accept other scripts' digits.
_DATE_PARTIAL = re.compile(r"([0-9]{4})(?:-([0-9]{2}))?")
_EPOCH = re.compile(r"[0-9]+(\.[0-9]+)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_date(text: str) -> datetime:
    """Read a W3C/ISO 8601 date-time or epoch seconds as an aware UTC datetime.

    The W3C forms ``YYYY`` and ``YYYY-MM`` are tried before epoch seconds, so
    "2027" is the year 2027, not 33 minutes past 1970.
    """
    text = text.strip()
    partial = _DATE_PARTIAL.fullmatch(text)
    if partial:
        return datetime(int(partial.group(1)), int(partial.group(2) or 1), 1, tzinfo=UTC)
    if _EPOCH.fullmatch(text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    if not text.isascii():
        raise ValueError(f"not an ASCII date: {text!r}")
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _parse_decimal(text: str) -> Decimal:
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise InvalidOperation(text)
    number = Decimal(text)
    if not number.is_finite():
        raise InvalidOperation(text)
    return number


def _prepare_template(text: str, variables: bool) -> Template:
    return parse_template(text, variables=variables)


def _prepare_bool(text: str, variables: bool) -> Template:
    template = parse_template(text, variables=variables)
    if not template.has_variables and text.lower() not in ("true", "false"):
        raise ValueError("Bool values must be true or false")
    return template


def _prepare_decimal(text: str, _variables: bool) -> Decimal:
    return _parse_decimal(text)


def _prepare_date(text: str, _variables: bool) -> datetime:
    return parse_date(text)


def _prepare_binary(text: str, _variables: bool) -> bytes:
    return base64.b64decode(text, validate=True)


def _prepare_network(text: str, _variables: bool) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text.strip(), strict=False)


def _resolved(template: Template, context: RequestContext) -> tuple[Any, ...] | None:
    return template.resolve(context) if template.has_variables else template.pieces


def _string_equals(ignore_case: bool) -> Matcher:
    def compare(value: str, template: Template, context: RequestContext) -> bool:
        pieces = _resolved(template, context)
        if pieces is None:
            return False
        text = "".join(p if isinstance(p, str) else p.text for p in pieces)
        # lower(), like the glob matcher: casefold() would also equate "ß" and "ss".
        return text.lower() == value.lower() if ignore_case else text == value

    return compare


def _string_like(value: str, template: Template, context: RequestContext) -> bool:
    pieces = _resolved(template, context)
    return pieces is not None and glob_matches(pieces, value)


def _arn_like(value: str, template: Template, context: RequestContext) -> bool:
    pieces = _resolved(template, context)
    return pieces is not None and arn_matches(pieces, value)


def _bool_equals(value: str, template: Template, context: RequestContext) -> bool:
    return _string_equals(True)(value, template, context)


def _numeric(test: Callable[[Decimal, Decimal], bool]) -> Matcher:
    def compare(value: str, policy: Decimal, _context: RequestContext) -> bool:
        try:
            return test(_parse_decimal(value), policy)
        except (InvalidOperation, ValueError) as error:
            raise ConditionValueError(f"not a number: {value!r}") from error

    return compare


def _date(test: Callable[[datetime, datetime], bool]) -> Matcher:
    def compare(value: str, policy: datetime, _context: RequestContext) -> bool:
        try:
            return test(parse_date(value), policy)
        except (ValueError, OverflowError) as error:
            raise ConditionValueError(f"not a date: {value!r}") from error

    return compare


def _binary_equals(value: str, policy: bytes, _context: RequestContext) -> bool:
    try:
        return base64.b64decode(value, validate=True) == policy
    except (binascii.Error, ValueError) as error:
        raise ConditionValueError("not base64") from error


def _in_network(
    value: str, policy: ipaddress.IPv4Network | ipaddress.IPv6Network, _context: RequestContext
) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError as error:
        raise ConditionValueError(f"not an IP address: {value!r}") from error
    return address.version == policy.version and address in policy


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    return bool(a >= b)


def _spec(
    prepare: Callable[[str, bool], object], compare: Matcher, *, negated: bool = False
) -> OperatorSpec:
    return OperatorSpec(prepare=prepare, compare=compare, negated=negated)


OPERATORS: dict[str, OperatorSpec] = {
    "StringEquals": _spec(_prepare_template, _string_equals(False)),
    "StringNotEquals": _spec(_prepare_template, _string_equals(False), negated=True),
    "StringEqualsIgnoreCase": _spec(_prepare_template, _string_equals(True)),
    "StringNotEqualsIgnoreCase": _spec(_prepare_template, _string_equals(True), negated=True),
    "StringLike": _spec(_prepare_template, _string_like),
    "StringNotLike": _spec(_prepare_template, _string_like, negated=True),
    "NumericEquals": _spec(_prepare_decimal, _numeric(_eq)),
    "NumericNotEquals": _spec(_prepare_decimal, _numeric(_eq), negated=True),
    "NumericLessThan": _spec(_prepare_decimal, _numeric(_lt)),
    "NumericLessThanEquals": _spec(_prepare_decimal, _numeric(_le)),
    "NumericGreaterThan": _spec(_prepare_decimal, _numeric(_gt)),
    "NumericGreaterThanEquals": _spec(_prepare_decimal, _numeric(_ge)),
    "DateEquals": _spec(_prepare_date, _date(_eq)),
    "DateNotEquals": _spec(_prepare_date, _date(_eq), negated=True),
    "DateLessThan": _spec(_prepare_date, _date(_lt)),
    "DateLessThanEquals": _spec(_prepare_date, _date(_le)),
    "DateGreaterThan": _spec(_prepare_date, _date(_gt)),
    "DateGreaterThanEquals": _spec(_prepare_date, _date(_ge)),
    "Bool": _spec(_prepare_bool, _bool_equals),
    "BinaryEquals": _spec(_prepare_binary, _binary_equals),
    "IpAddress": _spec(_prepare_network, _in_network),
    "NotIpAddress": _spec(_prepare_network, _in_network, negated=True),
    "ArnEquals": _spec(_prepare_template, _arn_like),
    "ArnLike": _spec(_prepare_template, _arn_like),
    "ArnNotEquals": _spec(_prepare_template, _arn_like, negated=True),
    "ArnNotLike": _spec(_prepare_template, _arn_like, negated=True),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One key tested by one operator against the policy's values."""

    operator: str
    key: str
    spec: OperatorSpec | None  # None for the Null operator
    values: tuple[Any, ...]
    qualifier: Qualifier | None
    if_exists: bool

    def holds(self, context: RequestContext) -> bool:
        """Whether the condition is true for this request context."""
        request_values = context.get(self.key)
        # Empty strings are a null data set for the set operators (multivalued
        # conditions page) and null for Null (condition element page). Both must
        # agree, or ForAllValues would pass [""] while the Null guard saw a key.
        # A plain StringLike "" still matches s3:prefix "" (home-directory example).
        set_or_null = self.spec is None or self.qualifier is not None
        if set_or_null and request_values and all(value == "" for value in request_values):
            request_values = None
        if self.spec is None:
            return self._null_holds(request_values)
        if request_values is None:
            if self.if_exists or self.qualifier is Qualifier.FOR_ALL_VALUES:
                return True
            return self.spec.negated and self.qualifier is None
        if self.qualifier is Qualifier.FOR_ALL_VALUES:
            return all(self._value_matches(value, context) for value in request_values)
        if self.qualifier is Qualifier.FOR_ANY_VALUE:
            return any(self._value_matches(value, context) for value in request_values)
        positive = any(self._positive(value, context) for value in request_values)
        return not positive if self.spec.negated else positive

    def _positive(self, value: str, context: RequestContext) -> bool:
        assert self.spec is not None
        compare = self.spec.compare
        return any(compare(value, policy_value, context) for policy_value in self.values)

    def _value_matches(self, value: str, context: RequestContext) -> bool:
        assert self.spec is not None
        positive = self._positive(value, context)
        return not positive if self.spec.negated else positive

    def _null_holds(self, request_values: tuple[str, ...] | None) -> bool:
        absent = request_values is None
        return any(absent == expected for expected in self.values)


def parse_condition_block(block: object, *, variables: bool, path: str) -> tuple[Condition, ...]:
    """Parse a statement's ``Condition`` element into conditions (all must hold)."""
    if not isinstance(block, dict):
        raise MalformedPolicyError("Condition must be an object", path=path)
    conditions: list[Condition] = []
    for operator_name, keys in block.items():
        if not isinstance(operator_name, str):
            raise MalformedPolicyError("condition operators must be strings", path=path)
        if not isinstance(keys, dict) or not keys:
            raise MalformedPolicyError(
                f"condition operator {operator_name} must map keys to values", path=path
            )
        for key, raw_values in keys.items():
            conditions.append(
                _parse_condition(
                    operator_name, key, raw_values, variables, f"{path}.{operator_name}"
                )
            )
    return tuple(conditions)


def _parse_condition(
    operator_name: str, key: object, raw_values: object, variables: bool, path: str
) -> Condition:
    if not isinstance(key, str) or not key:
        raise MalformedPolicyError("condition keys must be non-empty strings", path=path)
    qualifier, base, if_exists = _split_operator(operator_name, path)
    values = _value_strings(raw_values, f"{path}.{key}")
    if base == "Null":
        flags = tuple(_null_flag(value, path) for value in values)
        return Condition(operator_name, key.lower(), None, flags, qualifier, if_exists)
    spec = OPERATORS[base]
    try:
        prepared = tuple(spec.prepare(value, variables) for value in values)
    except (ValueError, InvalidOperation, binascii.Error, OverflowError) as error:
        raise MalformedPolicyError(
            f"invalid value for {operator_name} on {key}: {error}", path=path
        ) from error
    return Condition(operator_name, key.lower(), spec, prepared, qualifier, if_exists)


def _split_operator(name: str, path: str) -> tuple[Qualifier | None, str, bool]:
    qualifier: Qualifier | None = None
    base = name
    prefix, colon, rest = name.partition(":")
    if colon:
        try:
            qualifier = Qualifier(prefix)
        except ValueError:
            raise MalformedPolicyError(f"unknown set operator {prefix!r}", path=path) from None
        base = rest
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base.removesuffix("IfExists")
    if base == "Null":
        if if_exists or qualifier is not None:
            raise MalformedPolicyError("Null cannot take IfExists or a set operator", path=path)
        return None, base, False
    if base not in OPERATORS:
        raise MalformedPolicyError(f"unknown condition operator {name!r}", path=path)
    return qualifier, base, if_exists


def _value_strings(raw: object, path: str) -> tuple[str, ...]:
    items: Sequence[object] = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicyError("a condition needs at least one value", path=path)
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            raise MalformedPolicyError(
                "condition values must be strings, numbers or booleans", path=path
            )
    return tuple(values)


def _null_flag(value: str, path: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise MalformedPolicyError("Null takes true or false", path=path)
    return lowered == "true"
