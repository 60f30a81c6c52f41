"""The course catalogue. Codes are unique; every write emits a ``course.*`` snapshot."""

from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from services.common.etag import stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate, select_rows
from services.common.problems import already_exists, not_found
from services.training.common import changes
from services.training.courses.schemas import CourseCreate, CourseRead, CourseUpdate
from services.training.events import record_event
from services.training.models import Course

# The orders this list offers (``sort``); ties fall back to the unique key.
COURSE_SORTING = Sorting(
    Course.id,
    code=Course.code,
    topic=Course.topic,
    created_at=Course.created_at,
    updated_at=Course.updated_at,
)


def course_payload(course: Course) -> dict[str, Any]:
    """The feed's ``title`` is the English title (a string, as readers expect); the three
    languages travel in the added ``titles`` field."""
    read = CourseRead.of(course)
    payload = read.model_dump(
        mode="json", include={"id", "code", "topic", "duration_days", "audience"}
    )
    payload["title"] = read.title.en
    payload["titles"] = read.title.model_dump()
    return payload


async def create_course(session: AsyncSession, data: CourseCreate) -> Course:
    course = Course(
        id=new_id("crs"),
        code=data.code,
        title_en=data.title.en,
        title_uz=data.title.uz,
        title_ru=data.title.ru,
        topic=data.topic,
        duration_days=data.duration_days,
        audience=[str(a) for a in data.audience],
    )
    session.add(course)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise already_exists(f"A course with code {data.code!r} already exists.") from exc
    await record_event(session, "course.created", course.id, course_payload(course))
    await session.commit()
    return course


async def get_course(session: AsyncSession, course_id: str) -> Course:
    course = await session.get(Course, course_id)
    if course is None:
        raise not_found("Course", course_id)
    return course


async def update_course(session: AsyncSession, course: Course, data: CourseUpdate) -> Course:
    fields = changes(data, required={"title", "topic", "duration_days", "audience"})
    if "title" in fields:
        course.title_en = fields["title"]["en"]
        course.title_uz = fields["title"].get("uz")
        course.title_ru = fields["title"].get("ru")
    if "topic" in fields:
        course.topic = fields["topic"]
    if "duration_days" in fields:
        course.duration_days = fields["duration_days"]
    if "audience" in fields:
        course.audience = [str(a) for a in fields["audience"]]
    course.updated_at = utcnow()
    async with stale_write_guard():
        await session.flush()
        await record_event(session, "course.updated", course.id, course_payload(course))
        await session.commit()
    return course


async def list_courses(
    connection: AsyncConnection, params: PageParams, *, topic: str | None = None
) -> tuple[list[Row[Any]], str | None]:
    """A page of the catalogue as rows of the table (the list answers read models only)."""
    stmt = select_rows(Course)
    if topic:
        stmt = stmt.where(col(Course.topic) == topic)
    rows, next_cursor = await paginate(connection, stmt, COURSE_SORTING, params)
    return list(rows), next_cursor
