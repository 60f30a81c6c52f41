from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.factories import service
from services.assessment.factories.schemas import FactoryCreate, FactoryRead
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/factories", tags=["factories"])


@router.post("", status_code=201, response_model=FactoryRead, summary="Register a factory")
async def create_factory(
    body: FactoryCreate,
    session: AsyncSession = Depends(get_session),
    _caller: Principal = Depends(Access(Role.ADMIN, Role.STAFF)),
) -> FactoryRead:
    return FactoryRead.model_validate(await service.create_factory(session, body))


@router.get("", response_model=Page[FactoryRead], summary="List factories")
async def list_factories(
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    params: PageParams = Depends(page_params),
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(Access(Role.ADMIN, Role.STAFF)),
) -> Page[FactoryRead]:
    rows, next_cursor = await service.list_factories(session, params, country)
    return Page(items=[FactoryRead.model_validate(r) for r in rows], next_cursor=next_cursor)
