"""``LlmReviewer``: a language model proposes, through pydantic-ai, and fails closed.

One review is one agent run: the stable system prompt and the delimited reason
(``review.prompt``), a structured-output type generated from the catalog view
(``review.schema``), at most ``1 + max_retries`` model requests with the
validation errors fed back, all inside one deadline. Whatever goes wrong
(timeout, HTTP error, malformed or invalid answers, refusal, content filter)
becomes ``ReviewerUnavailableError``, whose message names the reviewer and the
kind of failure and never carries the API key or the model's text.

The port is synchronous and the model clients are asynchronous: each review
runs on its own event loop with its own HTTP client, opened and closed inside
the call, so reviews may run concurrently from worker threads and nothing is
left open between them. Call ``review`` from a thread without a running loop.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_ai import Agent, UsageLimits
from pydantic_ai.exceptions import (
    ContentFilterError,
    ModelAPIError,
    ModelHTTPError,
    ModelRequestTimeout,
    ModelTimeoutError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from agent_zero.broker.ports import ReviewInput
from agent_zero.domain.errors import ReviewerUnavailableError
from agent_zero.domain.proposals import Proposal, ProposalDecision, Risk
from agent_zero.review.prompt import system_prompt, user_message
from agent_zero.review.schema import answer_model, to_proposal

ProviderName = Literal["openai", "openai-compatible", "anthropic", "bedrock"]
# Opens a model for one review and closes its HTTP client afterwards.
ModelOpener = Callable[[], AbstractAsyncContextManager[Model]]

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
_SDK_MODULES: dict[ProviderName, str] = {
    "openai": "pydantic_ai.models.openai",
    "openai-compatible": "pydantic_ai.models.openai",
    "anthropic": "pydantic_ai.models.anthropic",
    "bedrock": "pydantic_ai.models.bedrock",
}
_SDK_EXTRAS: dict[ProviderName, str] = {
    "openai": "openai",
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "bedrock": "bedrock",
}


class LlmReviewerConfig(BaseModel):
    """Which model reviews requests, and how long and how often it may try."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderName
    model: Annotated[str, Field(min_length=1, max_length=200)]
    base_url: Annotated[str | None, Field(pattern=r"^https?://[^\s]+$")] = None
    api_key: SecretStr | None = None
    # Bedrock only. Unset region or api_key: boto3's own chains (AWS_REGION and the role on Lambda).
    region: Annotated[str | None, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")] = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0
    # Answers refused by validation, sent back with the errors for another try.
    max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    # Retries of failed HTTP requests by the provider's SDK; within the same deadline.
    http_retries: Annotated[int, Field(ge=0, le=3)] = 0

    @model_validator(mode="after")
    def _complete(self) -> LlmReviewerConfig:
        # "after": a failure here shows the model, whose repr masks the key.
        if self.provider in ("openai", "anthropic") and self.api_key is None:
            raise ValueError(f"the {self.provider} provider needs an api_key")
        if self.provider == "openai-compatible" and self.base_url is None:
            raise ValueError("the openai-compatible provider needs a base_url")
        if self.provider != "bedrock" and self.region is not None:
            raise ValueError("only the bedrock provider takes a region")
        return self

    @property
    def reviewer_name(self) -> str:
        """The name the audit log records: provider and model."""
        return f"llm:{self.provider}:{self.model}"


class LlmReviewer:
    """A ``Reviewer`` that asks a language model for a proposal; every failure is unavailability."""

    def __init__(
        self,
        open_model: ModelOpener,
        *,
        name: str,
        timeout_seconds: float = 20.0,
        max_retries: int = 2,
        http_retries: int = 0,
    ) -> None:
        self.name = name
        self._open_model = open_model
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._settings = ModelSettings(
            timeout=timeout_seconds,
            max_retries=http_retries,
            # No framing announcement prepended on retries: the cached prefix stays byte-identical.
            framing_announcement="never",
            cache={"messages": False},
        )

    def review(self, request: ReviewInput) -> Proposal:
        """The model's proposal; ReviewerUnavailableError when there is no valid one in time."""
        if not len(request.catalog):
            return Proposal(
                decision=ProposalDecision.DENY,
                risk=Risk.LOW,
                rationale="Nothing in the catalog can be granted to this principal.",
            )
        _refuse_inside_event_loop()
        return asyncio.run(self._review(request))

    async def _review(self, request: ReviewInput) -> Proposal:
        output_type = answer_model(request.catalog)
        agent = Agent(output_type=output_type, retries=self._max_retries, name="access-reviewer")
        try:
            async with self._open_model() as model:
                result = await agent.run(
                    user_message(request),
                    model=model,
                    instructions=system_prompt(request),
                    model_settings=self._settings,
                    usage_limits=UsageLimits(request_limit=self._max_retries + 1),
                    timeout=self._timeout,
                )
        except Exception as error:  # every failure of the model fails closed
            raise self._unavailable(error) from None
        return to_proposal(result.output)

    def _unavailable(self, error: Exception) -> ReviewerUnavailableError:
        # Built from the error's kind only: exception texts can carry request or response data.
        if isinstance(error, TimeoutError | ModelRequestTimeout | ModelTimeoutError):
            detail = f"did not answer within {self._timeout:g} seconds"
        elif isinstance(error, ContentFilterError):
            detail = "refused to answer, or its answer was filtered"
        elif isinstance(error, UnexpectedModelBehavior | UsageLimitExceeded):
            detail = f"gave no valid proposal (at most {self._max_retries + 1} attempts)"
        elif isinstance(error, ModelHTTPError):
            detail = f"answered HTTP {error.status_code}"
        elif isinstance(error, ModelAPIError):
            detail = "could not be reached or sent a malformed response"
        else:
            detail = f"failed ({type(error).__name__})"
        return ReviewerUnavailableError(f"The reviewer {self.name} {detail}.")


def _refuse_inside_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "LlmReviewer.review blocks until the model answers: call it from a worker thread "
        "(e.g. anyio.to_thread.run_sync), not from inside an event loop"
    )


