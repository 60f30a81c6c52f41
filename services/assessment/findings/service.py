"""Findings rules: answers only for questions of the assessment's own CAT version, only while
the assessment is in progress or in draft; a bad submission names every bad code and stores
nothing; every accepted write bumps the assessment's version. Results follow
findings/methodology.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Select, Table, and_, bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import col

from services.assessment.access import hidden
from services.assessment.assessments.service import snapshot, visible_assessment
from services.assessment.catalogs.service import load_structure
from services.assessment.events import emit
from services.assessment.findings.methodology import QuestionInfo, compute_results
from services.assessment.findings.schemas import (
    ClusterResultRead,
    CompliancePointResultRead,
    FindingBody,
    FindingIn,
    FindingRead,
    ResultsRead,
)
from services.assessment.findings.validation import (
    Question,
    finding_errors,
    other_versions,
    refuse,
    require_open,
    validate,
)
from services.assessment.models import Assessment, CatalogQuestion, Finding
from services.common.auth import Principal
from services.common.etag import commit_update
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import not_found

# The orders this list offers (``sort``); ties fall back to the unique key.
FINDING_SORTING = Sorting(
    Finding.question_code,
    key_name="question_code",
    cluster_code=Finding.cluster_code,
    compliance_point_code=Finding.compliance_point_code,
    recorded_at=Finding.recorded_at,
)


def _row(
    assessment_id: str, question: CatalogQuestion | Question, item: FindingBody, who: str
) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "question_code": question.code,
        "compliance_point_code": question.compliance_point_code,
        "cluster_code": question.cluster_code,
        "non_compliant": item.non_compliant,
        "value": item.value,
        "notes": item.notes,
        "evidence": list(item.evidence),
        "recorded_by": who,
        "recorded_at": utcnow(),
    }


async def _commit_with_new_version(session: AsyncSession, assessment: Assessment) -> int:
    """Commit the findings with the assessment's version bumped and its ``assessment.updated``
    event (carrying the new version and the findings count), in one transaction. The version
    UPDATE checks the version read, so a writer that raced past If-Match gets 412 and its
    findings roll back. Returns how many findings the assessment now has."""
    await session.flush()  # the findings, so that the count sees them
    count = int(
        (
            await session.execute(
                select(func.count())
                .select_from(Finding)
                .where(col(Finding.assessment_id) == assessment.id)
            )
        ).scalar_one()
    )
    await _commit_counted(session, assessment, count)
    return count


async def _commit_counted(session: AsyncSession, assessment: Assessment, count: int) -> None:
    """Commit with the assessment's version bumped and its ``assessment.updated`` event, which
    carries the new version and the findings count."""
    await commit_update(
        session,
        assessment,
        {},
        lambda: emit(
            session,
            "assessment.updated",
            assessment.id,
            {**snapshot(assessment), "findings_count": count},
        ),
    )


async def replace_findings(
    session: AsyncSession,
    assessment: Assessment,
    items: Sequence[FindingIn],
    principal: Principal,
) -> int:
    """Store the whole set in one transaction (bulk insert); returns how many are stored."""
    questions = await validate(session, assessment, items)
    await session.execute(delete(Finding).where(col(Finding.assessment_id) == assessment.id))
    rows = [_row(assessment.id, questions[i.question_code], i, principal.subject) for i in items]
    if rows:
        await session.execute(insert(Finding), rows)
    return await _commit_with_new_version(session, assessment)


class FindingTarget(NamedTuple):
    """What a one-finding write reads before it writes, in one statement: the assessment
    (locked) and its CAT's question of that code, None when the CAT has no such question."""

    assessment: Assessment
    question: Question | None


@lru_cache(maxsize=256)
def _target_statement(scope: Principal) -> Select[Any]:
    """:func:`finding_target`'s statement for callers who see what ``scope`` sees (a principal
    without its subject), with the assessment id and question code bound at execution: built
    once per kind of caller, not per request."""
    return (
        visible_assessment(bindparam("assessment_id"), scope, lock=True)
        .outerjoin(
            CatalogQuestion,
            and_(
                col(CatalogQuestion.catalog_id) == Assessment.catalog_id,
                col(CatalogQuestion.code) == bindparam("question_code"),
            ),
        )
        .add_columns(
            col(CatalogQuestion.kind),
            col(CatalogQuestion.compliance_point_code),
            col(CatalogQuestion.cluster_code),
        )
    )


async def finding_target(
    session: AsyncSession, assessment_id: str, question_code: str, principal: Principal
) -> FindingTarget:
    """The assessment if the caller may see it (else 404), locked as :func:`get_assessment`
    locks it, read with the question the finding answers."""
    stmt = _target_statement(replace(principal, subject=""))
    params = {"assessment_id": assessment_id, "question_code": question_code}
    row = (await session.execute(stmt, params)).one_or_none()
    if row is None:
        raise hidden("Assessment", assessment_id)
    assessment, kind, point, cluster = row
    question = None if kind is None else Question(question_code, kind, point, cluster)
    return FindingTarget(assessment, question)


