"""Request and response shapes of brands (buyers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.models import Brand


class BrandType(StrEnum):
    participant = "participant"
    partner = "partner"


class BrandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    type: BrandType = BrandType.participant


class BrandUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    type: BrandType | None = None


class BrandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    type: BrandType
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, brand: Brand) -> BrandRead:
        return cls.model_validate(brand)
