"""Applies one change-feed event to the read model, idempotently.

Payloads are snapshots (docs/change-feed.md), so every apply is an upsert by id plus a
replacement of the aggregate's child rows: applying an event twice, or an older event again
after a crash, leaves the same rows. Events of unknown types are skipped, so a source may add
event types before reporting learns them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, not_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import (
    AdvisoryVisit,
    Assessment,
    AssessmentCluster,
    AssessmentCompliancePoint,
    AssessmentQuestion,
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
from services.reporting.vocabulary import WITHDRAWN_STATUSES, size_band_for

log = logging.getLogger("bw.reporting.sync")

Event = dict[str, Any]


@dataclass
class ApplyContext:
    """What one page's applies share: the question kinds of each catalog seen so far."""

    question_kinds: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _display_text(value: Any) -> str | None:
    """Question text as the report shows it: English if the source sends several languages."""
    if isinstance(value, dict):
        value = value.get("en") or next(iter(value.values()), None)
    return None if value is None else str(value)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


async def upsert(
    session: AsyncSession,
    model: type[ReportingTable],
    rows: list[dict[str, Any]],
    keys: Iterable[str] = ("id",),
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL alike."""
    if not rows:
        return
    table: Any = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    key_names = list(keys)
    changed = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key_names}
    if changed:
        statement = statement.on_conflict_do_update(index_elements=key_names, set_=changed)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=key_names)
    await session.execute(statement, rows)


async def insert_rows(
    session: AsyncSession, model: type[ReportingTable], rows: list[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]


# --- assessment feed -------------------------------------------------------------------------


async def apply_factory(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        Factory,
        [
            {
                "id": p["id"],
                "country": p.get("country"),
                "region": p.get("region"),
                "sector": p.get("sector"),
                "ownership": p.get("ownership"),
                "size_band": size_band_for(p.get("workforce_total")),
                "export_markets": list(p.get("export_markets") or []),
                "workforce_total": p.get("workforce_total"),
                "workforce_women": p.get("workforce_women"),
                "workforce_men": p.get("workforce_men"),
                "workforce_migrants": p.get("workforce_migrants"),
                "participation_status": p.get("participation_status"),
                "participation_start": parse_date(p.get("participation_start")),
            }
        ],
    )


async def apply_catalog(session: AsyncSession, event: Event, ctx: ApplyContext) -> None:
    p = event["payload"]
    catalog_id = p["id"]
    await upsert(
        session,
        Catalog,
        [
            {
                "id": catalog_id,
                "country": p.get("country"),
                "version": None if p.get("version") is None else str(p.get("version")),
                "status": p.get("status"),
                "published_at": parse_datetime(p.get("published_at")),
                "previous_catalog_id": p.get("previous_catalog_id"),
            }
        ],
    )
    for model in (CatalogCluster, CatalogCompliancePoint, CatalogQuestion):
        await session.execute(delete(model).where(col(model.catalog_id) == catalog_id))
    clusters: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    for cluster in p.get("clusters") or []:
        clusters.append(
            {
                "catalog_id": catalog_id,
                "code": cluster["code"],
                "name": cluster.get("name") or cluster["code"],
                "category": cluster.get("category"),
                "position": len(clusters),
            }
        )
        for point in cluster.get("compliance_points") or []:
            points.append(
                {
                    "catalog_id": catalog_id,
                    "code": point["code"],
                    "cluster_code": cluster["code"],
                    "name": point.get("name") or point["code"],
                    "position": len(points),
                }
            )
            for question in point.get("questions") or []:
                questions.append(
                    {
                        "catalog_id": catalog_id,
                        "code": question["code"],
                        "compliance_point_code": point["code"],
                        "cluster_code": cluster["code"],
                        "kind": question.get("kind") or "finding",
                        "previous_code": question.get("previous_code"),
                        "text": _display_text(question.get("text")),
                        "position": len(questions),
                    }
                )
    await insert_rows(session, CatalogCluster, clusters)
    await insert_rows(session, CatalogCompliancePoint, points)
    await insert_rows(session, CatalogQuestion, questions)
    ctx.question_kinds[catalog_id] = {q["code"]: q["kind"] for q in questions}


async def _question_kinds(
    session: AsyncSession, catalog_id: str | None, ctx: ApplyContext
) -> dict[str, str]:
    if catalog_id is None:
        return {}
    if catalog_id not in ctx.question_kinds:
        rows = await session.execute(
            select(col(CatalogQuestion.code), col(CatalogQuestion.kind)).where(
                col(CatalogQuestion.catalog_id) == catalog_id
            )
        )
        ctx.question_kinds[catalog_id] = {code: kind for code, kind in rows.all()}
    return ctx.question_kinds[catalog_id]


def reduce_findings(
    assessment_id: str, findings: list[dict[str, Any]], kinds: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The methodology's steps 2, 3 and 6 at ingest: drop information-only questions, flag a CP
    non-compliant when any of its questions has a finding, a cluster when any of its CPs is."""
    questions: dict[str, dict[str, Any]] = {}
    for finding in findings:
        code = finding["question_code"]
        if finding.get("non_compliant") is None or kinds.get(code) == "information":
            continue
        questions[code] = {
            "assessment_id": assessment_id,
            "question_code": code,
            "compliance_point_code": finding["compliance_point_code"],
            "cluster_code": finding["cluster_code"],
            "non_compliant": bool(finding["non_compliant"]),
        }
    points: dict[str, dict[str, Any]] = {}
    for q in questions.values():
        point = points.setdefault(
            q["compliance_point_code"],
            {
                "assessment_id": assessment_id,
                "compliance_point_code": q["compliance_point_code"],
                "cluster_code": q["cluster_code"],
                "non_compliant": False,
            },
        )
        point["non_compliant"] = point["non_compliant"] or q["non_compliant"]
    clusters: dict[str, dict[str, Any]] = {}
    for point in points.values():
        cluster = clusters.setdefault(
            point["cluster_code"],
            {
                "assessment_id": assessment_id,
                "cluster_code": point["cluster_code"],
                "non_compliant": False,
            },
        )
        cluster["non_compliant"] = cluster["non_compliant"] or point["non_compliant"]
    return list(questions.values()), list(points.values()), list(clusters.values())


async def apply_assessment(session: AsyncSession, event: Event, ctx: ApplyContext) -> None:
    p = event["payload"]
    assessment_id = p["id"]
    table: Any = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    existing = (
        (await session.execute(select(table).where(table.c.id == assessment_id)))
        .mappings()
        .one_or_none()
    )
    country = p.get("country") or (existing["country"] if existing else None)
    if country is None:
        country = await session.scalar(
            select(col(Factory.country)).where(col(Factory.id) == p["factory_id"])
        )
    visit_end = parse_date(p.get("visit_end"))
    visit_start = parse_date(p.get("visit_start"))
    row: dict[str, Any] = {
        "id": assessment_id,
        "factory_id": p["factory_id"],
        "catalog_id": p.get("catalog_id"),
        "country": country,
        "cycle": p.get("cycle"),
        "status": p.get("status"),
        "visit_type": p.get("visit_type"),
        "visit_start": visit_start,
        "visit_end": visit_end,
        "day": visit_end or visit_start,
        "published_at": parse_datetime(p.get("published_at")),
        "revision": p.get("revision") or 1,
        "supersedes_id": p.get("supersedes_id"),
        "superseded": False,
        "counted": False,
        "has_findings": bool(existing and existing["has_findings"]),
        "compliance_points_applicable": existing["compliance_points_applicable"] if existing else 0,
        "compliance_points_non_compliant": (
            existing["compliance_points_non_compliant"] if existing else 0
        ),
    }
    findings = p.get("findings")
    if findings is not None:
        kinds = await _question_kinds(session, p.get("catalog_id"), ctx)
        questions, points, clusters = reduce_findings(assessment_id, findings, kinds)
        for model in (AssessmentQuestion, AssessmentCompliancePoint, AssessmentCluster):
            await session.execute(delete(model).where(col(model.assessment_id) == assessment_id))
        await insert_rows(session, AssessmentQuestion, questions)
        await insert_rows(session, AssessmentCompliancePoint, points)
        await insert_rows(session, AssessmentCluster, clusters)
        row["has_findings"] = True
        row["compliance_points_applicable"] = len(points)
        row["compliance_points_non_compliant"] = sum(1 for x in points if x["non_compliant"])
    await upsert(session, Assessment, [row])
    is_published = row["has_findings"] and row["published_at"] is not None
    if row["supersedes_id"] and is_published:
        await session.execute(
            update(table).where(table.c.id == row["supersedes_id"]).values(superseded=True)
        )
    # Superseded only by a published correction; a later revision may have been applied first
    # (a replay after a crash), so ask rather than assume.
    successor = table.alias("successor")
    published_successor = select(successor.c.id).where(
        successor.c.supersedes_id == assessment_id,
        successor.c.has_findings.is_(True),
        successor.c.published_at.is_not(None),
    )
    await session.execute(
        update(table)
        .where(table.c.id == assessment_id)
        .values(superseded=exists(published_successor))
    )
    ids = [assessment_id] + ([row["supersedes_id"]] if row["supersedes_id"] else [])
    await session.execute(
        update(table)
        .where(table.c.id.in_(ids))
        .values(
            counted=and_(
                table.c.has_findings,
                table.c.published_at.is_not(None),
                not_(table.c.superseded),
                table.c.status.is_(None) | table.c.status.not_in(WITHDRAWN_STATUSES),
            )
        )
    )


# --- training feed ---------------------------------------------------------------------------


async def apply_course(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        Course,
        [
            {
                "id": p["id"],
                "code": p.get("code"),
                "title": p.get("title"),
                "topic": p.get("topic"),
                "duration_days": p.get("duration_days"),
                "audience": p.get("audience"),
            }
        ],
    )


async def apply_training_session(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    participants = p.get("participants") or {}
    by_sex = participants.get("by_sex") or {}
    by_role = participants.get("by_role") or {}
    await upsert(
        session,
        TrainingSession,
        [
            {
                "id": p["id"],
                "course_id": p.get("course_id"),
                "course_topic": p.get("course_topic"),
                "start_date": parse_date(p.get("start_date")),
                "end_date": parse_date(p.get("end_date")),
                "delivery": p.get("delivery"),
                "participants_total": _int(participants.get("total")),
                "participants_female": _int(by_sex.get("female")),
                "participants_male": _int(by_sex.get("male")),
                "participants_worker": _int(by_role.get("worker")),
                "participants_supervisor": _int(by_role.get("supervisor")),
                "participants_manager": _int(by_role.get("manager")),
                "participants_worker_representative": _int(by_role.get("worker_representative")),
                "participants_completed": _int(participants.get("completed")),
            }
        ],
    )
    await session.execute(
        delete(TrainingSessionFactory).where(col(TrainingSessionFactory.session_id) == p["id"])
    )
    await insert_rows(
        session,
        TrainingSessionFactory,
        [
            {"session_id": p["id"], "factory_id": f}
            for f in dict.fromkeys(p.get("factory_ids") or [])
        ],
    )


async def apply_advisory_visit(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        AdvisoryVisit,
        [
            {
                "id": p["id"],
                "factory_id": p.get("factory_id"),
                "visit_date": parse_date(p.get("visit_date")),
                "topics": p.get("topics"),
                "compliance_point_codes": p.get("compliance_point_codes"),
            }
        ],
    )


async def apply_committee(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    members = p.get("members") or {}
    await upsert(
        session,
        Committee,
        [
            {
                "id": p["id"],
                "factory_id": p.get("factory_id"),
                "members_total": _int(members.get("total")),
                "members_women": _int(members.get("women")),
                "members_men": _int(members.get("men")),
            }
        ],
    )


async def apply_committee_meeting(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        CommitteeMeeting,
        [
            {
                "id": p["id"],
                "committee_id": p.get("committee_id"),
                "factory_id": p.get("factory_id"),
                "meeting_date": parse_date(p.get("meeting_date")),
                "attendees_total": _int(p.get("attendees_total")),
                "attendees_women": _int(p.get("attendees_women")),
            }
        ],
    )


async def apply_improvement_plan(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await session.execute(
        delete(ImprovementPlanItem).where(col(ImprovementPlanItem.plan_id) == p["id"])
    )
    await upsert(
        session,
        ImprovementPlanItem,
        [
            {
                "id": item["id"],
                "plan_id": p["id"],
                "factory_id": p.get("factory_id"),
                "assessment_id": p.get("assessment_id"),
                "compliance_point_code": item.get("compliance_point_code"),
                "finding_question_code": item.get("finding_question_code"),
                "status": item.get("status"),
                "due_date": parse_date(item.get("due_date")),
                "completed_at": parse_date(item.get("completed_at")),
            }
            for item in p.get("items") or []
        ],
    )


async def apply_seminar(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        Seminar,
        [
            {
                "id": p["id"],
                "kind": p.get("kind"),
                "event_date": parse_date(p.get("event_date")),
                "topic": p.get("topic"),
                "organisations": p.get("organisations"),
                "participants_women": _int(p.get("participants_women")),
                "participants_men": _int(p.get("participants_men")),
            }
        ],
    )


Applier = Callable[[AsyncSession, Event, ApplyContext], Awaitable[None]]

APPLIERS: dict[str, Applier] = {
    "factory": apply_factory,
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
