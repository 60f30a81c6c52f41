"""Factories: register, search, read, update (If-Match)."""

from fastapi import APIRouter, Depends, Query, Request, Response

from services.assessment.access import Reader, Writer
from services.assessment.factories import service
from services.assessment.factories.schemas import (
    FactoryCreate,
    FactoryRead,
    FactoryUpdate,
    ParticipationStatus,
)
from services.common.deps import ReadConnectionDep, ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams, page_response
from services.common.text_filters import free_text_query, prefix_query

router = APIRouter(prefix="/v1/factories", tags=["factories"])
# Built once: subscripting the generic on each request costs a lookup of its own.
FACTORY_PAGE = Page[FactoryRead]


@router.post("", status_code=201, response_model=FactoryRead, summary="Register a factory")
async def create_factory(
    body: FactoryCreate, response: Response, caller: Writer, session: SessionDep
) -> FactoryRead:
    """Registers a factory in the caller's country scope (403 outside it); its buyer brands must
    exist (422 naming the unknown ones). Send an Idempotency-Key to retry safely."""
    factory = await service.create_factory(session, body, caller)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    response.headers["Location"] = f"/v1/factories/{factory.id}"
    return FactoryRead.of(factory, caller)


@router.get("", response_model=FACTORY_PAGE, summary="Search factories")
async def list_factories(
    caller: Reader,
    connection: ReadConnectionDep,
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    region: str | None = free_text_query(max_length=120),
    status: ParticipationStatus | None = Query(None, description="Participation status."),
    name_prefix: str | None = prefix_query(max_length=100),
    params: PageParams = Depends(service.FACTORY_SORTING.page_params),
) -> Response:
    """The factories the caller may see: staff limited to a country see that country's, a
    factory token its own factory, a brand token those that share their data with it.
    `name_prefix` matches the English, Uzbek or Russian name."""
    rows, next_cursor = await service.list_factories(
        connection,
        params,
        caller,
        country=country,
        region=region,
        status=status,
        name_prefix=name_prefix,
    )
    items = [FactoryRead.fields_of(r, caller) for r in rows]
    return page_response(FACTORY_PAGE, items, next_cursor, params.total)


@router.get("/{factory_id}", response_model=FactoryRead, summary="One factory")
async def get_factory(
    factory_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> FactoryRead:
    """One factory, with the ETag to send as If-Match. A factory the caller may not see is 404,
    like a missing one; a brand sees only its own buying relationship in `buyer_brand_ids`."""
    factory = await service.get_factory(session, factory_id, caller)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    return FactoryRead.of(factory, caller)


@router.patch("/{factory_id}", response_model=FactoryRead, summary="Update a factory's profile")
async def update_factory(
    factory_id: str,
    body: FactoryUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> FactoryRead:
    """Changes the fields sent; the country is fixed at registration. Needs If-Match with the
    factory's current ETag (428 without, 412 when stale) and answers the new one; a factory the
    caller may not see is 404 before the ETag is looked at."""
    factory = await service.get_factory(session, factory_id, caller)
    require_if_match(request, etag_for(factory.id, factory.version))
    factory = await service.update_factory(session, factory, body)
    response.headers["ETag"] = etag_for(factory.id, factory.version)
    return FactoryRead.of(factory, caller)
