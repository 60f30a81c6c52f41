from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.training.common import CountryCode, Label
from services.training.models import Seminar
from services.training.vocabulary import SeminarKind

Count = Field(default=0, ge=0, le=100_000)


class SeminarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SeminarKind
    country: CountryCode | None = Field(
        default=None,
        description="The country programme holding it; a country-limited token's own by default.",
    )
    event_date: date
    topic: str = Field(min_length=1, max_length=500)
    organisations: list[Label] = Field(default_factory=list, max_length=100)
    venue: Label | None = None
    participants_women: int = Count
    participants_men: int = Count
    notes: str | None = Field(default=None, max_length=10_000)


class SeminarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SeminarKind | None = None
    country: CountryCode | None = None
    event_date: date | None = None
    topic: str | None = Field(default=None, min_length=1, max_length=500)
    organisations: list[Label] | None = Field(default=None, max_length=100)
    venue: Label | None = None
    participants_women: int | None = Field(default=None, ge=0, le=100_000)
    participants_men: int | None = Field(default=None, ge=0, le=100_000)
    notes: str | None = Field(default=None, max_length=10_000)


class SeminarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: SeminarKind
    country: str | None
    event_date: date
    topic: str
    organisations: list[str]
    venue: str | None
    participants_women: int
    participants_men: int
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, seminar: Seminar) -> "SeminarRead":
        return cls.model_validate(seminar)
