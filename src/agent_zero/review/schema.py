"""The model's answer schema, generated from the catalog view it is shown, and its mapping.

The structured-output type names resource keys and actions as enums built from
the catalog, so a provider that decodes against the schema cannot name anything
else, and a model that still does gets a validation error back as feedback.
The domain ``Proposal`` stays loose on purpose: the guardrails judge it after
this, whatever the model said.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from agent_zero.domain.catalog import MIN_SESSION_SECONDS, Catalog
from agent_zero.domain.proposals import (
    MAX_RATIONALE_CHARS,
    Grant,
    Proposal,
    ProposalDecision,
    Risk,
)

ANSWER_DESCRIPTION = (
    "Your review of the access request: a rationale, the risk, the decision and, "
    "when approving or escalating, the narrowest grants that fit the task."
)


class ProposedGrantBase(BaseModel):
    """Actions on one catalog resource (narrowed per catalog by ``answer_model``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_key: str
    actions: list[str]


class ReviewAnswer(BaseModel):
    """What the model answers; ``answer_model`` narrows the grant type to one catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rationale: Annotated[
        str,
        Field(
            max_length=MAX_RATIONALE_CHARS,
            description="One to three sentences a person can check: the policy rule relied on "
            "and why each grant is needed.",
        ),
    ]
    risk: Annotated[
        Literal["low", "medium", "high", "critical"],
        Field(description="The risk of granting what you propose."),
    ]
    decision: Annotated[
        Literal["approve", "deny", "escalate"],
        Field(
            description="approve: the policy clearly allows it; deny: it does not, or the reason "
            "is unclear; escalate: a person should decide."
        ),
    ]
    grants: list[ProposedGrantBase]
    duration_seconds: int

    # Set on each generated subclass: the actions each resource allows.
    allowed_by_key: ClassVar[Mapping[str, frozenset[str]]] = {}

    @model_validator(mode="after")
    def _fits_the_catalog(self) -> ReviewAnswer:
        if self.decision == "approve" and not self.grants:
            raise ValueError("an approval must grant at least one resource")
        keys = [grant.resource_key for grant in self.grants]
        if len(set(keys)) != len(keys):
            raise ValueError("name each resource once: merge its actions into one grant")
        allowed = self.allowed_by_key
        for grant in self.grants:
            extra = sorted(set(grant.actions) - allowed.get(grant.resource_key, frozenset()))
            if extra:
                permitted = ", ".join(sorted(allowed.get(grant.resource_key, ())))
                raise ValueError(
                    f"{', '.join(extra)} cannot be granted on {grant.resource_key}; "
                    f"its actions are: {permitted}"
                )
        return self


def _one_of(values: tuple[str, ...]) -> Any:
    """``Literal[values]`` for values known only at run time."""
    return Literal.__getitem__(values)


def answer_model(catalog: Catalog) -> type[ReviewAnswer]:
    """The answer type for ``catalog``: keys and actions limited to what it offers."""
    if not len(catalog):
        raise ValueError("an empty catalog has nothing to propose")
    allowed = {entry.key: frozenset(entry.allowed_actions) for entry in catalog}
    keys = tuple(sorted(allowed))
    actions = tuple(sorted(frozenset().union(*allowed.values())))
    longest = max(entry.max_session_seconds for entry in catalog)
    action_list: Any = list[_one_of(actions)]  # type: ignore[misc]
    grant = create_model(
        "ProposedGrant",
        __base__=ProposedGrantBase,
        __doc__="Actions on one catalog resource; only actions that resource lists.",
        resource_key=(_one_of(keys), Field(description="The catalog key of the resource.")),
        actions=(action_list, Field(min_length=1, max_length=len(actions))),
    )
    model = create_model(
        "AccessReview",
        __base__=ReviewAnswer,
        __doc__=ANSWER_DESCRIPTION,
        grants=(
            list[grant],
            Field(
                max_length=len(keys),
                description="What to grant; empty when denying. At most one grant per resource.",
            ),
        ),
        duration_seconds=(
            int,
            Field(
                ge=MIN_SESSION_SECONDS,
                le=longest,
                description="How long the access lasts, in seconds: as short as the task allows.",
            ),
        ),
    )
    model.allowed_by_key = allowed
    return model


def to_proposal(answer: ReviewAnswer) -> Proposal:
    """The domain proposal the answer stands for (duplicated actions dropped)."""
    return Proposal(
        decision=ProposalDecision(answer.decision),
        grants=tuple(
            Grant(resource_key=grant.resource_key, actions=tuple(dict.fromkeys(grant.actions)))
            for grant in answer.grants
        ),
        duration_seconds=answer.duration_seconds,
        risk=Risk(answer.risk),
        rationale=answer.rationale,
    )
