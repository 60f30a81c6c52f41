from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from services.training.common import Label
from services.training.models import Course
from services.training.vocabulary import Audience, Topic


class CourseTitle(BaseModel):
    """The course title in the programme's languages; English is required."""

    model_config = ConfigDict(extra="forbid")

    en: Label
    uz: Label | None = Field(default=None, description="Uzbek, Latin or Cyrillic script.")
    ru: Label | None = None


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    title: CourseTitle
    topic: Topic
    duration_days: float = Field(default=1.0, gt=0, le=60)
    audience: list[Audience] = Field(default_factory=list, max_length=10)


class CourseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: CourseTitle | None = None
    topic: Topic | None = None
    duration_days: float | None = Field(default=None, gt=0, le=60)
    audience: list[Audience] | None = Field(default=None, max_length=10)


class CourseRead(BaseModel):
    id: str
    code: str
    title: CourseTitle
    topic: Topic
    duration_days: float
    audience: list[Audience]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, course: Course) -> "CourseRead":
        return cls.model_validate(cls.fields_of(course))

    @staticmethod
    def fields_of(course: Course | Row[Any]) -> dict[str, Any]:
        """The read model's fields as one plain dict, from the object or a row of its table (a
        list validates its whole page at once, services/common/pagination.py)."""
        return {
            "id": course.id,
            "code": course.code,
            "title": {"en": course.title_en, "uz": course.title_uz, "ru": course.title_ru},
            "topic": course.topic,
            "duration_days": course.duration_days,
            "audience": list(course.audience),
            "version": course.version,
            "created_at": course.created_at,
            "updated_at": course.updated_at,
        }
