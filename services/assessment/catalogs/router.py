"""The CAT: import a version, read it, replace a draft, publish (then it never changes)."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response

from services.assessment.access import CatalogueReader, Writer
from services.assessment.catalogs import service
from services.assessment.catalogs.schemas import (
    CatalogImport,
    CatalogRead,
    CatalogStatus,
    CatalogSummary,
    ThresholdRead,
)
from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.common.problems import not_found

router = APIRouter(prefix="/v1/catalogs", tags=["catalogs"])


@router.post("", status_code=201, response_model=CatalogRead, summary="Import a CAT version")
async def import_catalog(
    body: CatalogImport, response: Response, caller: Writer, session: SessionDep
) -> CatalogRead:
    """Imports a version of a country's CAT (compliance assessment tool) as a draft: clusters,
    compliance points, questions in English, Uzbek and Russian, and dated legal thresholds. A
    draft can be replaced until it is published; a country outside the caller's scope is 403."""
    structure = await service.import_catalog(session, body, caller)
    catalog = structure.catalog
    response.headers["ETag"] = etag_for(catalog.id, catalog.version)
    response.headers["Location"] = f"/v1/catalogs/{catalog.id}"
    return CatalogRead.of(structure)


@router.get("", response_model=Page[CatalogSummary], summary="List CAT versions")
async def list_catalogs(
    caller: CatalogueReader,
    session: ReadSessionDep,
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    status: CatalogStatus | None = None,
    params: PageParams = Depends(service.CATALOG_SORTING.page_params),
) -> Page[CatalogSummary]:
    """CAT versions without their content, for every signed-in caller; a caller limited to a
    country sees that country's."""
    items, next_cursor = await service.list_catalogs(
        session, params, caller, country=country, status=status
    )
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{catalog_id}", response_model=CatalogRead, summary="One CAT version, whole")
async def get_catalog(
    catalog_id: str, response: Response, caller: CatalogueReader, session: ReadSessionDep
) -> CatalogRead:
    """A CAT version whole, as assessments are recorded and scored against it, with its ETag."""
    structure = await service.load_structure(session, catalog_id, caller)
    catalog = structure.catalog
    response.headers["ETag"] = etag_for(catalog.id, catalog.version)
    return CatalogRead.of(structure)


@router.get(
    "/{catalog_id}/thresholds/{name}",
    response_model=ThresholdRead,
    summary="The legal threshold in force on a date",
)
async def threshold_on(
    catalog_id: str,
    name: str,
    caller: CatalogueReader,
    session: ReadSessionDep,
    on: date = Query(..., description="The day to judge (e.g. the visit date)."),
) -> ThresholdRead:
    """The legal threshold (the minimum monthly wage, say) in force on a given day, by which
    the findings of a visit on that day are judged; 404 when none was in force."""
    structure = await service.load_structure(session, catalog_id, caller)
    threshold = service.threshold_in_force(structure.thresholds, name, on)
    if threshold is None:
        raise not_found("Threshold", f"{name} on {on.isoformat()}")
    return ThresholdRead.of(threshold)


@router.put("/{catalog_id}", response_model=CatalogRead, summary="Replace a draft's content")
async def replace_catalog(
    catalog_id: str,
    body: CatalogImport,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> CatalogRead:
    """Replaces a draft's whole content; a published version never changes (409). Needs
    If-Match with the version's current ETag (428 without, 412 when stale) and answers the new
    one."""
    catalog = await service.get_catalog(session, catalog_id, caller)
    require_if_match(request, etag_for(catalog.id, catalog.version))
    structure = await service.replace_catalog(session, catalog, body, caller)
    response.headers["ETag"] = etag_for(structure.catalog.id, structure.catalog.version)
    return CatalogRead.of(structure)


@router.post("/{catalog_id}/publish", response_model=CatalogRead, summary="Publish a draft")
async def publish_catalog(
    catalog_id: str, request: Request, response: Response, caller: Writer, session: SessionDep
) -> CatalogRead:
    """Publishes a draft: from then on assessments can use it, and it never changes. Needs
    If-Match with its current ETag (428 without, 412 when stale) and answers the new one."""
    catalog = await service.get_catalog(session, catalog_id, caller)
    require_if_match(request, etag_for(catalog.id, catalog.version))
    structure = await service.publish_catalog(session, catalog, caller)
    response.headers["ETag"] = etag_for(structure.catalog.id, structure.catalog.version)
    return CatalogRead.of(structure)
