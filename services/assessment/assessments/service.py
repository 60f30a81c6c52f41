"""Assessment rules: creation against a published CAT, the computed cycle, the lifecycle with its
history, immutability once published, and corrections as new revisions."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BindParameter, Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from services.assessment.access import assessment_filter, catalog_visible, hidden
from services.assessment.assessments.schemas import (
    AssessmentCreate,
    AssessmentUpdate,
)
from services.assessment.assessments.state_machine import (
    FINAL,
    IllegalTransition,
    Status,
    allowed_transitions,
    check_transition,
)
from services.assessment.events import emit
from services.assessment.models import (
    Assessment,
    AssessmentTransition,
    Catalog,
    Factory,
    Finding,
)
from services.common.auth import Principal
from services.common.etag import commit_update, stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate, select_rows
from services.common.problems import Problem, already_exists, conflict
from services.common.scope import in_country_scope

# The orders these lists offer (``sort``); ties fall back to the unique key.
TRANSITION_SORTING = Sorting(AssessmentTransition.id, occurred_at=AssessmentTransition.occurred_at)
ASSESSMENT_SORTING = Sorting(
    Assessment.id,
    factory_id=Assessment.factory_id,
    cycle=Assessment.cycle,
    status=Assessment.status,
    visit_start=Assessment.visit_start,
    created_at=Assessment.created_at,
    updated_at=Assessment.updated_at,
)


def snapshot(assessment: Assessment) -> dict[str, Any]:
    """The change-feed payload (no findings) of docs/change-feed.md, plus additive fields."""
    return {
        "id": assessment.id,
        "factory_id": assessment.factory_id,
        "catalog_id": assessment.catalog_id,
        "cycle": assessment.cycle,
        "status": assessment.status,
        "visit_type": assessment.visit_type,
        "visit_start": assessment.visit_start.isoformat(),
        "visit_end": assessment.visit_end.isoformat(),
        "published_at": assessment.published_at.isoformat() if assessment.published_at else None,
        "revision": assessment.revision,
        "supersedes_id": assessment.supersedes_id,
        "person_days": assessment.person_days,
        "version": assessment.version,
    }


def published_payload(
    assessment: Assessment, country: str, findings: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``assessment.published`` payload: the snapshot, the country and every finding as
    {question_code, compliance_point_code, cluster_code, non_compliant, value}."""
    return {**snapshot(assessment), "country": country, "findings": findings}


async def published_snapshot(session: AsyncSession, assessment: Assessment) -> dict[str, Any]:
    factory = await session.get(Factory, assessment.factory_id)
    assert factory is not None
    findings = (
        await session.execute(
            select(Finding)
            .where(col(Finding.assessment_id) == assessment.id)
            .order_by(Finding.question_code)
        )
    ).scalars()
    return published_payload(
        assessment,
        factory.country,
        [
            {
                "question_code": f.question_code,
                "compliance_point_code": f.compliance_point_code,
                "cluster_code": f.cluster_code,
                "non_compliant": f.non_compliant,
                "value": f.value,
            }
            for f in findings
        ],
    )


def visible_assessment(
    assessment_id: str | BindParameter[str], principal: Principal, *, lock: bool = False
) -> Select[Assessment]:
    """The statement :func:`get_assessment` runs: the assessment, if the caller may see it. A
    caller may add columns and outer joins to read more in the same statement, and keep the
    statement for callers alike with the id as a bound parameter (a finding's write does)."""
    stmt = (
        select(Assessment)
        .join(Factory, col(Factory.id) == Assessment.factory_id)
        .where(col(Assessment.id) == assessment_id, assessment_filter(principal))
    )
    if lock:
        stmt = stmt.with_for_update(of=Assessment).execution_options(populate_existing=True)
    return stmt


async def get_assessment(
    session: AsyncSession, assessment_id: str, principal: Principal, *, lock: bool = False
) -> Assessment:
    """The assessment if the caller may see it, else 404. ``lock`` holds its row until commit
    (PostgreSQL), so findings writes and status changes of one assessment never interleave."""
    stmt = visible_assessment(assessment_id, principal, lock=lock)
    assessment = (await session.execute(stmt)).scalar_one_or_none()
    if assessment is None:
        raise hidden("Assessment", assessment_id)
    return assessment


