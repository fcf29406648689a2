"""Which model the support agent uses: its own when set, else the reviewer's."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from agent_zero.settings import Settings
from agent_zero.wiring import agent_model_config


def test_the_agent_uses_its_own_model_with_the_shared_endpoint_and_key() -> None:
    settings = Settings(
        llm_provider="openai-compatible",
        llm_model="reviewer-large",
        agent_model="chat-small",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_api_key=SecretStr("sk-test"),
    )
    config = agent_model_config(settings)
    assert config is not None
    assert config.model == "chat-small"
    assert config.base_url == "http://127.0.0.1:9/v1"
    assert config.provider == "openai-compatible"


def test_without_its_own_model_the_agent_uses_the_reviewers() -> None:
    settings = Settings(
        llm_provider="openai", llm_model="reviewer-large", llm_api_key=SecretStr("sk-test")
    )
    config = agent_model_config(settings)
    assert config is not None
    assert config.model == "reviewer-large"


def test_no_provider_means_no_agent_model() -> None:
    assert agent_model_config(Settings(llm_provider="none", agent_model="chat-small")) is None


def test_the_agent_model_is_read_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_ZERO_AGENT_MODEL", "chat-small")
    assert Settings().agent_model == "chat-small"
