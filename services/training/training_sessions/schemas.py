from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Row

from services.training.common import Label, Name, ReferenceId
from services.training.models import Participant, TrainingSession
from services.training.vocabulary import Delivery, ParticipantRole, Sex, Topic


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_id: ReferenceId
    start_date: date
    end_date: date
    trainers: list[Name] = Field(default_factory=list, max_length=20)
    venue: Label | None = None
    delivery: Delivery
    factory_ids: list[ReferenceId] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> "SessionCreate":
        check_session_shape(self.start_date, self.end_date, self.delivery, self.factory_ids)
        return self


class SessionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_id: ReferenceId | None = None
    start_date: date | None = None
    end_date: date | None = None
    trainers: list[Name] | None = Field(default=None, max_length=20)
    venue: Label | None = None
    delivery: Delivery | None = None
    factory_ids: list[ReferenceId] | None = Field(default=None, min_length=1, max_length=200)


def check_session_shape(
    start_date: date, end_date: date, delivery: str, factory_ids: list[str]
) -> None:
    """Rules a session obeys after every write (raised as ValueError: pydantic makes it a 422)."""
    if end_date < start_date:
        raise ValueError("end_date is before start_date")
    if len(set(factory_ids)) != len(factory_ids):
        raise ValueError("factory_ids lists a factory twice")
    if delivery == Delivery.IN_FACTORY and len(factory_ids) != 1:
        raise ValueError("an in_factory session takes place in exactly one factory")


class ParticipantIn(BaseModel):
    """One row of an attendance list. Names are optional: counts need only sex and role."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: Name | None = None
    sex: Sex
    role: ParticipantRole
    factory_id: ReferenceId
    attended: bool = True
    completed: bool = False

    @model_validator(mode="after")
    def _completed_means_attended(self) -> "ParticipantIn":
        if self.completed and not self.attended:
            raise ValueError("a participant who did not attend cannot have completed")
        return self


class AttendanceUpload(BaseModel):
    """The whole attendance list of a session; it replaces the previous list in one transaction.
    Each row has the shape of ParticipantIn; a bad row rejects the list, errors name the row
    (1 = first row)."""

    model_config = ConfigDict(extra="forbid")

    participants: list[dict[str, Any]] = Field(
        max_length=5_000,
        description="Rows: {full_name?, sex, role, factory_id, attended?, completed?}.",
    )


class ParticipantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    row_number: int
    full_name: str | None
    sex: Sex
    role: ParticipantRole
    factory_id: str
    attended: bool
    completed: bool

    @classmethod
    def of(cls, participant: Participant) -> "ParticipantRead":
        return cls.model_validate(participant)


class BySex(BaseModel):
    female: int = 0
    male: int = 0


class ByRole(BaseModel):
    worker: int = 0
    supervisor: int = 0
    manager: int = 0
    worker_representative: int = 0


class ParticipantCounts(BaseModel):
    """Who took part: ``total``, ``by_sex`` and ``by_role`` count those who attended;
    ``registered`` counts every row of the list, ``completed`` those who completed."""

    total: int = 0
    registered: int = 0
    completed: int = 0
    by_sex: BySex = Field(default_factory=BySex)
    by_role: ByRole = Field(default_factory=ByRole)
    by_factory: dict[str, int] = Field(default_factory=dict)


class SessionRead(BaseModel):
    id: str
    course_id: str
    course_topic: Topic
    start_date: date
    end_date: date
    trainers: list[str]
    venue: str | None
    delivery: Delivery
    country: str | None
    factory_ids: list[str]
    participants: ParticipantCounts
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def fields_of(
        training: TrainingSession | Row[Any],
        course_topic: str,
        counts: dict[str, Any],
        only_factory: str | None,
    ) -> dict[str, Any]:
        """The session as a caller sees it, as one plain dict of the read model's fields (a list
        validates its whole page at once, services/common/pagination.py), from the object or a
        row of its table: a factory sees itself and its own participants only (``counts``, the
        fields of ParticipantCounts, are already limited to ``only_factory``)."""
        factory_ids = list(training.factory_ids)
        if only_factory is not None:
            factory_ids = [f for f in factory_ids if f == only_factory]
        return {
            "id": training.id,
            "course_id": training.course_id,
            "course_topic": course_topic,
            "start_date": training.start_date,
            "end_date": training.end_date,
            "trainers": list(training.trainers),
            "venue": training.venue,
            "delivery": training.delivery,
            "country": training.country,
            "factory_ids": factory_ids,
            "participants": counts,
            "version": training.version,
            "created_at": training.created_at,
            "updated_at": training.updated_at,
        }
