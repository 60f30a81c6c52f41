"""Data-sharing consent: a factory lets a brand see its assessment reports."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.models import Consent


class ConsentGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(min_length=1, max_length=40)


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    factory_id: str
    brand_id: str
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool = False

    @classmethod
    def of(cls, consent: Consent) -> ConsentRead:
        """The consent, ``active`` until it is revoked."""
        read = cls.model_validate(consent)
        read.active = consent.revoked_at is None
        return read
