from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ids import new_id
from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.common.pagination import PageParams, paginate
from services.common.problems import conflict
from services.training.courses.schemas import CourseCreate, CourseRead
from services.training.models import Course, OutboxEvent


async def create_course(session: AsyncSession, data: CourseCreate) -> Course:
    course = Course(id=new_id("crs"), **data.model_dump())
    session.add(course)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise conflict(f"A course with code {data.code!r} already exists.") from exc
    await append_event(
        session,
        OutboxEvent,
        event_type="course.created",
        aggregate_type="course",
        aggregate_id=course.id,
        payload=CourseRead.model_validate(course).model_dump(mode="json"),
        request_id=current_request_id(),
    )
    await session.commit()
    return course


async def list_courses(
    session: AsyncSession, params: PageParams
) -> tuple[list[Course], str | None]:
    rows, next_cursor = await paginate(session, select(Course), Course.id, params)  # type: ignore[arg-type]
    return list(rows), next_cursor
