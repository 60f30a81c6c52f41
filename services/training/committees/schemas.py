from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.training.common import Label, Name, ReferenceId
from services.training.models import Committee, CommitteeMeeting, CommitteeMember
from services.training.vocabulary import MemberRole, Selection, Sex


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name
    role: MemberRole
    position: Label | None = Field(default=None, description="Job title at the factory.")
    sex: Sex
    selection: Selection
    is_chair: bool = False
    joined_on: date
    left_on: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> "MemberCreate":
        if self.left_on is not None and self.left_on < self.joined_on:
            raise ValueError("left_on is before joined_on")
        return self


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name | None = None
    role: MemberRole | None = None
    position: Label | None = None
    sex: Sex | None = None
    selection: Selection | None = None
    is_chair: bool | None = None
    joined_on: date | None = None
    left_on: date | None = None


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    full_name: str
    role: MemberRole
    position: str | None
    sex: Sex
    selection: Selection
    is_chair: bool
    joined_on: date
    left_on: date | None
    version: int

    @classmethod
    def of(cls, member: CommitteeMember) -> "MemberRead":
        return cls.model_validate(member)


class MemberCounts(BaseModel):
    """Current members (not yet left)."""

    total: int = 0
    women: int = 0
    men: int = 0
    worker_representatives: int = 0
    management_representatives: int = 0


class CommitteeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factory_id: ReferenceId
    name: Label | None = None
    established_on: date | None = None
    members: list[MemberCreate] = Field(default_factory=list, max_length=100)


class CommitteeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label | None = None
    established_on: date | None = None


class CommitteeRead(BaseModel):
    id: str
    factory_id: str
    country: str | None
    name: str | None
    established_on: date | None
    members: list[MemberRead]
    member_counts: MemberCounts
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls, committee: Committee, members: list[CommitteeMember], counts: MemberCounts
    ) -> "CommitteeRead":
        """The committee with every member it ever had, and the counts of its current ones."""
        return cls(
            id=committee.id,
            factory_id=committee.factory_id,
            country=committee.country,
            name=committee.name,
            established_on=committee.established_on,
            members=[MemberRead.of(m) for m in members],
            member_counts=counts,
            version=committee.version,
            created_at=committee.created_at,
            updated_at=committee.updated_at,
        )


class MeetingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_date: date
    attendee_member_ids: list[ReferenceId] = Field(default_factory=list, max_length=100)
    guests_women: int = Field(default=0, ge=0, le=1000)
    guests_men: int = Field(default=0, ge=0, le=1000)
    minutes_summary: str | None = Field(default=None, max_length=20_000)


class MeetingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    committee_id: str
    meeting_date: date
    attendee_member_ids: list[str]
    guests_women: int
    guests_men: int
    attendees_total: int
    attendees_women: int
    minutes_summary: str | None
    created_at: datetime

    @classmethod
    def of(cls, meeting: CommitteeMeeting) -> "MeetingRead":
        return cls.model_validate(meeting)
