"""The files the CLI writes for people: the AWS config profile and its own directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from botocore.configloader import raw_config_parse

from agent_zero.cli.app import write_profile
from agent_zero.cli.state import config_dir
from agent_zero.domain.errors import InvalidInputError
from agent_zero.settings import Settings

EXISTING = """\
# Managed by hand: keep this comment.
[default]
region = eu-west-1

[profile budget]
output = json
credential_process = /old/tool --stale
; a note about budget

[profile work]
sso_session = corp
"""


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "aws" / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    return path


def test_updating_a_profile_changes_only_its_own_settings(aws_config: Path) -> None:
    aws_config.parent.mkdir()
    aws_config.write_text(EXISTING)
    aws_config.chmod(0o600)
    write_profile("budget", "Balances for the 'household' budget.", "us-east-1", None)

    text = aws_config.read_text()
    assert "# Managed by hand: keep this comment." in text
    assert "; a note about budget" in text
    assert "/old/tool" not in text
    assert text.count("credential_process") == 1
    parsed = raw_config_parse(str(aws_config))
    assert parsed["default"] == {"region": "eu-west-1"}
    assert parsed["profile work"] == {"sso_session": "corp"}
    budget = parsed["profile budget"]
    assert budget["output"] == "json"
    assert budget["region"] == "us-east-1"
    assert budget["credential_process"].endswith(
        "credential-process --reason 'Balances for the '\"'\"'household'\"'\"' budget.'"
    )
    assert stat.S_IMODE(aws_config.stat().st_mode) == 0o600  # the mode is kept


def test_a_new_profile_is_added_at_the_end_with_the_sandbox_endpoint(aws_config: Path) -> None:
    aws_config.parent.mkdir()
    aws_config.write_text(EXISTING)
    write_profile("sandbox-reads", "Weekly metrics.", "us-east-1", "http://127.0.0.1:4566")
    parsed = raw_config_parse(str(aws_config))
    assert parsed["profile sandbox-reads"]["endpoint_url"] == "http://127.0.0.1:4566"
    assert parsed["profile budget"]["credential_process"] == "/old/tool --stale"
    assert aws_config.read_text().startswith(EXISTING)


def test_a_missing_config_file_is_created(aws_config: Path) -> None:
    write_profile("default", "Weekly metrics.", "us-east-1", None)
    assert raw_config_parse(str(aws_config))["default"]["region"] == "us-east-1"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("budget]\n[profile evil", "Weekly metrics."),  # a name that would open a section
        ("", "Weekly metrics."),
        ("with space", "Weekly metrics."),
        ("budget", "Weekly metrics.\ncredential_process = /bin/evil"),  # a second line
        ("budget", "Weekly metrics.\r"),
    ],
)
def test_names_and_reasons_that_would_inject_lines_are_refused(
    aws_config: Path, name: str, reason: str
) -> None:
    aws_config.parent.mkdir()
    aws_config.write_text(EXISTING)
    with pytest.raises(InvalidInputError):
        write_profile(name, reason, "us-east-1", None)
    assert aws_config.read_text() == EXISTING


def test_the_config_dir_is_created_owner_only(tmp_path: Path) -> None:
    found = config_dir(Settings(config_dir=tmp_path / "agent-zero"))
    assert stat.S_IMODE(found.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_config_dir_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    with pytest.raises(InvalidInputError, match="chmod 700"):
        config_dir(Settings(config_dir=shared))
