"""What AgentZeroStack's template promises, read from the synthesized JSON.

Each test names a property a careful reviewer would check by hand: least privilege,
protected state, functions reachable only through their own API, no secret in the
environment, and the stack agreeing with the package (tables, roles, settings, logs).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from agent_zero.adapters.dynamodb import connections, revoked_sessions
from agent_zero.adapters.dynamodb.tables import DynamoDBTables, table_definitions
from agent_zero.logs import DECISION_EVENT, JsonFormatter
from agent_zero.sandbox.demo_bank import (
    BROKER_ROLE_NAME,
    REVOCATION_POLICY_NAME,
    TARGET_ACCESS_POLICY_NAME,
    TARGET_ROLE_NAMES,
    demo_bank,
    role_arn,
)
from agent_zero.sandbox.demo_bank.people import demo_user_pool
from agent_zero.sandbox.seed import _create_table_arguments
from agent_zero.settings import Settings
from support.cdk_template import (
    ACCOUNT,
    BEDROCK_MODEL,
    REGION,
    Synth,
    render,
    role_id,
    role_policies,
    role_statements,
    statements,
)

BANK = demo_bank(account_id=ACCOUNT, region=REGION)
TARGET_ARNS = sorted(role_arn(ACCOUNT, name) for name in TARGET_ROLE_NAMES)
AGENT_ROLE = "agent-zero-agent"
SOCKET_ROLE = "agent-zero-agent-socket"
# Allow statements with Resource "*": none. AWS would require it for X-Ray segments,
# logs:CreateLogGroup on first write, or a stack-wide ListTables; the stack uses none of
# them (its log groups exist before the functions write to them).
ALLOWED_STAR_RESOURCES: dict[str, str] = {}
# Deny statements may be broad: they only take away.
BROAD_DENIES = {
    "RevokedSessions": "the revocation policy denies everything to the revoked sessions",
    "NeverChangeTrustedFacts": "the directory role never edits groups or attributes",
    "NobodyElse": "the broker API refuses every caller but the agent worker's role",
    "AllowPublishThroughSSLOnly": "the alarm topic refuses publishing without TLS",
}


def _all_policy_documents(synth: Synth) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for logical, resource in synth.template["Resources"].items():
        properties = resource["Properties"]
        for policy in (
            properties.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []
        ):
            found.append((f"{logical}/{policy['PolicyName']}", policy["PolicyDocument"]))
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "Policy"):
            if isinstance(properties.get(key), dict) and "Statement" in properties[key]:
                found.append((f"{logical}/{key}", properties[key]))
    return found


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Lambda functions by FunctionName."""
    return {
        r["Properties"]["FunctionName"]: {"id": k, **r["Properties"]}
        for k, r in synth.resources("AWS::Lambda::Function").items()
    }


def _environment(synth: Synth, name: str) -> dict[str, str]:
    return render(_functions(synth)[name]["Environment"]["Variables"])


def _sorted_statements(document: Any) -> list[Any]:
    normal = []
    for statement in statements(document):
        normal.append(
            {k: sorted(v) if isinstance(v, list) else v for k, v in sorted(statement.items())}
        )
    return sorted(normal, key=lambda s: json.dumps(s, sort_keys=True))


# --- the template as a whole ------------------------------------------------------------------


def test_cfn_lint_finds_nothing(any_synth: Synth) -> None:
    template = any_synth.outdir / "AgentZeroStack.template.json"
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1", REGION]))
    assert [str(m) for m in matches] == []


def test_cfn_lint_is_really_checking(demo: Synth, tmp_path: Path) -> None:
    broken = copy.deepcopy(demo.template)
    function = next(iter(demo.resources("AWS::Lambda::Function")))
    broken["Resources"][function]["Properties"]["Runtime"] = "python3.99"
    broken["Resources"][function]["Properties"]["MemorySize"] = 1
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    rules = {m.rule.id for m in lint_file(path, config=ManualArgs(regions=["us-east-1"]))}
    assert rules, "cfn-lint passed a template with an unknown runtime and 1 MB of memory"


def test_the_stack_synthesizes_in_time(any_synth: Synth) -> None:
    assert any_synth.seconds < 120


# --- least privilege ---------------------------------------------------------------------------


