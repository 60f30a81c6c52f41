"""Request and response shapes of factories (enterprises)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Row

from services.assessment.access import buyer_brands_seen_by
from services.assessment.models import Factory
from services.common.auth import Principal

COUNTRY = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.")


class ParticipationStatus(StrEnum):
    applicant = "applicant"
    active = "active"
    suspended = "suspended"
    withdrawn = "withdrawn"


class Workforce(BaseModel):
    """Head counts on the last assessment or registration; women + men never exceed total."""

    model_config = ConfigDict(extra="forbid")

    total: int | None = Field(default=None, ge=0, le=1_000_000)
    women: int | None = Field(default=None, ge=0, le=1_000_000)
    men: int | None = Field(default=None, ge=0, le=1_000_000)
    migrants: int | None = Field(default=None, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _parts_fit_total(self) -> Workforce:
        if self.total is not None:
            if (self.women or 0) + (self.men or 0) > self.total:
                raise ValueError("women + men exceed the total workforce")
            if (self.migrants or 0) > self.total:
                raise ValueError("migrants exceed the total workforce")
        return self


class FactoryFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_uz: str | None = Field(default=None, max_length=300, description="Name in Uzbek.")
    name_ru: str | None = Field(default=None, max_length=300, description="Name in Russian.")
    region: str | None = Field(default=None, max_length=120)
    address: str | None = Field(default=None, max_length=500)
    sector: str | None = Field(default=None, max_length=80, examples=["garment", "textile"])
    ownership: str | None = Field(default=None, max_length=80, examples=["private_domestic"])
    export_markets: list[str] = Field(default_factory=list, max_length=100)
    workforce: Workforce = Field(default_factory=Workforce)
    participation_status: ParticipationStatus = ParticipationStatus.active
    participation_start: date | None = None
    buyer_brand_ids: list[str] = Field(
        default_factory=list, max_length=200, description="Brands that buy from the factory."
    )


class FactoryCreate(FactoryFields):
    name: str = Field(min_length=1, max_length=300)
    country: str = COUNTRY


class FactoryUpdate(BaseModel):
    """Only the fields sent change; country is fixed at registration."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    name_uz: str | None = Field(default=None, max_length=300)
    name_ru: str | None = Field(default=None, max_length=300)
    region: str | None = Field(default=None, max_length=120)
    address: str | None = Field(default=None, max_length=500)
    sector: str | None = Field(default=None, max_length=80)
    ownership: str | None = Field(default=None, max_length=80)
    export_markets: list[str] | None = Field(default=None, max_length=100)
    workforce: Workforce | None = None
    participation_status: ParticipationStatus | None = None
    participation_start: date | None = None
    buyer_brand_ids: list[str] | None = Field(default=None, max_length=200)


class FactoryRead(BaseModel):
    id: str
    name: str
    name_uz: str | None
    name_ru: str | None
    country: str
    region: str | None
    address: str | None
    sector: str | None
    ownership: str | None
    export_markets: list[str]
    workforce: Workforce
    participation_status: ParticipationStatus
    participation_start: date | None
    buyer_brand_ids: list[str] = Field(
        description="Brands that buy from the factory; a brand token sees only its own id here."
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, factory: Factory | Row[Any], viewer: Principal) -> FactoryRead:
        """The factory (the object, or a row of its table) as ``viewer`` may see it."""
        return cls.model_validate(cls.fields_of(factory, viewer))

    @staticmethod
    def fields_of(factory: Factory | Row[Any], viewer: Principal) -> dict[str, Any]:
        """The read model's fields as one plain dict (a list validates its whole page at once,
        services/common/pagination.py): the workforce as one object, and a brand's own buying
        relationship only. Validating one dict is half the cost of keyword arguments."""
        if isinstance(factory, Row):
            row = factory._mapping  # a row's attributes are looked up by name on each access
            fields = {name: row[name] for name in _COLUMNS_READ}
        else:
            fields = {name: getattr(factory, name) for name in _COLUMNS_READ}
        fields["buyer_brand_ids"] = buyer_brands_seen_by(factory, viewer)  # type: ignore[arg-type]
        fields["workforce"] = {
            "total": fields.pop("workforce_total"),
            "women": fields.pop("workforce_women"),
            "men": fields.pop("workforce_men"),
            "migrants": fields.pop("workforce_migrants"),
        }
        return fields


# What the read model takes from the table: its fields of the same name, and the workforce's
# four columns.
_COLUMNS_READ = (
    *(name for name in FactoryRead.model_fields if name != "workforce"),
    "workforce_total",
    "workforce_women",
    "workforce_men",
    "workforce_migrants",
)
