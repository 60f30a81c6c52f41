"""Names and catalogue order of clusters, CPs and questions, loaded once per catalogue state.

Every rates request needs the labels, and they change only when the sync applies a catalogue
from the assessment feed, which moves that feed's cursor in the same transaction. So the labels
are kept per (database, country) with the cursor row they were read under, and that one row is
read again in each request (the request's own view, never a clock): a replica, or this process
after the sync, reloads as soon as its read shows another cursor. ``updated_at`` changes with
every commit of the cursor, so also a rebuild that replays a feed to the same event id reloads.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import (
    Catalog,
    CatalogCluster,
    CatalogCompliancePoint,
    CatalogQuestion,
    FeedCursor,
)

CATALOG_SOURCE = "assessment"  # catalogues arrive on the assessment service's feed
_PER_DATABASE = 32  # countries (and None) kept per database


@dataclass
class Labels:
    """Names of clusters, CPs and questions, the newest catalogue of the country winning."""

    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cluster_name(self, code: str) -> str:
        return str(self.clusters.get(code, {}).get("name", code))

    def point_name(self, code: str) -> str:
        return str(self.points.get(code, {}).get("name", code))

    def cluster_order(self, code: str) -> tuple[int, str]:
        return (self.clusters.get(code, {}).get("position", 10_000), code)

    def point_order(self, code: str) -> tuple[int, str]:
        return (self.points.get(code, {}).get("position", 10_000), code)


CATALOG_STATE = select(
    col(FeedCursor.last_event_id), col(FeedCursor.last_event_at), col(FeedCursor.updated_at)
).where(col(FeedCursor.source) == CATALOG_SOURCE)
"""The cursor row the labels are kept under; a rates answer may read it within its own
statement (compliance/report.py) and pass it to :func:`labels_at`."""

CatalogState = tuple[Any, ...]

# Keyed by the session's engine (a test database, a replica's pool): one process may serve
# several databases, whose cursors may well hold the same values.
_cache: WeakKeyDictionary[Any, OrderedDict[str | None, tuple[Any, Labels]]] = WeakKeyDictionary()


async def catalog_labels(session: AsyncSession, country: str | None) -> Labels:
    """The labels for ``country``, read again only when the catalogue feed has moved."""
    state = (await session.execute(CATALOG_STATE)).first()
    return await labels_at(session, country, None if state is None else tuple(state))


async def labels_at(
    session: AsyncSession, country: str | None, state: CatalogState | None
) -> Labels:
    """The labels for ``country`` under ``state``, the :data:`CATALOG_STATE` row this request
    read (None: no cursor row, never synced, nothing to keep): kept ones if read under the same
    row, else loaded now (in a later statement than ``state``, so never older than it)."""
    if state is None:
        return await load_labels(session, country)
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)  # a keyed request's session is bound to a connection
    kept = _cache.setdefault(engine, OrderedDict())
    hit = kept.get(country)
    if hit is not None and hit[0] == state:
        kept.move_to_end(country)
        return hit[1]
    labels = await load_labels(session, country)
    kept[country] = (state, labels)
    kept.move_to_end(country)
    while len(kept) > _PER_DATABASE:
        kept.popitem(last=False)
    return labels


async def load_labels(session: AsyncSession, country: str | None) -> Labels:
    """The labels as stored now: catalogues of the country (or of none), oldest first, so the
    newest catalogue's name and position of each code win."""
    stmt = select(col(Catalog.id))
    if country:
        stmt = stmt.where((col(Catalog.country) == country) | col(Catalog.country).is_(None))
    stmt = stmt.order_by(col(Catalog.published_at).asc().nulls_first(), Catalog.id)
    catalog_ids = list((await session.execute(stmt)).scalars())
    labels = Labels()
    if not catalog_ids:
        return labels
    order = {cid: i for i, cid in enumerate(catalog_ids)}
    for model, target in (
        (CatalogCluster, labels.clusters),
        (CatalogCompliancePoint, labels.points),
        (CatalogQuestion, labels.questions),
    ):
        # Plain rows, not ORM objects: a catalogue has hundreds of questions.
        table: Any = model.__table__  # type: ignore[union-attr]
        rows = (
            await session.execute(select(table).where(table.c.catalog_id.in_(catalog_ids)))
        ).mappings()
        for row in sorted(rows, key=lambda r: order[r["catalog_id"]]):
            target[row["code"]] = dict(row)
    return labels
