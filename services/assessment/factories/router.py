"""Factories: register, search, read, update (If-Match)."""

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.factories import service
from services.assessment.factories.schemas import (
    FactoryCreate,
    FactoryRead,
    FactoryUpdate,
    ParticipationStatus,
)
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.common.text_filters import free_text_query, prefix_query

router = APIRouter(prefix="/v1/factories", tags=["factories"])

WRITERS = Access(Role.ADMIN, Role.STAFF)
READERS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY, Role.BRAND)


@router.post("", status_code=201, response_model=FactoryRead, summary="Register a factory")
async def create_factory(
    body: FactoryCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> FactoryRead:
    factory = await service.create_factory(session, body, caller)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    response.headers["Location"] = f"/v1/factories/{factory.id}"
    return service.to_read(factory, caller)


@router.get("", response_model=Page[FactoryRead], summary="Search factories")
async def list_factories(
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    region: str | None = free_text_query(max_length=120),
    status: ParticipationStatus | None = Query(None, description="Participation status."),
    name_prefix: str | None = prefix_query(max_length=100),
    params: PageParams = Depends(service.FACTORY_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> Page[FactoryRead]:
    rows, next_cursor = await service.list_factories(
        session,
        caller,
        params,
        country=country,
        region=region,
        status=status,
        name_prefix=name_prefix,
    )
    return Page(
        items=[service.to_read(r, caller) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{factory_id}", response_model=FactoryRead, summary="One factory")
async def get_factory(
    factory_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> FactoryRead:
    factory = await service.get_factory(session, factory_id, caller)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    return service.to_read(factory, caller)


@router.patch("/{factory_id}", response_model=FactoryRead, summary="Update a factory's profile")
async def update_factory(
    factory_id: str,
    body: FactoryUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> FactoryRead:
    factory = await service.get_factory(session, factory_id, caller)
    require_if_match(request, etag_for(factory.id, factory.version))
    factory = await service.update_factory(session, factory, body)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    return service.to_read(factory, caller)
