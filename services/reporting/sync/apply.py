"""Applies one change-feed event to the read model, idempotently.

Payloads are snapshots (docs/change-feed.md), so every apply is an upsert by id plus a
replacement of the aggregate's child rows: applying an event twice, or an older event again
after a crash, leaves the same rows. Events of unknown types are skipped, so a source may add
event types before reporting learns them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import (
    AdvisoryVisit,
    Assessment,
    AssessmentCluster,
    AssessmentCompliancePoint,
    AssessmentQuestion,
    BrandConsent,
    Catalog,
    CatalogCluster,
    CatalogCompliancePoint,
    CatalogQuestion,
    Committee,
    CommitteeMeeting,
    Course,
    Factory,
    ImprovementPlanItem,
    ReportingTable,
    Seminar,
    TrainingSession,
    TrainingSessionFactory,
)
from services.reporting.sync.apply_assessment import apply_assessment, apply_catalog, apply_factory
from services.reporting.sync.apply_training import (
    apply_advisory_visit,
    apply_committee,
    apply_committee_meeting,
    apply_course,
    apply_improvement_plan,
    apply_seminar,
    apply_training_session,
)
from services.reporting.sync.rows import ApplyContext, Event, parse_datetime, upsert

__all__ = ["ApplyContext", "Event", "apply_event", "parse_datetime"]

log = logging.getLogger("bw.reporting.sync")


Applier = Callable[[AsyncSession, Event, ApplyContext], Awaitable[None]]


async def apply_consent(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    """A factory's consent to share with a brand; webhooks read it to decide what a brand
    subscription may receive (services/reporting/webhooks/access.py)."""
    payload = event["payload"]
    row = {
        "id": event["aggregate_id"],
        "factory_id": payload["factory_id"],
        "brand_id": payload["brand_id"],
        "revoked_at": parse_datetime(payload.get("revoked_at")),
    }
    await upsert(session, BrandConsent, [row])


APPLIERS: dict[str, Applier] = {
    "factory": apply_factory,
    "consent": apply_consent,
    "catalog": apply_catalog,
    "assessment": apply_assessment,
    "course": apply_course,
    "training_session": apply_training_session,
    "advisory_visit": apply_advisory_visit,
    "committee": apply_committee,
    "committee_meeting": apply_committee_meeting,
    "improvement_plan": apply_improvement_plan,
    "seminar": apply_seminar,
}

# What a ``<type>.deleted`` event removes: the aggregate's row and the rows hanging off it.
DELETIONS: dict[str, list[tuple[type[ReportingTable], str]]] = {
    "factory": [(Factory, "id")],
    "consent": [(BrandConsent, "id")],
    "catalog": [
        (CatalogQuestion, "catalog_id"),
        (CatalogCompliancePoint, "catalog_id"),
        (CatalogCluster, "catalog_id"),
        (Catalog, "id"),
    ],
    "assessment": [
        (AssessmentQuestion, "assessment_id"),
        (AssessmentCompliancePoint, "assessment_id"),
        (AssessmentCluster, "assessment_id"),
        (Assessment, "id"),
    ],
    "course": [(Course, "id")],
    "training_session": [(TrainingSessionFactory, "session_id"), (TrainingSession, "id")],
    "advisory_visit": [(AdvisoryVisit, "id")],
    "committee": [(Committee, "id")],
    "committee_meeting": [(CommitteeMeeting, "id")],
    "improvement_plan": [(ImprovementPlanItem, "plan_id")],
    "seminar": [(Seminar, "id")],
}


async def apply_event(session: AsyncSession, event: Event, ctx: ApplyContext) -> bool:
    """Apply one event; False when reporting does not use events of this type."""
    aggregate_type = event["aggregate_type"]
    if event["event_type"].endswith(".deleted"):
        targets = DELETIONS.get(aggregate_type)
        if targets is None:
            return False
        for model, column in targets:
            table: Any = model.__table__  # type: ignore[attr-defined]
            await session.execute(delete(table).where(table.c[column] == event["aggregate_id"]))
        return True
    applier = APPLIERS.get(aggregate_type)
    if applier is None:
        log.debug("skipped event", extra={"event_type": event["event_type"]})
        return False
    await applier(session, event, ctx)
    return True
