"""Findings rules: answers only for questions of the assessment's own CAT version, only while
the assessment is in progress or in draft; a bad submission names every bad code and stores
nothing; every accepted write bumps the assessment's version. Results follow
findings/methodology.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.assessments.service import snapshot
from services.assessment.assessments.state_machine import FINDINGS_OPEN
from services.assessment.catalogs.service import load_structure
from services.assessment.events import emit
from services.assessment.findings.methodology import QuestionInfo, compute_results
from services.assessment.findings.schemas import (
    ClusterResultRead,
    CompliancePointResultRead,
    FindingBody,
    FindingIn,
    ResultsRead,
)
from services.assessment.models import Assessment, Catalog, CatalogQuestion, Finding
from services.common.auth import Principal
from services.common.etag import commit_update
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, conflict, not_found

INFORMATION = "information"


# The orders this list offers (``sort``); ties fall back to the unique key.
FINDING_SORTING = Sorting(
    Finding.question_code,
    key_name="question_code",
    cluster_code=Finding.cluster_code,
    compliance_point_code=Finding.compliance_point_code,
    recorded_at=Finding.recorded_at,
)


def finding_errors(
    questions: dict[str, CatalogQuestion],
    items: Sequence[FindingIn],
    elsewhere: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Every reason to reject ``items``; ``elsewhere`` names the other CAT versions that hold a
    code this one lacks, so the error says "wrong version" rather than just "unknown"."""
    elsewhere = elsewhere or {}
    errors: list[dict[str, Any]] = []
    counts = Counter(item.question_code for item in items)
    for index, item in enumerate(items):
        code = item.question_code
        location = f"body.findings.{index}"
        question = questions.get(code)
        if question is None:
            other = elsewhere.get(code)
            message = (
                f"question {code!r} belongs to another CAT version ({', '.join(other)}), "
                "not this assessment's"
                if other
                else f"unknown question code {code!r}"
            )
            errors.append(
                {
                    "location": f"{location}.question_code",
                    "message": message,
                    "type": "other_catalog_question" if other else "unknown_question",
                    "question_code": code,
                }
            )
            continue
        if counts[code] > 1:
            errors.append(
                {
                    "location": f"{location}.question_code",
                    "message": f"question {code!r} is answered {counts[code]} times",
                    "type": "duplicate_question",
                    "question_code": code,
                }
            )
        if question.kind == INFORMATION and item.non_compliant is not None:
            errors.append(
                {
                    "location": f"{location}.non_compliant",
                    "message": f"question {code!r} is information-only: send value, not "
                    "non_compliant",
                    "type": "information_only",
                    "question_code": code,
                }
            )
        if question.kind != INFORMATION and item.non_compliant is None:
            errors.append(
                {
                    "location": f"{location}.non_compliant",
                    "message": f"question {code!r} needs non_compliant true or false",
                    "type": "missing",
                    "question_code": code,
                }
            )
    return errors


async def _questions(
    session: AsyncSession, catalog_id: str, codes: set[str]
) -> dict[str, CatalogQuestion]:
    """The catalogue's questions among ``codes`` (only those: one finding reads one row)."""
    rows = await session.execute(
        select(CatalogQuestion).where(
            col(CatalogQuestion.catalog_id) == catalog_id,
            col(CatalogQuestion.code).in_(codes),
        )
    )
    return {q.code: q for q in rows.scalars()}


async def _other_versions(
    session: AsyncSession, catalog_id: str, codes: set[str]
) -> dict[str, list[str]]:
    if not codes:
        return {}
    rows = await session.execute(
        select(
            col(CatalogQuestion.code), col(Catalog.id), col(Catalog.country), col(Catalog.number)
        )
        .join(Catalog, col(Catalog.id) == CatalogQuestion.catalog_id)
        .where(col(CatalogQuestion.code).in_(codes), col(Catalog.id) != catalog_id)
    )
    found: dict[str, list[str]] = {}
    for code, other_id, country, number in rows.all():
        found.setdefault(code, []).append(f"{other_id} ({country} v{number})")
    return found


async def _validate(
    session: AsyncSession, assessment: Assessment, items: Sequence[FindingIn]
) -> dict[str, CatalogQuestion]:
    if assessment.status not in FINDINGS_OPEN:
        raise conflict(
            f"Findings are recorded while an assessment is in_progress or draft; "
            f"{assessment.id} is {assessment.status}.",
            status_now=assessment.status,
        )
    questions = await _questions(
        session, assessment.catalog_id, {item.question_code for item in items}
    )
    missing = {i.question_code for i in items if i.question_code not in questions}
    elsewhere = await _other_versions(session, assessment.catalog_id, missing)
    errors = finding_errors(questions, items, elsewhere)
    if errors:
        foreign = {"unknown_question", "other_catalog_question"}
        bad_codes = sorted({e["question_code"] for e in errors if e["type"] in foreign})
        detail = f"{len(errors)} problem(s) in the findings; nothing was stored."
        if bad_codes:
            detail += f" Not questions of this assessment's CAT: {', '.join(bad_codes)}."
        raise Problem(
            422,
            detail,
            title="Invalid findings",
            errors=errors,
            invalid_question_codes=bad_codes,
        )
    return questions


def _row(assessment_id: str, question: CatalogQuestion, item: FindingBody, who: str) -> dict:  # type: ignore[type-arg]
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
    return count


async def replace_findings(
    session: AsyncSession,
    assessment: Assessment,
    items: Sequence[FindingIn],
    principal: Principal,
) -> int:
    """Store the whole set in one transaction (bulk insert); returns how many are stored."""
    questions = await _validate(session, assessment, items)
    await session.execute(delete(Finding).where(col(Finding.assessment_id) == assessment.id))
    rows = [_row(assessment.id, questions[i.question_code], i, principal.subject) for i in items]
    if rows:
        await session.execute(insert(Finding), rows)
    return await _commit_with_new_version(session, assessment)


async def put_finding(
    session: AsyncSession,
    assessment: Assessment,
    question_code: str,
    body: FindingBody,
    principal: Principal,
) -> Finding:
    item = FindingIn(question_code=question_code, **body.model_dump())
    questions = await _validate(session, assessment, [item])
    values = _row(assessment.id, questions[question_code], body, principal.subject)
    existing = (
        await session.execute(
            select(Finding).where(
                col(Finding.assessment_id) == assessment.id,
                col(Finding.question_code) == question_code,
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        existing = Finding(**values)
        session.add(existing)
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    await _commit_with_new_version(session, assessment)
    return existing


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
