"""Brands (buyers): register, list, read, update (If-Match)."""

from fastapi import APIRouter, Depends, Request, Response

from services.assessment.access import Reader, Writer
from services.assessment.brands import service
from services.assessment.brands.schemas import BrandCreate, BrandRead, BrandUpdate
from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.common.text_filters import prefix_query

router = APIRouter(prefix="/v1/brands", tags=["brands"])


@router.post("", status_code=201, response_model=BrandRead, summary="Register a brand")
async def create_brand(
    body: BrandCreate, response: Response, caller: Writer, session: SessionDep
) -> BrandRead:
    """Registers a buyer brand, so that factories can share their data with it. Send an
    Idempotency-Key to retry safely."""
    brand = await service.create_brand(session, body)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    response.headers["Location"] = f"/v1/brands/{brand.id}"
    return BrandRead.of(brand)


@router.get("", response_model=Page[BrandRead], summary="List brands")
async def list_brands(
    caller: Reader,
    session: ReadSessionDep,
    name_prefix: str | None = prefix_query(max_length=100),
    params: PageParams = Depends(service.BRAND_SORTING.page_params),
) -> Page[BrandRead]:
    """Brands, for a factory choosing whom to share its data with; a brand token sees only
    itself."""
    rows, next_cursor = await service.list_brands(session, params, caller, name_prefix=name_prefix)
    return Page(
        items=[BrandRead.of(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{brand_id}", response_model=BrandRead, summary="One brand")
async def get_brand(
    brand_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> BrandRead:
    """One brand, with its ETag; a brand token reads only itself (404 for another)."""
    brand = await service.get_brand(session, brand_id, caller)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    return BrandRead.of(brand)


@router.patch("/{brand_id}", response_model=BrandRead, summary="Update a brand")
async def update_brand(
    brand_id: str,
    body: BrandUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> BrandRead:
    """Renames or retypes a brand. Needs If-Match with its current ETag (428 without, 412 when
    stale) and answers the new one."""
    brand = await service.get_brand(session, brand_id, caller)
    require_if_match(request, etag_for(brand.id, brand.version))
    brand = await service.update_brand(session, brand, body)
    response.headers["ETag"] = etag_for(brand.id, brand.version)
    return BrandRead.of(brand)
