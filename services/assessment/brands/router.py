"""Brands (buyers): register, list, read, update (If-Match)."""

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.brands import service
from services.assessment.brands.schemas import BrandCreate, BrandRead, BrandUpdate
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.common.text_filters import prefix_query

router = APIRouter(prefix="/v1/brands", tags=["brands"])

WRITERS = Access(Role.ADMIN, Role.STAFF)
# Factories list brands to choose whom to share with; a brand sees only itself.
READERS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY, Role.BRAND)


@router.post("", status_code=201, response_model=BrandRead, summary="Register a brand")
async def create_brand(
    body: BrandCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _caller: Principal = Depends(WRITERS),
) -> BrandRead:
    brand = await service.create_brand(session, body)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    response.headers["Location"] = f"/v1/brands/{brand.id}"
    return BrandRead.model_validate(brand)


@router.get("", response_model=Page[BrandRead], summary="List brands")
async def list_brands(
    name_prefix: str | None = prefix_query(max_length=100),
    params: PageParams = Depends(service.BRAND_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> Page[BrandRead]:
    rows, next_cursor = await service.list_brands(session, caller, params, name_prefix)
    return Page(
        items=[BrandRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{brand_id}", response_model=BrandRead, summary="One brand")
async def get_brand(
    brand_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> BrandRead:
    brand = await service.get_brand(session, brand_id, caller)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    return BrandRead.model_validate(brand)


@router.patch("/{brand_id}", response_model=BrandRead, summary="Update a brand")
async def update_brand(
    brand_id: str,
    body: BrandUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> BrandRead:
    brand = await service.get_brand(session, brand_id, caller)
    require_if_match(request, etag_for(brand.id, brand.version))
    brand = await service.update_brand(session, brand, body)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    return BrandRead.model_validate(brand)
