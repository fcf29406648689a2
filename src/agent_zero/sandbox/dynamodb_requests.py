"""What a DynamoDB request asks for, as IAM sees it: actions, resource ARNs, condition keys.

``dynamodb:LeadingKeys`` is the partition key values the request touches: the
``Key`` (or ``Item``) of single-item calls, the partition key equality of a
Query's key condition (the index's own partition key for an index Query), and
every key of a batch. It is never set for Scan or PartiQL, exactly as AWS does
not, so a row-scoped policy's ``Null`` guard denies them. Transactions are
authorized per item as the matching single-item action.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_zero.iam.actions import carries_condition_key
from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.moto_host import TableKeys

LEADING_KEYS = "dynamodb:LeadingKeys"
ATTRIBUTES = "dynamodb:Attributes"
SELECT = "dynamodb:Select"
RETURN_VALUES = "dynamodb:ReturnValues"
RETURN_CONSUMED_CAPACITY = "dynamodb:ReturnConsumedCapacity"

KeyLookup = Callable[[str], TableKeys | None]


@dataclass(frozen=True, slots=True)
class Check:
    """One authorization question: may the caller do ``action`` on ``resource``?"""

    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)


def _scalar(value: Any) -> str | None:
    # The string form of a key attribute value ({"S": "c-1"}, {"N": "7"}, {"B": b64}).
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    kind, raw = next(iter(value.items()))
    if kind in ("S", "N") and isinstance(raw, str):
        return raw
    if kind == "B" and isinstance(raw, str):
        return raw
    if kind == "B" and isinstance(raw, bytes):
        return base64.b64encode(raw).decode()
    return None


_TOKEN = re.compile(r"#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|[=<>()!,.\[\]]+|\S")
_EXPRESSION_WORDS = frozenset(
    {
        "set", "remove", "add", "delete", "and", "or", "not", "between", "in",
        "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
        "contains", "size", "if_not_exists", "list_append",
    }
)  # fmt: skip


def _names_in(expression: str | None, names: Mapping[str, str]) -> set[str]:
    """Top-level attribute names an expression refers to (placeholders resolved)."""
    if not expression:
        return set()
    found: set[str] = set()
    previous = ""
    for token in _TOKEN.findall(expression):
        if token.startswith(":"):
            previous = token
            continue
        is_name = token.startswith("#") or (
            (token[0].isalpha() or token[0] == "_") and token.lower() not in _EXPRESSION_WORDS
        )
        if is_name and previous not in (".",):
            found.add(names.get(token, token) if token.startswith("#") else token)
        previous = token
    return found


_KEY_CONDITION_TOKEN = re.compile(
    r"\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|<=|>=|<>|=|<|>|\(|\)|,)"
)


def _key_condition_tokens(
    expression: str, names: Mapping[str, str], values: Mapping[str, Any]
) -> list[str]:
    """Tokens of a key condition, read strictly: anything DynamoDB would reject is refused.

    A lenient reading could see ":o" where moto sees ":o-x" and so pin the row key
    to a different customer than the one moto queries.
    """
    tokens: list[str] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _KEY_CONDITION_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise AwsError("ValidationException", "Invalid KeyConditionExpression")
        token = match.group(1)
        if token.startswith("#") and token not in names:
            raise AwsError("ValidationException", f"{token} is not in ExpressionAttributeNames")
        if token.startswith(":") and token not in values:
            raise AwsError("ValidationException", f"{token} is not in ExpressionAttributeValues")
        tokens.append(token)
        position = match.end()
    return tokens


def _partition_values_from_condition(
    expression: str | None,
    names: Mapping[str, str],
    values: Mapping[str, Any],
    partition_key: str,
) -> list[str] | None:
    """Every value the key condition pins the partition key to, or None if it is not pinned.

    Each mention of the partition key must be one side of ``=`` with a placeholder
    on the other; any other use (``begins_with``, ``BETWEEN``, ``<``) makes the
    row set unknowable here, and no key is sent, so a row-scoped policy denies.
    """
    if not expression:
        return None
    tokens = _key_condition_tokens(expression, names, values)
    found: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith(":") or names.get(token, token) != partition_key:
            continue
        before = tokens[index - 2 : index] if index >= 2 else []
        after = tokens[index + 1 : index + 3]
        if len(after) == 2 and after[0] == "=" and after[1].startswith(":"):
            placeholder = after[1]
        elif len(before) == 2 and before[1] == "=" and before[0].startswith(":"):
            placeholder = before[0]
        else:
            return None
        value = _scalar(values.get(placeholder))
        if value is None:
            return None
        found.append(value)
    return found or None


def _table_arn(region: str, account: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}"


@dataclass(frozen=True, slots=True)
class _Target:
    region: str
    account: str
    keys_of: KeyLookup

    def table(self, name: object) -> str:
        if not isinstance(name, str) or not name:
            raise AwsError("ValidationException", "TableName is required")
        if name.startswith("arn:"):
            return name  # tables may be named by ARN
        return _table_arn(self.region, self.account, name)

    def key_attributes(self, table: str) -> set[str]:
        """Every key attribute of the table and its indexes (none when unknown)."""
        keys = self.keys_of(table.rsplit("/", 1)[-1] if table.startswith("arn:") else table)
        if keys is None:
            return set()
        found = {keys.partition_key, *keys.index_partition_keys.values()}
        if keys.sort_key:
            found.add(keys.sort_key)
        return found

    def partition_key(self, table: str, index: str | None = None) -> str | None:
        keys = self.keys_of(table.rsplit("/", 1)[-1] if table.startswith("arn:") else table)
        if keys is None:
            return None
        if index is not None:
            return keys.index_partition_keys.get(index)
        return keys.partition_key


def _leading(target: _Target, table: str, keys: Iterable[Mapping[str, Any]]) -> list[str] | None:
    partition = target.partition_key(table)
    if partition is None:
        return None
    values = [_scalar(key.get(partition)) for key in keys if isinstance(key, Mapping)]
    if any(value is None for value in values):
        return None
    return [value for value in values if value is not None]


def _context(action: str, values: Mapping[str, Any]) -> dict[str, str | list[str]]:
    # Only the keys the action really carries (from the condition-key table) are sent.
    context: dict[str, str | list[str]] = {}
    for key, value in values.items():
        if value is None or value == [] or not carries_condition_key(action, key):
            continue
        context[key] = value
    return context


def _item_check(
    target: _Target, action: str, body: Mapping[str, Any], *, item_field: str = "Key"
) -> Check:
    table_name = body.get("TableName")
    table = target.table(table_name)
    key = body.get(item_field)
    names = body.get("ExpressionAttributeNames") or {}
    attributes = set(key) if isinstance(key, Mapping) else set()
    attributes |= _names_in(body.get("ProjectionExpression"), names)
    attributes |= _names_in(body.get("UpdateExpression"), names)
    attributes |= set(body.get("AttributesToGet") or ())
    updates = body.get("AttributeUpdates") or {}
    keys = target.key_attributes(str(table_name))
    if isinstance(updates, Mapping) and keys & set(updates):
        # moto would rewrite the key in place; AWS refuses, and so does the gateway.
        raise AwsError(
            "ValidationException",
            f"Cannot update attribute {sorted(keys & set(updates))[0]}. "
            "This attribute is part of the key",
        )
    attributes |= set(updates) if isinstance(updates, Mapping) else set()
    context = _context(
        f"dynamodb:{action}",
        {
            LEADING_KEYS: _leading(
                target, str(table_name), [key] if isinstance(key, Mapping) else []
            ),
            ATTRIBUTES: sorted(attributes) or None,
            RETURN_VALUES: body.get("ReturnValues"),
            RETURN_CONSUMED_CAPACITY: body.get("ReturnConsumedCapacity"),
        },
    )
    return Check(f"dynamodb:{action}", table, context)


def _query_or_scan(target: _Target, action: str, body: Mapping[str, Any]) -> Check:
    table_name = str(body.get("TableName") or "")
    table = target.table(table_name)
    index = body.get("IndexName")
    resource = f"{table}/index/{index}" if isinstance(index, str) and index else table
    names = body.get("ExpressionAttributeNames") or {}
    leading: list[str] | None = None
    if action == "Query":
        partition = target.partition_key(table_name, index if isinstance(index, str) else None)
        if partition is not None:
            leading = _partition_values_from_condition(
                body.get("KeyConditionExpression"),
                names,
                body.get("ExpressionAttributeValues") or {},
                partition,
            )
            legacy = (body.get("KeyConditions") or {}).get(partition)
            if body.get("KeyConditionExpression") and body.get("KeyConditions"):
                # DynamoDB refuses the mix; moto would use one, the check the other.
                raise AwsError(
                    "ValidationException",
                    "Can not use both expression and non-expression parameters in the same "
                    "request: Non-expression parameters: {KeyConditions} Expression "
                    "parameters: {KeyConditionExpression}",
                )
            if leading is None and isinstance(legacy, Mapping):
                listed = legacy.get("AttributeValueList") or []
                value = _scalar(listed[0]) if len(listed) == 1 else None
                equality = legacy.get("ComparisonOperator") == "EQ"
                leading = [value] if equality and value is not None else None
    attributes = _names_in(body.get("ProjectionExpression"), names)
    attributes |= set(body.get("AttributesToGet") or ())
    context = _context(
        f"dynamodb:{action}",
        {
            LEADING_KEYS: leading,
            ATTRIBUTES: sorted(attributes) or None,
            SELECT: body.get("Select"),
            RETURN_CONSUMED_CAPACITY: body.get("ReturnConsumedCapacity"),
        },
    )
    return Check(f"dynamodb:{action}", resource, context)


def _batch(target: _Target, action: str, body: Mapping[str, Any]) -> list[Check]:
    checks = []
    items = body.get("RequestItems")
    if not isinstance(items, Mapping) or not items:
        raise AwsError("ValidationException", "RequestItems is required")
    for table_name, request in items.items():
        if action == "BatchGetItem":
            keys = request.get("Keys", []) if isinstance(request, Mapping) else []
        else:
            keys = []
            for write in request if isinstance(request, list) else []:
                if not isinstance(write, Mapping) or len(write) != 1:
                    raise AwsError("ValidationException", "each write names exactly one request")
                if "PutRequest" in write:
                    keys.append(write["PutRequest"].get("Item", {}))
                elif "DeleteRequest" in write:
                    keys.append(write["DeleteRequest"].get("Key", {}))
        context = _context(f"dynamodb:{action}", {LEADING_KEYS: _leading(target, table_name, keys)})
        checks.append(Check(f"dynamodb:{action}", target.table(table_name), context))
    return checks


_TRANSACT_ITEM_ACTIONS = {
    "Get": ("GetItem", "Key"),
    "Put": ("PutItem", "Item"),
    "Update": ("UpdateItem", "Key"),
    "Delete": ("DeleteItem", "Key"),
    "ConditionCheck": ("ConditionCheckItem", "Key"),
}


def _transaction(target: _Target, body: Mapping[str, Any]) -> list[Check]:
    checks = []
    for entry in body.get("TransactItems") or []:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise AwsError("ValidationException", "each TransactItems entry names one operation")
        kind, operation = next(iter(entry.items()))
        if kind not in _TRANSACT_ITEM_ACTIONS or not isinstance(operation, Mapping):
            raise AwsError("ValidationException", f"unknown transaction operation {kind!r}")
        action, item_field = _TRANSACT_ITEM_ACTIONS[kind]
        checks.append(_item_check(target, action, operation, item_field=item_field))
    if not checks:
        raise AwsError("ValidationException", "TransactItems is required")
    return checks


_PARTIQL_TOKEN = re.compile(r"""\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*|\S)""")
_PARTIQL_ACTIONS = {
    "select": "PartiQLSelect",
    "exists": "PartiQLSelect",
    "insert": "PartiQLInsert",
    "update": "PartiQLUpdate",
    "delete": "PartiQLDelete",
}


def _partiql_tokens(text: str) -> list[str]:
    tokens = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _PARTIQL_TOKEN.match(stripped, position)
        if match is None:
            raise AwsError("ValidationException", "Statement could not be read")
        tokens.append(match.group(1))
        position = match.end()
    for first, second in itertools.pairwise(tokens):
        if (first, second) in (("-", "-"), ("/", "*")):
            # Comments hide text from one reader and not the other: refuse them.
            raise AwsError("ValidationException", "comments are not accepted in statements")
    return tokens


def _identifier(token: str) -> str | None:
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        return token[1:-1].replace('""', '"')
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", token):
        return token
    return None


def _partiql_check(target: _Target, statement: object) -> Check:
    """The action and table of one statement, read past quoted strings and identifiers.

    PartiQL carries no ``dynamodb:LeadingKeys`` here, so a row-scoped policy's Null
    guard denies it; anything this reading cannot place is refused.
    """
    tokens = _partiql_tokens(statement if isinstance(statement, str) else "")
    verb = tokens[0].lower() if tokens else ""
    action = _PARTIQL_ACTIONS.get(verb)
    if action is None:
        raise AwsError("ValidationException", "Statement could not be read")
    keyword = {"select": "from", "exists": "from", "delete": "from", "insert": "into"}.get(verb)
    if keyword is None:  # UPDATE "Table" ...
        position = 1
    else:
        words = [t.lower() for t in tokens]
        if keyword not in words:
            raise AwsError("ValidationException", "Statement could not be read")
        position = words.index(keyword) + 1
    table = _identifier(tokens[position]) if position < len(tokens) else None
    if table is None:
        raise AwsError("ValidationException", "Statement could not be read")
    resource = target.table(table)
    if position + 2 < len(tokens) and tokens[position + 1] == ".":
        index = _identifier(tokens[position + 2])
        if index is None:
            raise AwsError("ValidationException", "Statement could not be read")
        resource = f"{resource}/index/{index}"
    return Check(f"dynamodb:{action}", resource)


def _partiql(target: _Target, action: str, body: Mapping[str, Any]) -> list[Check]:
    if action == "ExecuteStatement":
        return [_partiql_check(target, body.get("Statement"))]
    entries = body.get("Statements") or body.get("TransactStatements") or []
    checks = [_partiql_check(target, e.get("Statement")) for e in entries if isinstance(e, Mapping)]
    if not checks:
        raise AwsError("ValidationException", "Statements is required")
    return checks


_ITEM_ACTIONS = {"GetItem": "Key", "PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}
_ACCOUNT_WIDE = frozenset(
    {
        "ListTables", "DescribeLimits", "DescribeEndpoints", "ListBackups",
        "ListGlobalTables", "ListExports", "ListImports",
    }
)  # fmt: skip


def dynamodb_checks(
    action: str, body: Mapping[str, Any], *, region: str, account: str, keys_of: KeyLookup
) -> list[Check]:
    """Every authorization check one DynamoDB call needs; empty never (unknown → table or *)."""
    target = _Target(region, account, keys_of)
    if action in _ITEM_ACTIONS:
        return [_item_check(target, action, body, item_field=_ITEM_ACTIONS[action])]
    if action in ("Query", "Scan"):
        return [_query_or_scan(target, action, body)]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return _batch(target, action, body)
    if action in ("TransactGetItems", "TransactWriteItems"):
        return _transaction(target, body)
    if action in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        return _partiql(target, action, body)
    if action in _ACCOUNT_WIDE:
        return [Check(f"dynamodb:{action}", "*")]
    if isinstance(body.get("ResourceArn"), str):
        return [Check(f"dynamodb:{action}", body["ResourceArn"])]
    if "TableName" in body:
        return [Check(f"dynamodb:{action}", target.table(body["TableName"]))]
    return [Check(f"dynamodb:{action}", "*")]
