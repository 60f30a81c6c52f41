from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.training.common import CatCode, Label, Name, ReferenceId
from services.training.models import AdvisoryVisit


class VisitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factory_id: ReferenceId
    visit_date: date
    advisors: list[Name] = Field(min_length=1, max_length=10)
    topics: list[Label] = Field(default_factory=list, max_length=30)
    compliance_point_codes: list[CatCode] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(default=None, max_length=10_000)


class VisitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit_date: date | None = None
    advisors: list[Name] | None = Field(default=None, min_length=1, max_length=10)
    topics: list[Label] | None = Field(default=None, max_length=30)
    compliance_point_codes: list[CatCode] | None = Field(default=None, max_length=50)
    notes: str | None = Field(default=None, max_length=10_000)


class VisitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    factory_id: str
    country: str | None
    visit_date: date
    advisors: list[str]
    topics: list[str]
    compliance_point_codes: list[str]
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, visit: AdvisoryVisit) -> "VisitRead":
        return cls.model_validate(visit)
