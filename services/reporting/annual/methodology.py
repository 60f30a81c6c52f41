"""What the report's methodology states about its inputs, worked out the way it says: which
factories count as participating in the year, and which CAT versions the figures rest on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import CompoundSelect
from sqlmodel import col

from services.reporting.annual.schemas import CatalogUsed
from services.reporting.compliance import service as compliance
from services.reporting.models import (
    AdvisoryVisit,
    Assessment,
    Catalog,
    CommitteeMeeting,
    Factory,
    TrainingSession,
    TrainingSessionFactory,
)
from services.reporting.scope import ReportScope
from services.reporting.vocabulary import WITHDRAWN_STATUSES


def _period(scope: ReportScope) -> tuple[date, date]:
    if scope.date_from is None or scope.date_to is None:
        raise ValueError("participation is counted over a closed period")
    return scope.date_from, scope.date_to


def participation_rule(scope: ReportScope) -> str:
    """The rule in words, for the methodology section."""
    date_from, date_to = _period(scope)
    end = f"{date_to:%d %B %Y}".lstrip("0")
    whole_year = (date_from, date_to) == (date(date_to.year, 1, 1), date(date_to.year, 12, 31))
    period = str(date_to.year) if whole_year else f"{date_from} to {date_to}"
    return (
        f"Participating factories are those in the programme during {period}: every active "
        f"factory that joined by {end} (its participation start or, where none is recorded, its "
        f"registration on the platform), and every factory assessed, visited by an advisor, "
        f"trained or holding a bipartite committee meeting in {period}. A factory that has "
        "since withdrawn or been suspended counts only through such activity, as the date it "
        "left is not recorded; factories registered after the period never count."
    )


def _active_in_period(date_from: date, date_to: date) -> CompoundSelect[str]:
    """Ids of factories with programme activity in the period (any of the four kinds)."""
    return union(
        select(col(Assessment.factory_id)).where(
            col(Assessment.day) >= date_from,
            col(Assessment.day) <= date_to,
            col(Assessment.status).is_(None) | col(Assessment.status).not_in(WITHDRAWN_STATUSES),
        ),
        select(col(AdvisoryVisit.factory_id)).where(
            col(AdvisoryVisit.visit_date) >= date_from, col(AdvisoryVisit.visit_date) <= date_to
        ),
        select(col(TrainingSessionFactory.factory_id))
        .join(TrainingSession, col(TrainingSession.id) == col(TrainingSessionFactory.session_id))
        .where(
            col(TrainingSession.start_date) >= date_from,
            col(TrainingSession.start_date) <= date_to,
        ),
        select(col(CommitteeMeeting.factory_id)).where(
            col(CommitteeMeeting.meeting_date) >= date_from,
            col(CommitteeMeeting.meeting_date) <= date_to,
        ),
    )


async def participating_factories(session: AsyncSession, scope: ReportScope) -> int:
    """The count participation_rule() describes, in the scope's country and period."""
    date_from, date_to = _period(scope)
    after_period = datetime.combine(date_to + timedelta(days=1), time.min, UTC)
    joined_by_end = or_(
        col(Factory.participation_start) <= date_to,
        and_(
            col(Factory.participation_start).is_(None),
            col(Factory.registered_at) < after_period,
        ),
    )
    active = col(Factory.participation_status).is_(None) | (
        col(Factory.participation_status) == "active"
    )
    active_ids = _active_in_period(date_from, date_to).subquery()
    count = await session.scalar(
        select(func.count())
        .select_from(Factory)
        .where(
            col(Factory.country) == scope.country,
            or_(and_(joined_by_end, active), col(Factory.id).in_(select(active_ids.c[0]))),
        )
    )
    return int(count or 0)


def catalog_label(catalog: CatalogUsed) -> str:
    name = catalog.title or "Compliance Assessment Tool"
    version = f", version {catalog.version}" if catalog.version else ""
    return f"{name}{version}" + (" (draft)" if catalog.draft else "")


def is_draft(status: str | None, status_note: str | None) -> bool:
    """A catalogue is a draft until published, and after if its author's note says so (a CAT
    published on the platform only so that assessments can use it)."""
    return status == "draft" or "draft" in (status_note or "").lower()


async def catalogs_used(session: AsyncSession, scope: ReportScope) -> list[CatalogUsed]:
    """The CAT versions behind the report's assessments, oldest version first."""
    selected = compliance.selected_assessments(scope)
    stmt = (
        select(Catalog)
        .join(Assessment, col(Assessment.catalog_id) == Catalog.id)
        .where(col(Assessment.id).in_(select(selected.c.assessment_id)))
        .distinct()
    )
    used = []
    for catalog in (await session.execute(stmt)).scalars():
        entry = CatalogUsed(
            id=catalog.id,
            title=catalog.title,
            version=catalog.version,
            status=catalog.status,
            status_note=catalog.status_note,
            draft=is_draft(catalog.status, catalog.status_note),
            label="",
        )
        used.append(entry.model_copy(update={"label": catalog_label(entry)}))
    return sorted(used, key=lambda c: (len(c.version or ""), c.version or "", c.id))