def _record(
    assessment: Assessment,
    from_status: str | None,
    to_status: str,
    principal: Principal,
    reason: str | None,
) -> AssessmentTransition:
    return AssessmentTransition(
        assessment_id=assessment.id,
        from_status=from_status,
        to_status=to_status,
        actor=principal.subject,
        actor_role=principal.role,
        reason=reason,
    )


async def create_assessment(
    session: AsyncSession, data: AssessmentCreate, principal: Principal
) -> Assessment:
    # Lock the factory row: two assessments created at once must not get the same cycle.
    factory = (
        await session.execute(
            select(Factory).where(col(Factory.id) == data.factory_id).with_for_update()
        )
    ).scalar_one_or_none()
    catalog = await session.get(Catalog, data.catalog_id)
    # Outside the caller's country, a factory or catalogue is as unknown as a missing one.
    if factory is not None and not in_country_scope(principal, factory.country):
        factory = None
    if catalog is not None and not catalog_visible(principal, catalog):
        catalog = None
    errors = []
    if factory is None:
        errors.append({"location": "body.factory_id", "message": "unknown factory"})
    if catalog is None:
        errors.append({"location": "body.catalog_id", "message": "unknown catalogue"})
    elif catalog.status != Status.published:
        errors.append({"location": "body.catalog_id", "message": "catalogue is not published"})
    elif factory is not None and catalog.country != factory.country:
        errors.append(
            {
                "location": "body.catalog_id",
                "message": f"catalogue is for {catalog.country}, factory is in {factory.country}",
            }
        )
    if errors:
        raise Problem(
            422,
            "; ".join(e["message"] for e in errors) + ".",
            title="Validation failed",
            errors=[{**e, "type": "invalid_reference"} for e in errors],
        )
    assert factory is not None
    latest_cycle = await session.execute(
        select(func.max(Assessment.cycle)).where(
            col(Assessment.factory_id) == factory.id,
            col(Assessment.supersedes_id).is_(None),
            col(Assessment.status) != Status.cancelled,
        )
    )
    assessment = Assessment(
        id=new_id("asm"),
        cycle=(latest_cycle.scalar_one_or_none() or 0) + 1,
        status=Status.scheduled,
        **data.model_dump(mode="json"),
    )
    # model_dump(mode="json") gave ISO strings for dates; the columns want dates.
    assessment.visit_start, assessment.visit_end = data.visit_start, data.visit_end
    session.add(assessment)
    await session.flush()
    session.add(_record(assessment, None, Status.scheduled, principal, None))
    await emit(session, "assessment.created", assessment.id, snapshot(assessment))
    await session.commit()
    return assessment


def _require_open(assessment: Assessment) -> None:
    if assessment.status in FINAL:
        raise conflict(
            f"Assessment {assessment.id} is {assessment.status} and can no longer change"
            + (
                "; create a revision to correct it."
                if assessment.status == Status.published
                else "."
            ),
            status_now=assessment.status,
        )


async def update_assessment(
    session: AsyncSession, assessment: Assessment, data: AssessmentUpdate
) -> Assessment:
    _require_open(assessment)
    changes = data.model_dump(exclude_unset=True)
    nullable = {"person_days"}
    if any(v is None for k, v in changes.items() if k not in nullable):
        raise Problem(422, "Only person_days may be set to null.", title="Validation failed")
    start: date = changes.get("visit_start", assessment.visit_start)
    end: date = changes.get("visit_end", assessment.visit_end)
    if end < start:
        raise Problem(422, "visit_end is before visit_start.", title="Validation failed")
    await commit_update(
        session,
        assessment,
        changes,
        lambda: emit(session, "assessment.updated", assessment.id, snapshot(assessment)),
    )
    return assessment


