from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.pagination import Page, PageParams, page_params
from services.training.courses import service
from services.training.courses.schemas import CourseCreate, CourseRead

router = APIRouter(prefix="/v1/courses", tags=["courses"])


@router.post("", status_code=201, response_model=CourseRead, summary="Add a course")
async def create_course(
    body: CourseCreate,
    session: AsyncSession = Depends(get_session),
    _caller: Principal = Depends(Access(Role.ADMIN, Role.STAFF)),
) -> CourseRead:
    return CourseRead.model_validate(await service.create_course(session, body))


@router.get("", response_model=Page[CourseRead], summary="The course catalogue")
async def list_courses(
    params: PageParams = Depends(page_params),
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(Access(*Role)),
) -> Page[CourseRead]:
    rows, next_cursor = await service.list_courses(session, params)
    return Page(items=[CourseRead.model_validate(r) for r in rows], next_cursor=next_cursor)