def test_no_allow_statement_has_a_wildcard_action_or_resource(any_synth: Synth) -> None:
    allows = 0
    for where, document in _all_policy_documents(any_synth):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            allows += 1
            actions = statement.get("Action", [])
            assert "NotAction" not in statement, where
            assert "NotResource" not in statement, where
            assert not [a for a in actions if "*" in a], f"{where}: {actions}"
            if "Principal" in statement and "Resource" not in statement:
                continue  # a trust policy: the role itself is the resource
            resources = render(statement["Resource"])
            assert "*" not in resources or where in ALLOWED_STAR_RESOURCES, where
    assert allows > 20


def test_broad_statements_are_only_denies_that_take_away(any_synth: Synth) -> None:
    broad = set()
    for where, document in _all_policy_documents(any_synth):
        for statement in statements(document):
            resources = statement.get("Resource", [])
            if "*" in statement.get("Action", []) or "*" in resources:
                assert statement["Effect"] == "Deny", where
                broad.add(statement["Sid"])
            if statement.get("Principal") in ("*", {"AWS": "*"}):
                assert statement["Effect"] == "Deny", where
                broad.add(statement["Sid"])
    assert broad == set(BROAD_DENIES)


def test_no_action_of_s3_iam_or_sts_beyond_the_brokers_own(any_synth: Synth) -> None:
    for where, document in _all_policy_documents(any_synth):
        for statement in statements(document):
            actions = set(statement.get("Action", []))
            assert not {a for a in actions if a.startswith("s3:")}, where
            if statement["Effect"] == "Allow" and "Principal" not in statement:
                risky = {a for a in actions if a.split(":")[0] in ("iam", "sts")}
                assert risky <= {
                    "iam:GetRolePolicy",
                    "iam:PutRolePolicy",
                    "sts:AssumeRole",
                    "sts:SetSourceIdentity",
                    "sts:TagSession",
                }, where
                if risky:
                    assert sorted(render(statement["Resource"])) == TARGET_ARNS, where


def test_the_broker_role_is_the_sandboxs_and_assumes_only_the_target_roles(demo: Synth) -> None:
    broker = role_id(demo, BROKER_ROLE_NAME)
    role = demo.template["Resources"][broker]["Properties"]
    assert role["Path"] == "/agent-zero/"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    sandbox = BANK.role(BROKER_ROLE_NAME).inline_policies["agent-zero-broker"]
    ours = role_policies(demo, broker)["agent-zero-broker"]
    assert _sorted_statements(render(ours)) == _sorted_statements(sandbox)
    by_service: dict[str, set[str]] = {}
    for statement in role_statements(demo, broker):
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            by_service.setdefault(action.split(":")[0], set()).add(action)
        if any(a.startswith(("sts:", "iam:")) for a in statement["Action"]):
            assert sorted(statement["Resource"]) == TARGET_ARNS
    assert set(by_service) == {"logs", "dynamodb", "secretsmanager", "sts", "iam"}
    assert by_service["secretsmanager"] == {"secretsmanager:GetSecretValue"}
    assert by_service["logs"] == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_broker_reaches_only_its_own_tables(demo: Synth) -> None:
    tables = {
        r["Properties"]["TableName"]: k for k, r in demo.resources("AWS::DynamoDB::Table").items()
    }
    reached = set()
    for statement in role_statements(demo, role_id(demo, BROKER_ROLE_NAME)):
        if statement["Action"][0].startswith("dynamodb:"):
            for arn in statement["Resource"]:
                reached.add(re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[\w-]+)?", arn)[1])  # type: ignore[index]
    names = {name for name, logical in tables.items() if logical in reached}
    assert names == {
        *(d["TableName"] for d in table_definitions(DynamoDBTables.with_prefix("agent-zero-"))),
        "agent-zero-revoked-sessions",
    }


@pytest.mark.parametrize("name", [AGENT_ROLE, SOCKET_ROLE])
def test_the_agents_roles_assume_nothing_and_reach_only_the_chat(demo: Synth, name: str) -> None:
    actions = {a for s in role_statements(demo, role_id(demo, name)) for a in s["Action"]}
    assert not {a for a in actions if a.split(":")[0] in ("sts", "iam")}
    expected = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "execute-api:ManageConnections",
    }
    extra = (
        {"execute-api:Invoke", "secretsmanager:GetSecretValue"}
        if name == AGENT_ROLE
        else {"lambda:InvokeFunction", "dynamodb:PutItem"}  # only $connect puts a connection
    )
    assert actions == expected | extra


