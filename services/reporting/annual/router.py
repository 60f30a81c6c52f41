"""The annual report of a country programme: live, and as frozen public editions."""

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import if_match_exempt
from services.common.pagination import Page, PageParams
from services.reporting.access import Anyone, Publisher
from services.reporting.annual import render, service
from services.reporting.annual.schemas import AnnualReport, PublicationRead
from services.reporting.disclosure import admit_annual
from services.reporting.kept_answers import kept_or_computed
from services.reporting.scope import (
    Audience,
    ReportScope,
    SettingsDep,
    audience_for,
    restrict_to_principal,
)
from services.reporting.settings import ReportingSettings

router = APIRouter(prefix="/v1/reports/annual", tags=["annual report"])

YEAR = Path(ge=2000, le=2100)
COUNTRY = Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. UZ.")
FORMAT = Query(None, description="json, html, pdf, xlsx or csv; overrides Accept.")
RENDERED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report in the negotiated format.",
        "content": {media: {} for media in render.FORMATS.values() if media != "application/json"},
    }
}


async def _rendered(
    report: AnnualReport,
    fmt: str,
    filename: str,
    etag: str | None = None,
    content: bytes | str | None = None,
) -> Response:
    headers = {"vary": "accept"}
    if fmt in ("pdf", "xlsx", "csv"):
        headers["content-disposition"] = f'attachment; filename="{filename}.{fmt}"'
    if etag:
        headers["etag"] = f'"{etag}"'
    media_type = render.FORMATS[fmt]
    if fmt in ("html", "csv"):
        media_type += "; charset=utf-8"
    if content is None:
        content = await render.render_off_loop(report, fmt)
    headers["x-content-type-options"] = "nosniff"
    if isinstance(content, str) and fmt == "html":
        headers["content-security-policy"] = render.content_security_policy(content)
    return Response(content, media_type=media_type, headers=headers)


@router.get(
    "/{year}",
    response_model=AnnualReport,
    responses=RENDERED,
    summary="The annual report (JSON, HTML, PDF, XLSX or CSV by Accept or ?format=)",
)
async def annual_report(
    request: Request,
    caller: Anyone,
    session: ReadSessionDep,
    year: int = YEAR,
    country: str = COUNTRY,
    format: str | None = FORMAT,
    settings: ReportingSettings = SettingsDep,
) -> Response:
    """The annual report of a country's year as it stands now, in JSON, HTML, PDF, XLSX or CSV
    (by Accept or `?format=`). Callers other than admin and staff get the public edition of an
    ended year, small figures withheld (docs/disclosure-control.md)."""
    fmt = render.negotiate(request.headers.get("accept"), format)
    scope = restrict_to_principal(ReportScope(country=country), caller)
    audience = audience_for(caller, settings)
    country = scope.country or country
    admit_annual(year, audience)  # a refusal is never kept

    async def compute() -> tuple[AnnualReport, bytes | str]:
        report = await service.read_annual_report(request.app.state.db, year, country, audience)
        return report, await render.render_off_loop(report, fmt)

    report, content = await kept_or_computed(
        session, ("annual", year, country, audience, fmt), compute
    )
    return await _rendered(report, fmt, f"annual-report-{country}-{year}", content=content)


@router.post(
    "/{year}/publications",
    status_code=201,
    response_model=PublicationRead,
    summary="Publish: freeze the public edition of the report as it is now",
    openapi_extra=if_match_exempt(
        "Creates a new frozen edition; earlier editions and the live report do not change."
    ),
)
async def publish(
    response: Response,
    caller: Publisher,
    session: SessionDep,
    year: int = YEAR,
    country: str = COUNTRY,
    settings: ReportingSettings = SettingsDep,
) -> PublicationRead:
    """Freezes the public edition of a year's report as it is now, once the year has ended; its
    ETag is the hash of the frozen JSON. Earlier editions and the live report do not change."""
    publication = await service.publish_annual_report(
        session, year, country, Audience(settings.min_cell_size), caller.subject
    )
    response.headers["location"] = f"/v1/reports/annual/{year}/publications/{publication.id}"
    response.headers["etag"] = f'"{publication.content_hash}"'
    return PublicationRead.of(publication)


@router.get(
    "/{year}/publications",
    response_model=Page[PublicationRead],
    summary="Published editions of a year's report",
)
async def list_publications(
    caller: Anyone,
    session: ReadSessionDep,
    year: int = YEAR,
    country: str | None = Query(None, pattern=r"^[A-Z]{2}$"),
    params: PageParams = Depends(service.PUBLICATION_SORTING.page_params),
) -> Page[PublicationRead]:
    """The frozen editions of a year's report, open to everyone."""
    rows, next_cursor = await service.list_publications(session, year, country, params, caller)
    items = [PublicationRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get(
    "/{year}/publications/{publication_id}",
    response_model=AnnualReport,
    responses=RENDERED,
    summary="A published edition, exactly as frozen (any format)",
)
async def get_publication(
    request: Request,
    publication_id: str,
    caller: Anyone,
    session: ReadSessionDep,
    year: int = YEAR,
    format: str | None = FORMAT,
) -> Response:
    """A frozen edition exactly as published, in any format; its JSON is the frozen bytes, and
    its ETag their hash."""
    fmt = render.negotiate(request.headers.get("accept"), format)
    publication = await service.get_publication(session, year, publication_id, caller)
    report = AnnualReport.of(publication)
    if fmt == "json":  # the frozen bytes' source, not a re-serialisation of the model
        return Response(
            service.canonical_json(publication.content),
            media_type="application/json",
            headers={"etag": f'"{publication.content_hash}"', "vary": "accept"},
        )
    return await _rendered(
        report, fmt, f"annual-report-{publication.country}-{year}", publication.content_hash
    )
