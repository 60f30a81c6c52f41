"""CAT rules: import (API and `bw catalog import` share this code), draft -> published, and a
published version never changes. A version may map its questions to the previous version
(``previous_code``) so trends survive a change of version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col

from services.assessment.access import catalog_visible, require_country
from services.assessment.catalogs.importing import content_rows, validate
from services.assessment.catalogs.schemas import (
    CatalogImport,
    CatalogRead,
    CatalogSummary,
    ThresholdIn,
)
from services.assessment.events import emit
from services.assessment.models import (
    Catalog,
    CatalogCluster,
    CatalogCompliancePoint,
    CatalogQuestion,
    LegalThreshold,
)
from services.common.auth import Principal
from services.common.etag import stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, conflict, not_found
from services.common.scope import country_scope_filter

DRAFT, PUBLISHED = "draft", "published"


# The orders this list offers (``sort``); ties fall back to the unique key.
CATALOG_SORTING = Sorting(
    Catalog.id, country=Catalog.country, status=Catalog.status, created_at=Catalog.created_at
)


@dataclass
class CatalogStructure:
    """A catalogue version loaded whole: what findings are validated and results computed on."""

    catalog: Catalog
    clusters: list[CatalogCluster]
    points: list[CatalogCompliancePoint]
    questions: list[CatalogQuestion]
    thresholds: list[LegalThreshold] = field(default_factory=list)

    def questions_by_code(self) -> dict[str, CatalogQuestion]:
        return {q.code: q for q in self.questions}


# --- pure rules ------------------------------------------------------------------------------


def threshold_in_force(
    thresholds: list[LegalThreshold] | list[ThresholdIn], name: str, day: date
) -> Any | None:
    """The threshold called ``name`` in force on ``day`` (the latest that started by then)."""
    candidates = [
        t
        for t in thresholds
        if t.name == name and t.valid_from <= day and (t.valid_to is None or day <= t.valid_to)
    ]
    return max(candidates, key=lambda t: t.valid_from) if candidates else None


async def load_structure(
    session: AsyncSession, catalog_id: str, principal: Principal | None = None
) -> CatalogStructure:
    """The whole version; with ``principal``, 404 unless the caller may see it."""
    catalog = await session.get(Catalog, catalog_id)
    if catalog is None or (principal is not None and not catalog_visible(principal, catalog)):
        raise not_found("Catalog", catalog_id)

    async def rows(model: Any) -> list[Any]:
        stmt = select(model).where(model.catalog_id == catalog_id)
        if hasattr(model, "position"):
            stmt = stmt.order_by(model.position)
        return list((await session.execute(stmt)).scalars())

    return CatalogStructure(
        catalog=catalog,
        clusters=await rows(CatalogCluster),
        points=await rows(CatalogCompliancePoint),
        questions=await rows(CatalogQuestion),
        thresholds=await rows(LegalThreshold),
    )


def snapshot(structure: CatalogStructure) -> dict[str, Any]:
    """The change-feed payload of docs/change-feed.md."""
    catalog = structure.catalog
    read = CatalogRead.of(structure)
    return {
        "id": catalog.id,
        "country": catalog.country,
        "version": catalog.number,
        "title": catalog.title,
        "status": catalog.status,
        "status_note": catalog.meta.get("status"),
        "published_at": catalog.published_at.isoformat() if catalog.published_at else None,
        "previous_catalog_id": catalog.previous_catalog_id,
        "clusters": [
            {
                "code": cluster.code,
                "name": cluster.name,
                "category": cluster.category,
                "compliance_points": [
                    {
                        "code": point.code,
                        "name": point.name,
                        "questions": [
                            {
                                "code": q.code,
                                "kind": q.kind,
                                "previous_code": q.previous_code,
                                "text": q.text.en,
                                "texts": q.text.model_dump(),
                            }
                            for q in point.questions
                        ],
                    }
                    for point in cluster.compliance_points
                ],
            }
            for cluster in read.clusters
        ],
    }


async def get_catalog(session: AsyncSession, catalog_id: str, principal: Principal) -> Catalog:
    """The version if the caller may see it, else 404: decided before any If-Match is read."""
    catalog = await session.get(Catalog, catalog_id)
    if catalog is None or not catalog_visible(principal, catalog):
        raise not_found("Catalog", catalog_id)
    return catalog


async def list_catalogs(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    country: str | None = None,
    status: str | None = None,
) -> tuple[list[CatalogSummary], str | None]:
    stmt = select(Catalog).where(country_scope_filter(principal, col(Catalog.country)))
    if country:
        stmt = stmt.where(col(Catalog.country) == country)
    if status:
        stmt = stmt.where(col(Catalog.status) == status)
    rows, next_cursor = await paginate(session, stmt, CATALOG_SORTING, params)
    ids = [r.id for r in rows]
    counts = dict(
        (
            await session.execute(
                select(col(CatalogQuestion.catalog_id), func.count())
                .where(col(CatalogQuestion.catalog_id).in_(ids))
                .group_by(CatalogQuestion.catalog_id)
            )
        ).all()
    )
    items = [CatalogSummary.of(r, counts.get(r.id, 0)) for r in rows]
    return items, next_cursor


# --- writing ---------------------------------------------------------------------------------


async def import_catalog(
    session: AsyncSession, data: CatalogImport, principal: Principal
) -> CatalogStructure:
    """Store a new draft version: the next number for its country."""
    require_country(principal, data.country)
    await validate(session, data)
    latest = await session.execute(
        select(func.max(Catalog.number)).where(col(Catalog.country) == data.country)
    )
    catalog = Catalog(
        id=new_id("cat"),
        country=data.country,
        number=(latest.scalar_one_or_none() or 0) + 1,
        title=data.title or data.meta.get("title"),
        previous_catalog_id=data.previous_catalog_id,
        meta=data.meta,
    )
    session.add(catalog)
    session.add_all(content_rows(catalog.id, data))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise conflict(
            "Another catalogue version was imported at the same time; retry.", "concurrent-change"
        ) from exc
    structure = await load_structure(session, catalog.id)
    await emit(session, "catalog.created", catalog.id, snapshot(structure))
    await session.commit()
    return structure


def _require_draft(catalog: Catalog) -> None:
    if catalog.status == PUBLISHED:
        raise conflict(
            f"Catalog {catalog.id} is published and can no longer change; import a new version "
            "that names it as previous_catalog_id.",
        )


async def replace_catalog(
    session: AsyncSession, catalog: Catalog, data: CatalogImport, principal: Principal
) -> CatalogStructure:
    """Replace a draft's content (not its country or number)."""
    _require_draft(catalog)
    if data.country != catalog.country:
        raise Problem(422, "A catalogue's country cannot change.", title="Validation failed")
    await validate(session, data)
    for model in (LegalThreshold, CatalogQuestion, CatalogCompliancePoint, CatalogCluster):
        await session.execute(delete(model).where(col(model.catalog_id) == catalog.id))
    catalog.title = data.title or data.meta.get("title")
    catalog.previous_catalog_id = data.previous_catalog_id
    catalog.meta = data.meta
    flag_modified(catalog, "meta")  # the row's version must move even if only children changed
    session.add_all(content_rows(catalog.id, data))
    async with stale_write_guard():
        await session.flush()
    structure = await load_structure(session, catalog.id)
    await emit(session, "catalog.updated", catalog.id, snapshot(structure))
    await session.commit()
    return structure


async def publish_catalog(
    session: AsyncSession, catalog: Catalog, principal: Principal
) -> CatalogStructure:
    _require_draft(catalog)
    catalog.status = PUBLISHED
    catalog.published_at = utcnow()
    async with stale_write_guard():
        await session.flush()
    structure = await load_structure(session, catalog.id)
    await emit(session, "catalog.published", catalog.id, snapshot(structure))
    await session.commit()
    return structure
