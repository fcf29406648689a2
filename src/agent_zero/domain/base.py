"""The pydantic base every domain model shares: strict shape, immutable values."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DomainModel(BaseModel):
    """Immutable, and unknown fields are refused rather than dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)
