"""What a finding may be: a question of the assessment's own CAT version, answered the way
its kind asks for (information-only: a value; otherwise non_compliant), once per submission,
while the assessment is in progress or in draft. A refusal names every bad code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.assessment.assessments.state_machine import FINDINGS_OPEN
from services.assessment.findings.schemas import FindingIn
from services.assessment.models import Assessment, Catalog, CatalogQuestion
from services.common.problems import Problem, conflict

INFORMATION = "information"


class QuestionKind(Protocol):
    """What validating a finding needs of its question (a CatalogQuestion will do)."""

    @property
    def kind(self) -> str: ...


class Question(NamedTuple):
    """The columns of a question that a finding copies or is checked against."""

    code: str
    kind: str
    compliance_point_code: str
    cluster_code: str


def finding_errors(
    questions: Mapping[str, QuestionKind],
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


async def questions_of(
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


async def other_versions(
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


def require_open(assessment: Assessment) -> None:
    if assessment.status not in FINDINGS_OPEN:
        raise conflict(
            f"Findings are recorded while an assessment is in_progress or draft; "
            f"{assessment.id} is {assessment.status}.",
            status_now=assessment.status,
        )


def refuse(errors: list[dict[str, Any]]) -> Problem:
    foreign = {"unknown_question", "other_catalog_question"}
    bad_codes = sorted({e["question_code"] for e in errors if e["type"] in foreign})
    detail = f"{len(errors)} problem(s) in the findings; nothing was stored."
    if bad_codes:
        detail += f" Not questions of this assessment's CAT: {', '.join(bad_codes)}."
    return Problem(
        422,
        detail,
        title="Invalid findings",
        errors=errors,
        invalid_question_codes=bad_codes,
    )


async def validate(
    session: AsyncSession, assessment: Assessment, items: Sequence[FindingIn]
) -> dict[str, CatalogQuestion]:
    require_open(assessment)
    questions = await questions_of(
        session, assessment.catalog_id, {item.question_code for item in items}
    )
    missing = {i.question_code for i in items if i.question_code not in questions}
    elsewhere = await other_versions(session, assessment.catalog_id, missing)
    errors = finding_errors(questions, items, elsewhere)
    if errors:
        raise refuse(errors)
    return questions