# What a replaced finding takes from the new one: every column but its key (and its id).
_REPLACED = (
    "compliance_point_code",
    "cluster_code",
    "non_compliant",
    "value",
    "notes",
    "evidence",
    "recorded_by",
    "recorded_at",
)


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> ReturningInsert[int]:
    """INSERT of one finding that replaces the assessment's finding of the same question (ON
    CONFLICT DO UPDATE, on SQLite and PostgreSQL alike), returning how many findings of other
    questions the assessment has: the count for its event without a statement of its own. The
    count leaves the written row out, so it is the same whether or not the statement's own
    row is visible to it; and it is taken by the write, after the assessment's lock was granted
    (a count in the locked SELECT would, on PostgreSQL, come from the snapshot taken before
    waiting for the lock and miss findings committed meanwhile). On PostgreSQL a replacing
    upsert still draws an id from the sequence, unused (ids are never shown). Built once per
    dialect; values are bound at execution."""
    table: Table = Finding.__table__  # type: ignore[attr-defined]
    other = table.alias("other")
    others = (
        select(func.count())
        .select_from(other)
        .where(
            other.c.assessment_id == bindparam("others_of"),
            other.c.question_code != bindparam("others_than"),
        )
        .scalar_subquery()
    )
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.assessment_id, table.c.question_code],
        set_={name: upsert.excluded[name] for name in _REPLACED},
    ).returning(others)


async def put_finding(
    session: AsyncSession,
    target: FindingTarget,
    question_code: str,
    body: FindingBody,
    principal: Principal,
) -> FindingRead:
    """Record or replace one finding: one statement writes it and counts the others, then the
    assessment's version and event are committed with it (:func:`_commit_with_new_version`'s
    rules: a writer that raced past If-Match gets 412 and its finding rolls back)."""
    assessment, question = target
    item = FindingIn(question_code=question_code, **body.model_dump())
    require_open(assessment)
    if question is None:
        elsewhere = await other_versions(session, assessment.catalog_id, {question_code})
        raise refuse(finding_errors({}, [item], elsewhere))
    if errors := finding_errors({question_code: question}, [item]):
        raise refuse(errors)
    values = _row(assessment.id, question, body, principal.subject)
    written = await session.execute(
        _upsert(session.get_bind().dialect.name),
        {**values, "others_of": assessment.id, "others_than": question_code},
    )
    count = written.scalar_one() + 1
    await _commit_counted(session, assessment, count)
    return FindingRead.model_validate(values)


async def list_findings(
    session: AsyncSession, assessment_id: str, params: PageParams
) -> tuple[list[Finding], str | None]:
    stmt = select(Finding).where(col(Finding.assessment_id) == assessment_id)
    rows, next_cursor = await paginate(session, stmt, FINDING_SORTING, params)
    return list(rows), next_cursor


async def get_finding(session: AsyncSession, assessment_id: str, question_code: str) -> Finding:
    finding = (
        await session.execute(
            select(Finding).where(
                col(Finding.assessment_id) == assessment_id,
                col(Finding.question_code) == question_code,
            )
        )
    ).scalar_one_or_none()
    if finding is None:
        raise not_found("Finding", f"{assessment_id}/{question_code}")
    return finding


async def results(session: AsyncSession, assessment: Assessment) -> ResultsRead:
    structure = await load_structure(session, assessment.catalog_id)
    answers = dict(
        (
            await session.execute(
                select(col(Finding.question_code), col(Finding.non_compliant)).where(
                    col(Finding.assessment_id) == assessment.id
                )
            )
        ).all()
    )
    computed = compute_results(
        (
            QuestionInfo(q.code, q.kind, q.compliance_point_code, q.cluster_code)
            for q in structure.questions
        ),
        answers,
    )
    cluster_names = {c.code: c.name for c in structure.clusters}
    point_names = {p.code: p.name for p in structure.points}
    return ResultsRead(
        assessment_id=assessment.id,
        catalog_id=assessment.catalog_id,
        status=assessment.status,
        compliance_points_assessed=computed.compliance_points_assessed,
        compliance_points_non_compliant=computed.compliance_points_non_compliant,
        non_compliance_rate=computed.non_compliance_rate,
        clusters=[
            ClusterResultRead(
                code=cluster.code,
                name=cluster_names.get(cluster.code, cluster.code),
                assessed=cluster.assessed,
                non_compliant=cluster.non_compliant,
                compliance_points_assessed=cluster.compliance_points_assessed,
                compliance_points_non_compliant=cluster.compliance_points_non_compliant,
                compliance_points=[
                    CompliancePointResultRead(
                        code=cp.code,
                        name=point_names.get(cp.code, cp.code),
                        assessed=cp.assessed,
                        non_compliant=cp.non_compliant,
                        questions_answered=cp.questions_answered,
                        non_compliant_questions=cp.non_compliant_questions,
                    )
                    for cp in cluster.compliance_points
                ],
            )
            for cluster in computed.clusters
        ],
    )
