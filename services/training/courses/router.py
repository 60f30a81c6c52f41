"""The course catalogue: add, list, read, change (If-Match)."""

from fastapi import APIRouter, Depends, Request, Response

from services.common.deps import ReadConnectionDep, ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams, page_response
from services.training.access import CatalogueReader, Writer
from services.training.courses import service
from services.training.courses.schemas import CourseCreate, CourseRead, CourseUpdate
from services.training.vocabulary import Topic

router = APIRouter(prefix="/v1/courses", tags=["courses"])
# Built once: subscripting the generic on each request costs a lookup of its own.
COURSE_PAGE = Page[CourseRead]


@router.post("", status_code=201, response_model=CourseRead, summary="Add a course")
async def create_course(
    body: CourseCreate, response: Response, caller: Writer, session: SessionDep
) -> CourseRead:
    """Adds a course to the catalogue, its title in English, Uzbek and Russian. Send an
    Idempotency-Key to retry safely."""
    course = await service.create_course(session, body)
    response.headers["ETag"] = etag_for(course.id, course.version)
    response.headers["Location"] = f"/v1/courses/{course.id}"
    return CourseRead.of(course)


@router.get("", response_model=COURSE_PAGE, summary="The course catalogue")
async def list_courses(
    caller: CatalogueReader,
    connection: ReadConnectionDep,
    topic: Topic | None = None,
    params: PageParams = Depends(service.COURSE_SORTING.page_params),
) -> Response:
    """The course catalogue, open to every signed-in caller, brands included: what Better Work
    offers is no secret; who took part is."""
    rows, next_cursor = await service.list_courses(connection, params, topic=topic)
    items = [CourseRead.fields_of(r) for r in rows]
    return page_response(COURSE_PAGE, items, next_cursor, params.total)


@router.get("/{course_id}", response_model=CourseRead, summary="One course")
async def get_course(
    course_id: str, response: Response, caller: CatalogueReader, session: ReadSessionDep
) -> CourseRead:
    """One course, with its ETag."""
    course = await service.get_course(session, course_id)
    response.headers["ETag"] = etag_for(course.id, course.version)
    return CourseRead.of(course)


@router.patch("/{course_id}", response_model=CourseRead, summary="Change a course (If-Match)")
async def update_course(
    course_id: str,
    body: CourseUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> CourseRead:
    """Changes the fields sent. Needs If-Match with the course's current ETag (428 without, 412
    when stale) and answers the new one."""
    course = await service.get_course(session, course_id)
    require_if_match(request, etag_for(course.id, course.version))
    course = await service.update_course(session, course, body)
    response.headers["ETag"] = etag_for(course.id, course.version)
    return CourseRead.of(course)