def test_the_agent_worker_invokes_the_broker_api_only_on_its_stage(demo: Synth) -> None:
    (invoke,) = [
        s
        for s in role_statements(demo, role_id(demo, AGENT_ROLE))
        if "execute-api:Invoke" in s["Action"]
    ]
    api = next(iter(demo.resources("AWS::ApiGateway::RestApi")))
    assert invoke["Resource"] == [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:${{{api}}}/prod/*/*"]
    (post,) = [
        s
        for s in role_statements(demo, role_id(demo, AGENT_ROLE))
        if "execute-api:ManageConnections" in s["Action"]
    ]
    (socket,) = [
        k
        for k, r in demo.resources("AWS::ApiGatewayV2::Api").items()
        if r["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    prefix = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:${{{socket}}}"
    assert post["Resource"] == [f"{prefix}/prod/POST/@connections/*"]


def test_the_socket_routes_start_only_the_worker(demo: Synth) -> None:
    worker = _functions(demo)["agent-zero-agent-worker"]["id"]
    (invoke,) = [
        s
        for s in role_statements(demo, role_id(demo, SOCKET_ROLE))
        if "lambda:InvokeFunction" in s["Action"]
    ]
    assert invoke["Resource"] == [f"${{{worker}.Arn}}", f"${{{worker}.Arn}}:*"]


def test_target_roles_are_the_sandboxs(any_synth: Synth) -> None:
    for sandbox in (BANK.role(name) for name in TARGET_ROLE_NAMES):
        logical = role_id(any_synth, sandbox.name)
        role = any_synth.template["Resources"][logical]
        assert render(role["Properties"]["AssumeRolePolicyDocument"]) == sandbox.trust_policy
        assert role["Properties"]["Path"] == sandbox.path == "/agent-zero/"
        assert role["Properties"]["MaxSessionDuration"] == 3600
        policies = {k: render(v) for k, v in role_policies(any_synth, logical).items()}
        assert policies == sandbox.inline_policies
        # IAM checks a trust policy's principal exists: the broker's role comes first.
        assert role["DependsOn"] == [role_id(any_synth, BROKER_ROLE_NAME)]


def test_target_trust_needs_the_broker_a_source_identity_and_the_request_tag(
    demo: Synth,
) -> None:
    broker = role_arn(ACCOUNT, BROKER_ROLE_NAME)
    role = demo.template["Resources"][role_id(demo, TARGET_ROLE_NAMES[0])]
    trust = statements(render(role["Properties"]["AssumeRolePolicyDocument"]))
    assert {s["Principal"]["AWS"] for s in trust} == {broker}
    by_action = {s["Action"][0]: s for s in trust}
    assert set(by_action) == {"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}
    assume = by_action["sts:AssumeRole"]["Condition"]["Null"]
    assert assume == {
        "sts:SourceIdentity": "false",
        "aws:RequestTag/agent-zero-request-id": "false",
    }


def test_revocations_are_their_own_resource_so_role_updates_leave_them(demo: Synth) -> None:
    policies = demo.resources("AWS::IAM::RolePolicy")
    assert sorted(p["Properties"]["RoleName"] for p in policies.values()) == sorted(
        TARGET_ROLE_NAMES
    )
    for policy in policies.values():
        assert policy["Properties"]["PolicyName"] == REVOCATION_POLICY_NAME
    for name in TARGET_ROLE_NAMES:
        role = demo.template["Resources"][role_id(demo, name)]["Properties"]
        assert [p["PolicyName"] for p in role["Policies"]] == [TARGET_ACCESS_POLICY_NAME]


# --- tables ------------------------------------------------------------------------------------


def _tables(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["TableName"]: r for r in synth.resources("AWS::DynamoDB::Table").values()
    }


def _same_definition(resource: dict[str, Any], definition: dict[str, Any]) -> None:
    properties = resource["Properties"]
    assert properties["KeySchema"] == definition["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
        definition["AttributeDefinitions"], key=str
    )
    assert properties.get("GlobalSecondaryIndexes", []) == definition.get(
        "GlobalSecondaryIndexes", []
    )
    assert properties["BillingMode"] == definition["BillingMode"] == "PAY_PER_REQUEST"


def test_every_table_is_encrypted_recoverable_and_on_demand(any_synth: Synth) -> None:
    tables = _tables(any_synth)
    assert len(tables) >= 6
    for name, table in tables.items():
        properties = table["Properties"]
        assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}, name
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }, name
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name


def test_the_brokers_tables_are_kept_the_demo_banks_are_not(demo: Synth) -> None:
    for name, table in _tables(demo).items():
        kept = name.startswith("agent-zero-")
        assert kept != name.startswith("bank-"), name
        assert table["Properties"]["DeletionProtectionEnabled"] is kept, name
        policy = "Retain" if kept else "Delete"
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == (policy, policy), name


def test_broker_tables_are_the_packages_definitions(any_synth: Synth) -> None:
    tables = _tables(any_synth)
    definitions = [
        *table_definitions(DynamoDBTables.with_prefix("agent-zero-")),
        connections.connections_table_definition("agent-zero-connections"),
        revoked_sessions.revoked_sessions_table_definition("agent-zero-revoked-sessions"),
    ]
    for definition in definitions:
        _same_definition(tables[definition["TableName"]], definition)
    for name in ("agent-zero-connections", "agent-zero-revoked-sessions"):
        assert tables[name]["Properties"]["TimeToLiveSpecification"] == {
            "AttributeName": "expires_at",
            "Enabled": True,
        }
    assert connections.TTL_ATTRIBUTE == revoked_sessions.TTL_ATTRIBUTE == "expires_at"


def test_the_demo_bank_tables_are_the_seeders_and_only_with_the_flag(
    demo: Synth, bedrock: Synth
) -> None:
    tables = _tables(demo)
    for table in BANK.tables:
        _same_definition(tables[table.name], _create_table_arguments(table))
    assert {n for n in tables if n.startswith("bank-")} == {t.name for t in BANK.tables}
    assert not [n for n in _tables(bedrock) if n.startswith("bank-")]
    outputs = {k: v["Value"] for k, v in demo.template["Outputs"].items()}
    assert json.loads(outputs["DemoBankTables"]) == {t.catalog_key: t.name for t in BANK.tables}
    assert bedrock.template["Outputs"]["DemoBank"]["Value"] == "false"


def test_target_roles_name_the_tables_the_stack_creates(demo: Synth) -> None:
    created = {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}" for name in _tables(demo)}
    for name in TARGET_ROLE_NAMES[:2]:  # customer data, operations
        role = demo.template["Resources"][role_id(demo, name)]
        access = statements(render(role["Properties"]["Policies"][0]["PolicyDocument"]))[0]
        tables = {arn.split("/index/")[0] for arn in access["Resource"]}
        assert tables, name
        assert tables <= created, name


# --- functions and their APIs ------------------------------------------------------------------


def test_functions_are_arm64_python312_with_kept_logs(any_synth: Synth) -> None:
    functions = _functions(any_synth)
    assert {f["Handler"] for f in functions.values()} == {
        "agent_zero.lambdas.broker_api.handler",
        "agent_zero.lambdas.web.handler",
        "agent_zero.lambdas.agent_socket.handler",
        "agent_zero.lambdas.agent_socket.worker",
    }
    groups = any_synth.resources("AWS::Logs::LogGroup")
    for name, function in functions.items():
        assert function["Architectures"] == ["arm64"], name
        assert function["Runtime"] == "python3.12", name
        group = groups[function["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 90, name
        assert group["DeletionPolicy"] == "Retain", name
    assert len({json.dumps(f["Code"], sort_keys=True) for f in functions.values()}) == 1


def test_handlers_exist_in_the_package(demo: Synth) -> None:
    source = Path(__file__).resolve().parents[2] / "src"
    for function in _functions(demo).values():
        module, _, name = function["Handler"].rpartition(".")
        path = source / (module.replace(".", "/") + ".py")
        assert re.search(rf"^def {name}\(", path.read_text(), re.MULTILINE), function["Handler"]


def test_the_worker_is_never_retried(demo: Synth) -> None:
    worker = _functions(demo)["agent-zero-agent-worker"]["id"]
    (config,) = demo.resources("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["FunctionName"] == {"Ref": worker}
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    assert config["Properties"]["MaximumEventAgeInSeconds"] == 60


def _integrated_functions(synth: Synth) -> dict[str, set[str]]:
    """API logical id -> logical ids of the functions its integrations invoke."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r"\$\{(\w+)\.Arn\}")
    for method in synth.resources("AWS::ApiGateway::Method").values():
        api = method["Properties"]["RestApiId"]["Ref"]
        uri = render(method["Properties"]["Integration"]["Uri"])
        found.setdefault(api, set()).update(pattern.findall(uri))
    for integration in synth.resources("AWS::ApiGatewayV2::Integration").values():
        api = integration["Properties"]["ApiId"]["Ref"]
        uri = render(integration["Properties"]["IntegrationUri"])
        found.setdefault(api, set()).update(pattern.findall(uri))
    return found


def test_each_function_may_be_invoked_only_by_its_own_api(any_synth: Synth) -> None:
    integrated = _integrated_functions(any_synth)
    assert len(integrated) == 3
    api_of = {fn: api for api, fns in integrated.items() for fn in fns}
    permissions = any_synth.resources("AWS::Lambda::Permission").values()
    assert permissions
    for permission in permissions:
        properties = permission["Properties"]
        function = properties["FunctionName"]["Fn::GetAtt"][0]
        assert properties["Principal"] == "apigateway.amazonaws.com"
        assert properties["Action"] == "lambda:InvokeFunction"
        source = render(properties["SourceArn"])
        expected = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:${{{api_of[function]}}}/"
        assert source.startswith(expected), source
    worker = _functions(any_synth)["agent-zero-agent-worker"]["id"]
    assert worker not in api_of  # only the socket routes start it, by IAM


def test_broker_api_methods_all_require_iam_and_only_the_agent_may_call(demo: Synth) -> None:
    methods = demo.resources("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["HttpMethod"] for m in methods} == {"ANY"}
    assert len(methods) == 2  # / and /{proxy+}
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"AWS_IAM"}
    (api,) = demo.resources("AWS::ApiGateway::RestApi").values()
    agent = f"${{{role_id(demo, AGENT_ROLE)}.Arn}}"
    allow, deny = statements(render(api["Properties"]["Policy"]))
    assert (allow["Effect"], allow["Principal"]) == ("Allow", {"AWS": agent})
    assert (deny["Effect"], deny["Principal"]) == ("Deny", {"AWS": "*"})
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": agent}}
    assert allow["Action"] == deny["Action"] == ["execute-api:Invoke"]


def test_websocket_and_http_routes(demo: Synth) -> None:
    kinds = {
        k: r["Properties"]["ProtocolType"]
        for k, r in demo.resources("AWS::ApiGatewayV2::Api").items()
    }
    routes: dict[str, set[str]] = {}
    for route in demo.resources("AWS::ApiGatewayV2::Route").values():
        kind = kinds[route["Properties"]["ApiId"]["Ref"]]
        routes.setdefault(kind, set()).add(route["Properties"]["RouteKey"])
    assert routes == {"WEBSOCKET": {"$connect", "$disconnect", "$default"}, "HTTP": {"$default"}}
    for integration in demo.resources("AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    (web,) = [
        i["Properties"]
        for i in demo.resources("AWS::ApiGatewayV2::Integration").values()
        if "PayloadFormatVersion" in i["Properties"]
    ]
    assert web["PayloadFormatVersion"] == "2.0"


# --- settings and secrets ----------------------------------------------------------------------

EXPECTED_SETTINGS = {
    "agent-zero-broker-api": {"llm_provider", "llm_model", "agent_role_arn"},
    "agent-zero-web": {
        "llm_provider",
        "llm_model",
        "agent_role_arn",
        "web_session_key_secret_arn",
        "web_secure_cookies",
        "allowed_hosts",
        "agent_socket_url",
    },
    "agent-zero-agent-socket": {"agent_worker_function", "websocket_management_url"},
    "agent-zero-agent-worker": {
        "llm_provider",
        "llm_model",
        "broker_api_url",
        "websocket_management_url",
    },
}
COMMON_SETTINGS = {
    "environment",
    "storage",
    "region",
    "account_id",
    "table_prefix",
    "connections_table",
    "revoked_sessions_table",
    "cognito_user_pool_id",
    "cognito_client_id",
    "agent_id",
    "revocation_policy_name",
    "target_policy_names",
    "log_format",
}


def test_every_function_gets_settings_that_validate(
    demo: Synth, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, expected in EXPECTED_SETTINGS.items():
        environment = _environment(demo, name)
        fields = {key.removeprefix("AGENT_ZERO_").lower() for key in environment}
        assert all(key.startswith("AGENT_ZERO_") for key in environment)
        assert fields == COMMON_SETTINGS | expected, name
        for key in list(Settings.model_fields):
            monkeypatch.delenv(f"AGENT_ZERO_{key.upper()}", raising=False)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert (settings.environment, settings.storage) == ("aws", "dynamodb")
        assert (settings.account_id, settings.region) == (ACCOUNT, REGION)
        assert settings.log_format == "json"
        assert settings.target_policy_names == (TARGET_ACCESS_POLICY_NAME,)
        assert settings.revocation_policy_name == REVOCATION_POLICY_NAME
    web = _environment(demo, "agent-zero-web")
    assert json.loads(web["AGENT_ZERO_ALLOWED_HOSTS"])[0].endswith(
        f".execute-api.{REGION}.amazonaws.com"
    )
    assert web["AGENT_ZERO_AGENT_SOCKET_URL"].startswith("wss://")
    assert web["AGENT_ZERO_WEB_SECURE_COOKIES"] == "true"


def test_a_model_with_a_key_gets_the_secrets_arn_and_bedrock_needs_none(
    demo: Synth, bedrock: Synth
) -> None:
    environment = _environment(bedrock, "agent-zero-broker-api")
    assert environment["AGENT_ZERO_LLM_PROVIDER"] == "bedrock"
    assert environment["AGENT_ZERO_LLM_MODEL"] == BEDROCK_MODEL
    assert "AGENT_ZERO_LLM_API_KEY_SECRET_ARN" not in environment
    for name in (BROKER_ROLE_NAME, AGENT_ROLE):
        (invoke,) = [
            s for s in role_statements(bedrock, role_id(bedrock, name)) if "bedrock:" in str(s)
        ]
        assert invoke["Resource"] == [
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{BEDROCK_MODEL}",
            f"arn:aws:bedrock:*::foundation-model/{BEDROCK_MODEL.removeprefix('us.')}",
        ]
    assert "bedrock:" not in json.dumps(demo.template)


def test_no_secret_reaches_an_environment_variable(any_synth: Synth) -> None:
    secrets = any_synth.resources("AWS::SecretsManager::Secret")
    placeholder = secrets[next(k for k in secrets if k.startswith("LlmApiKey"))]
    for name in EXPECTED_SETTINGS:
        raw = _functions(any_synth)[name]["Environment"]["Variables"]
        text = json.dumps(raw)
        assert "resolve:secretsmanager" not in text
        assert placeholder["Properties"]["SecretString"] not in raw.values()
        for key, value in raw.items():
            if "SECRET" in key or "KEY" in key:
                assert key.endswith("_SECRET_ARN"), key
                assert value["Ref"] in secrets, key


def test_the_session_key_secret_is_64_hex_digits(demo: Synth) -> None:
    (key,) = [
        s["Properties"]
        for s in demo.resources("AWS::SecretsManager::Secret").values()
        if "GenerateSecretString" in s["Properties"]
    ]
    generate = key["GenerateSecretString"]
    alphabet = set("abcdefghijklmnopqrstuvwxyz0123456789")
    if not generate.get("ExcludeUppercase"):
        alphabet |= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if not generate.get("ExcludePunctuation"):
        alphabet |= set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    alphabet -= set(generate.get("ExcludeCharacters", ""))
    assert alphabet == set("0123456789abcdef")
    assert generate["PasswordLength"] == 64  # bytes.fromhex: 32 bytes, an AES-256 key
    assert generate["IncludeSpace"] is False
    assert generate["RequireEachIncludedType"] is False  # no bias towards letters or digits


# --- identity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "mode"), [("demo", "AUDIT"), ("bedrock", "ENFORCED")])
def test_the_user_pool_admits_no_one_by_themselves(
    synthesized: dict[str, Synth], variant: str, mode: str
) -> None:
    any_synth = synthesized[variant]
    (pool,) = any_synth.resources("AWS::Cognito::UserPool").values()
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert properties["DeletionProtection"] == "ACTIVE"
    assert properties["UserPoolTier"] == "PLUS"  # threat protection needs the Plus plan
    assert properties["UserPoolAddOns"] == {"AdvancedSecurityMode": mode}
    custom = [a for a in properties["Schema"] if "AttributeDataType" in a]
    assert [a["Name"] for a in custom] == list(demo_user_pool().custom_attributes)
    groups = {
        g["Properties"]["GroupName"]: g["Properties"]["Precedence"]
        for g in any_synth.resources("AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {g.name: g.precedence for g in demo_user_pool().groups}


def test_the_app_client_has_no_secret_and_never_writes_the_customer_key(demo: Synth) -> None:
    (client,) = demo.resources("AWS::Cognito::UserPoolClient").values()
    properties = client["Properties"]
    assert properties["GenerateSecret"] is False
    assert set(properties["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert "custom:customer_key" in properties["ReadAttributes"]
    assert not [a for a in properties["WriteAttributes"] if a.startswith("custom:")]
    assert properties["PreventUserExistenceErrors"] == "ENABLED"


# --- logs, alarms, outputs ----------------------------------------------------------------------


def test_the_metric_filters_read_the_brokers_decision_lines(demo: Synth) -> None:
    record = logging.LogRecord("agent_zero.broker", logging.INFO, "", 0, "decided", None, None)
    record.event, record.outcome = DECISION_EVENT, "denied"
    line = json.loads(JsonFormatter().format(record))
    filters = demo.resources("AWS::Logs::MetricFilter").values()
    decision_groups = {
        _functions(demo)[name]["LoggingConfig"]["LogGroup"]["Ref"]
        for name in ("agent-zero-broker-api", "agent-zero-web")
    }
    by_metric: dict[str, set[str]] = {}
    for metric_filter in filters:
        properties = metric_filter["Properties"]
        (transformation,) = properties["MetricTransformations"]
        pattern = properties["FilterPattern"]
        # Every `$.field = "value"` of the pattern holds for the broker's own JSON line.
        terms = re.findall(r'\$\.(\w+) = "([^"]*)"', pattern)
        assert terms, pattern
        assert all(line[field] == value for field, value in terms), pattern
        by_metric.setdefault(transformation["MetricName"], set()).add(
            properties["LogGroupName"]["Ref"]
        )
    assert by_metric == {
        "AccessDecisions": decision_groups,
        "DeniedAccessDecisions": decision_groups,
    }


def test_alarms_watch_errors_and_the_denied_share_and_notify(demo: Synth) -> None:
    alarms = [a["Properties"] for a in demo.resources("AWS::CloudWatch::Alarm").values()]
    (topic,) = demo.resources("AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    errors = {
        render(a["Dimensions"][0]["Value"]) for a in alarms if a.get("MetricName") == "Errors"
    }
    assert errors == {f"${{{f['id']}}}" for f in _functions(demo).values()}
    (spike,) = [a for a in alarms if "Metrics" in a]
    expressions = [m["Expression"] for m in spike["Metrics"] if "Expression" in m]
    assert expressions == ["IF(decisions >= 10, 100 * denied / decisions, 0)"]
    names = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in spike["Metrics"]
        if "MetricStat" in m
    }
    assert names == {"decisions": "AccessDecisions", "denied": "DeniedAccessDecisions"}
    assert spike["Threshold"] == 50


def test_outputs_name_everything_an_operator_and_the_seeder_need(any_synth: Synth) -> None:
    outputs = set(any_synth.template["Outputs"])
    assert outputs >= {
        "BrokerApiUrl",
        "WebUrl",
        "WebSocketUrl",
        "UserPoolId",
        "UserPoolClientId",
        "Region",
        "TablePrefix",
        "PrincipalsTable",
        "PoliciesTable",
        "RequestsTable",
        "AuditTable",
        "ConnectionsTable",
        "RevokedSessionsTable",
        "DemoBank",
        "DemoBankTables",
        "BrokerRoleArn",
        "AgentRoleArn",
        "CustomerDataRoleArn",
        "OperationsRoleArn",
        "DirectoryRoleArn",
        "LlmApiKeySecretArn",
        "WebSessionKeySecretArn",
    }