async def transition(
    session: AsyncSession,
    assessment: Assessment,
    target: Status,
    principal: Principal,
    reason: str | None = None,
) -> Assessment:
    """Move along the state machine, recording who and when; publishing freezes the findings."""
    current = assessment.status
    try:
        check_transition(current, target)
    except IllegalTransition as exc:
        raise conflict(
            str(exc),
            "illegal-transition",
            status_now=current,
            allowed_transitions=allowed_transitions(current),
        ) from exc
    if target == Status.published:
        count = await session.execute(
            select(func.count())
            .select_from(Finding)
            .where(col(Finding.assessment_id) == assessment.id)
        )
        if count.scalar_one() == 0:
            raise conflict(
                "An assessment without findings cannot be published.", "illegal-transition"
            )
        assessment.published_at = utcnow()
    assessment.status = target
    assessment.updated_at = utcnow()
    async with stale_write_guard():
        await session.flush()
        session.add(_record(assessment, current, target, principal, reason))
        if target == Status.published:
            payload = await published_snapshot(session, assessment)
            await emit(session, "assessment.published", assessment.id, payload)
        else:
            await emit(session, "assessment.status_changed", assessment.id, snapshot(assessment))
        await session.commit()
    return assessment


async def create_revision(
    session: AsyncSession, original: Assessment, principal: Principal, reason: str | None
) -> Assessment:
    """A correction of a published assessment: a new draft that supersedes it, with its
    findings copied; the published one stays as it was."""
    if original.status != Status.published:
        raise conflict(
            f"Only a published assessment is corrected by a revision; {original.id} is "
            f"{original.status} and can still be changed directly."
        )
    newer = await session.execute(
        select(col(Assessment.id)).where(
            col(Assessment.supersedes_id) == original.id, col(Assessment.status) != Status.cancelled
        )
    )
    if (existing := newer.scalar_one_or_none()) is not None:
        raise already_exists(
            f"Assessment {original.id} already has revision {existing}; correct that one.",
            revision_id=existing,
        )
    revision = Assessment(
        id=new_id("asm"),
        factory_id=original.factory_id,
        catalog_id=original.catalog_id,
        cycle=original.cycle,
        revision=original.revision + 1,
        supersedes_id=original.id,
        status=Status.draft,
        visit_type=original.visit_type,
        visit_start=original.visit_start,
        visit_end=original.visit_end,
        assessors=list(original.assessors),
        person_days=original.person_days,
        process_integrity=dict(original.process_integrity),
    )
    session.add(revision)
    await session.flush()
    findings = (
        await session.execute(select(Finding).where(col(Finding.assessment_id) == original.id))
    ).scalars()
    session.add_all(
        Finding(
            assessment_id=revision.id,
            question_code=f.question_code,
            compliance_point_code=f.compliance_point_code,
            cluster_code=f.cluster_code,
            non_compliant=f.non_compliant,
            value=f.value,
            notes=f.notes,
            evidence=list(f.evidence),
            recorded_by=f.recorded_by,
            recorded_at=f.recorded_at,
        )
        for f in findings
    )
    session.add(
        _record(revision, None, Status.draft, principal, reason or f"revision of {original.id}")
    )
    await emit(session, "assessment.created", revision.id, snapshot(revision))
    await session.commit()
    return revision


async def list_assessments(
    connection: AsyncConnection,
    params: PageParams,
    principal: Principal,
    *,
    factory_id: str | None = None,
    status: str | None = None,
    cycle: int | None = None,
    catalog_id: str | None = None,
    visit_from: date | None = None,
    visit_to: date | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """A page of the assessments the caller may see, as rows of the table (the list answers
    read models only)."""
    stmt = (
        select_rows(Assessment)
        .join(Factory, col(Factory.id) == Assessment.factory_id)
        .where(assessment_filter(principal))
    )
    filters: list[tuple[Any, Any]] = [
        (Assessment.factory_id, factory_id),
        (Assessment.status, status),
        (Assessment.cycle, cycle),
        (Assessment.catalog_id, catalog_id),
    ]
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    if visit_from is not None:
        stmt = stmt.where(col(Assessment.visit_start) >= visit_from)
    if visit_to is not None:
        stmt = stmt.where(col(Assessment.visit_start) <= visit_to)
    rows, next_cursor = await paginate(connection, stmt, ASSESSMENT_SORTING, params)
    return list(rows), next_cursor


async def list_transitions(
    session: AsyncSession, assessment_id: str, params: PageParams
) -> tuple[list[AssessmentTransition], str | None]:
    stmt = select(AssessmentTransition).where(
        col(AssessmentTransition.assessment_id) == assessment_id
    )
    rows, next_cursor = await paginate(session, stmt, TRANSITION_SORTING, params)
    return list(rows), next_cursor
