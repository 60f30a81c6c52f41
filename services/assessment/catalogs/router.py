"""The CAT: import a version, read it, replace a draft, publish (then it never changes)."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.catalogs import service
from services.assessment.catalogs.schemas import (
    CatalogImport,
    CatalogRead,
    CatalogStatus,
    CatalogSummary,
    ThresholdRead,
)
from services.common.app import get_read_session, get_session
from services.common.auth import ANY_USER, Access, Principal, Role
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.common.problems import not_found

router = APIRouter(prefix="/v1/catalogs", tags=["catalogs"])

WRITERS = Access(Role.ADMIN, Role.STAFF)


def _etag(response: Response, structure: service.CatalogStructure) -> None:
    catalog = structure.catalog
    response.headers["ETag"] = etag_for(catalog.id, catalog.version)


@router.post("", status_code=201, response_model=CatalogRead, summary="Import a CAT version")
async def import_catalog(
    body: CatalogImport,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> CatalogRead:
    structure = await service.import_catalog(session, body, caller)
    _etag(response, structure)
    response.headers["Location"] = f"/v1/catalogs/{structure.catalog.id}"
    return service.to_read(structure)


@router.get("", response_model=Page[CatalogSummary], summary="List CAT versions")
async def list_catalogs(
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    status: CatalogStatus | None = None,
    params: PageParams = Depends(service.CATALOG_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(ANY_USER),
) -> Page[CatalogSummary]:
    items, next_cursor = await service.list_catalogs(session, params, caller, country, status)
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{catalog_id}", response_model=CatalogRead, summary="One CAT version, whole")
async def get_catalog(
    catalog_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(ANY_USER),
) -> CatalogRead:
    structure = await service.load_structure(session, catalog_id, caller)
    _etag(response, structure)
    return service.to_read(structure)


@router.get(
    "/{catalog_id}/thresholds/{name}",
    response_model=ThresholdRead,
    summary="The legal threshold in force on a date",
)
async def threshold_on(
    catalog_id: str,
    name: str,
    on: date = Query(..., description="The day to judge (e.g. the visit date)."),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(ANY_USER),
) -> ThresholdRead:
    structure = await service.load_structure(session, catalog_id, caller)
    threshold = service.threshold_in_force(structure.thresholds, name, on)
    if threshold is None:
        raise not_found("Threshold", f"{name} on {on.isoformat()}")
    return ThresholdRead.model_validate(threshold)


@router.put("/{catalog_id}", response_model=CatalogRead, summary="Replace a draft's content")
async def replace_catalog(
    catalog_id: str,
    body: CatalogImport,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> CatalogRead:
    catalog = await service.get_catalog(session, catalog_id, caller)
    require_if_match(request, etag_for(catalog.id, catalog.version))
    structure = await service.replace_catalog(session, catalog, body, caller)
    _etag(response, structure)
    return service.to_read(structure)


@router.post("/{catalog_id}/publish", response_model=CatalogRead, summary="Publish a draft")
async def publish_catalog(
    catalog_id: str,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> CatalogRead:
    catalog = await service.get_catalog(session, catalog_id, caller)
    require_if_match(request, etag_for(catalog.id, catalog.version))
    structure = await service.publish_catalog(session, catalog, caller)
    _etag(response, structure)
    return service.to_read(structure)
