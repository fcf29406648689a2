"""Who asks for access: people and AI agents, their groups and attributes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel

PrincipalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")]
GroupName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]


class PrincipalKind(StrEnum):
    """A person signs in; an agent is software acting for itself or for a person."""

    HUMAN = "human"
    AGENT = "agent"


class Principal(DomainModel):
    """A principal as the directory knows it; identity is verified elsewhere."""

    id: PrincipalId
    kind: PrincipalKind
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    groups: frozenset[GroupName] = frozenset()
    # Trusted facts about the principal, e.g. {"customer_key": "c-1001"}; set by admins only.
    attributes: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")], str] = Field(
        default_factory=dict
    )
    enabled: bool = True

    def in_any_group(self, groups: frozenset[str]) -> bool:
        """Whether the principal belongs to at least one of ``groups``."""
        return not self.groups.isdisjoint(groups)

    def attribute(self, name: str) -> str | None:
        """A trusted attribute, or None when the principal has none by that name."""
        value = self.attributes.get(name)
        return value if value else None
