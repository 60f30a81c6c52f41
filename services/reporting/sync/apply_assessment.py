"""Appliers for the assessment service's feed: factories, catalogues, assessments (with the
per-question, per-compliance-point and per-cluster flags computed at ingest)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, exists, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import (
    Assessment,
    AssessmentCluster,
    AssessmentCompliancePoint,
    AssessmentQuestion,
    Catalog,
    CatalogCluster,
    CatalogCompliancePoint,
    CatalogQuestion,
    Factory,
)
from services.reporting.sync.rows import (
    ApplyContext,
    Event,
    display_text,
    insert_rows,
    parse_date,
    parse_datetime,
    upsert,
)
from services.reporting.vocabulary import WITHDRAWN_STATUSES, size_band_for


async def apply_factory(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    # Registration: the payload's created_at if the source sends one, else the time of the
    # factory.created event; an update never moves it.
    registered_at = parse_datetime(p.get("created_at"))
    if registered_at is None and event.get("event_type") == "factory.created":
        registered_at = parse_datetime(event.get("occurred_at"))
    if registered_at is None:
        registered_at = await session.scalar(
            select(col(Factory.registered_at)).where(col(Factory.id) == p["id"])
        )
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
                "registered_at": registered_at,
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
                "title": p.get("title"),
                "status": p.get("status"),
                "status_note": None if p.get("status_note") is None else str(p["status_note"]),
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
                        "text": display_text(question.get("text")),
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