def build_llm_reviewer(config: LlmReviewerConfig) -> LlmReviewer:
    """The reviewer ``config`` describes; ImportError now if its provider's SDK is missing."""
    return LlmReviewer(
        model_opener(config),
        name=config.reviewer_name,
        timeout_seconds=config.timeout_seconds,
        max_retries=config.max_retries,
        http_retries=config.http_retries,
    )


def model_opener(config: LlmReviewerConfig) -> ModelOpener:
    """Opens the configured model for one review: a fresh HTTP client each time, closed after."""
    _require_sdk(config.provider)
    if config.provider == "bedrock":
        # boto3's client is thread-safe and bound to no event loop: one serves every review.
        model = _bedrock_model(config)
        return lambda: nullcontext(model)
    build = _anthropic_model if config.provider == "anthropic" else _openai_model

    @asynccontextmanager
    async def opened() -> AsyncIterator[Model]:
        model = build(config)
        async with model:
            yield model

    return opened


def _require_sdk(provider: ProviderName) -> None:
    try:
        importlib.import_module(_SDK_MODULES[provider])
    except ImportError as error:
        extra = _SDK_EXTRAS[provider]
        raise ImportError(
            f"the {provider} reviewer needs pydantic-ai-slim[{extra}]; "
            "install agent-zero[llm] (or that extra) to use it"
        ) from error


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _openai_model(config: LlmReviewerConfig) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel  # optional SDK: imported on use
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider

    if config.provider == "openai":
        # An explicit base URL: otherwise the SDK would read OPENAI_BASE_URL from the environment.
        provider: OpenAIProvider | OpenAICompatibleProvider = OpenAIProvider(
            base_url=config.base_url or OPENAI_BASE_URL, api_key=_secret(config.api_key)
        )
    else:
        provider = OpenAICompatibleProvider(
            "openai-compatible", base_url=config.base_url or "", api_key=_secret(config.api_key)
        )
    return OpenAIChatModel(config.model, provider=provider)


def _anthropic_model(config: LlmReviewerConfig) -> Model:
    from pydantic_ai.models.anthropic import AnthropicModel  # optional SDK: imported on use
    from pydantic_ai.providers.anthropic import AnthropicProvider

    provider = AnthropicProvider(
        api_key=_secret(config.api_key), base_url=config.base_url or ANTHROPIC_BASE_URL
    )
    return AnthropicModel(config.model, provider=provider)


def _bedrock_model(config: LlmReviewerConfig) -> Model:
    from pydantic_ai.models.bedrock import BedrockConverseModel  # optional SDK: imported on use
    from pydantic_ai.providers.bedrock import BedrockProvider

    read_timeout = config.timeout_seconds
    connect_timeout = min(config.timeout_seconds, 10.0)
    if config.api_key is not None:
        provider = BedrockProvider(
            api_key=config.api_key.get_secret_value(),
            region_name=config.region,
            base_url=config.base_url,
            aws_read_timeout=read_timeout,
            aws_connect_timeout=connect_timeout,
        )
    else:
        provider = BedrockProvider(
            region_name=config.region,
            base_url=config.base_url,
            aws_read_timeout=read_timeout,
            aws_connect_timeout=connect_timeout,
        )
    return BedrockConverseModel(config.model, provider=provider)
