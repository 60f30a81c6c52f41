from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.pagination import Page, PageParams
from services.training.access import READ_CATALOGUE, WRITE
from services.training.common import check_if_match, set_etag
from services.training.courses import service
from services.training.courses.schemas import CourseCreate, CourseRead, CourseUpdate
from services.training.vocabulary import Topic

router = APIRouter(prefix="/v1/courses", tags=["courses"])


@router.post("", status_code=201, response_model=CourseRead, summary="Add a course")
async def create_course(
    body: CourseCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _caller: Principal = Depends(WRITE),
) -> CourseRead:
    course = await service.create_course(session, body)
    set_etag(response, course.id, course.version)
    return CourseRead.of(course)


@router.get("", response_model=Page[CourseRead], summary="The course catalogue")
async def list_courses(
    topic: Topic | None = None,
    params: PageParams = Depends(service.COURSE_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(READ_CATALOGUE),
) -> Page[CourseRead]:
    rows, next_cursor = await service.list_courses(session, params, topic)
    return Page(items=[CourseRead.of(r) for r in rows], next_cursor=next_cursor, total=params.total)


@router.get("/{course_id}", response_model=CourseRead, summary="One course")
async def get_course(
    course_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(READ_CATALOGUE),
) -> CourseRead:
    course = await service.get_course(session, course_id)
    set_etag(response, course.id, course.version)
    return CourseRead.of(course)


@router.patch("/{course_id}", response_model=CourseRead, summary="Change a course (If-Match)")
async def update_course(
    course_id: str,
    body: CourseUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _caller: Principal = Depends(WRITE),
) -> CourseRead:
    course = await service.get_course(session, course_id)
    check_if_match(request, course.id, course.version)
    course = await service.update_course(session, course, body)
    set_etag(response, course.id, course.version)
    return CourseRead.of(course)
