"""The rules of improvement plans, as plain functions: which items an assessment supports,
which status changes are allowed, what is overdue."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.problems import Problem
from services.training.assessment_client import AssessmentRef, unknown_references
from services.training.improvement_plans.schemas import ItemCreate
from services.training.vocabulary import ItemStatus

# Reopening a completed item is allowed (a regression found at the next visit); skipping back
# from completed straight to pending is not: it would erase that work was ever started.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    ItemStatus.PENDING: {ItemStatus.IN_PROGRESS, ItemStatus.COMPLETED},
    ItemStatus.IN_PROGRESS: {ItemStatus.PENDING, ItemStatus.COMPLETED},
    ItemStatus.COMPLETED: {ItemStatus.IN_PROGRESS},
}


def check_transition(current: str, wanted: str) -> None:
    if wanted not in ALLOWED_TRANSITIONS[current]:
        raise Problem(
            409,
            f"An item cannot move from {current} to {wanted}; allowed: "
            + ", ".join(sorted(ALLOWED_TRANSITIONS[current]))
            + ".",
            title="Status change not allowed",
        )


def is_overdue(status: str, due_date: date, as_of: date) -> bool:
    return status != ItemStatus.COMPLETED and due_date < as_of


def check_assessment(
    assessment: AssessmentRef | None, assessment_id: str, factory_id: str
) -> AssessmentRef:
    if assessment is None:
        raise unknown_references(
            [
                {
                    "location": "body.assessment_id",
                    "message": f"assessment {assessment_id!r} does not exist",
                    "value": assessment_id,
                }
            ]
        )
    if assessment.factory_id is not None and assessment.factory_id != factory_id:
        raise unknown_references(
            [
                {
                    "location": "body.assessment_id",
                    "message": f"assessment {assessment_id!r} is of factory "
                    f"{assessment.factory_id!r}, not {factory_id!r}",
                    "value": assessment_id,
                }
            ]
        )
    return assessment


def check_items(assessment: AssessmentRef, items: list[ItemCreate]) -> None:
    """Each item names a compliance point of the assessment and, if it names a finding, a
    non-compliance of that assessment under that compliance point."""
    errors: list[dict[str, Any]] = []
    known_points = assessment.compliance_point_codes()
    for index, item in enumerate(items):
        where = f"body.items.{index}"
        if item.compliance_point_code not in known_points:
            errors.append(
                {
                    "location": f"{where}.compliance_point_code",
                    "message": f"compliance point {item.compliance_point_code!r} is not in "
                    f"assessment {assessment.id!r}",
                    "value": item.compliance_point_code,
                }
            )
            continue
        if item.finding_question_code is None:
            continue
        message = _finding_problem(assessment, item)
        if message:
            errors.append(
                {
                    "location": f"{where}.finding_question_code",
                    "message": message,
                    "value": item.finding_question_code,
                }
            )
    if errors:
        raise unknown_references(errors)


def _finding_problem(assessment: AssessmentRef, item: ItemCreate) -> str | None:
    code = item.finding_question_code
    finding = assessment.finding(code or "")
    if finding is None:
        return f"finding {code!r} does not exist in assessment {assessment.id!r}"
    if finding.compliance_point_code != item.compliance_point_code:
        return (
            f"finding {code!r} belongs to compliance point {finding.compliance_point_code!r}, "
            f"not {item.compliance_point_code!r}"
        )
    if finding.non_compliant is None:
        return f"question {code!r} is information-only and has no finding to remedy"
    if finding.non_compliant is False:
        return f"question {code!r} was found compliant in assessment {assessment.id!r}"
    return None
