"""The Better Work non-compliance methodology over the read model.

1. Each factory's latest counted assessment in the scope (window, or cycle), per period when a
   trend is asked for; 2-3, 6. information-only questions were dropped and the CP and cluster
   flags were computed at ingest (sync/apply.py); 4-5. rate = non-compliant factories / factories
   assessed, for every CP, cluster and question; 7. a factory's own figure is the share of its
   applicable CPs that are non-compliant (stored per assessment), averaged here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import FromClause
from sqlmodel import col

from services.reporting.compliance.labels import Labels, catalog_labels
from services.reporting.compliance.schemas import (
    ClusterRate,
    CompliancePointRate,
    QuestionRate,
    Summary,
    Withheld,
)
from services.reporting.compliance.selection import Period, selected_assessments
from services.reporting.disclosure import DisclosurePlan, plan
from services.reporting.models import (
    AssessmentCluster,
    AssessmentCompliancePoint,
    AssessmentQuestion,
)
from services.reporting.scope import Audience, ReportScope

# Step 1 lives in selection.py and the labels in labels.py; callers use them from here.
__all__ = ["Labels", "Period", "catalog_labels", "selected_assessments"]


def rate_fields(assessed: int, non_compliant: int, withheld: Withheld | None) -> dict[str, Any]:
    if withheld is not None:
        return {
            "factories_assessed": assessed,
            "factories_non_compliant": None,
            "non_compliance_rate": None,
            "withheld": withheld,
        }
    return {
        "factories_assessed": assessed,
        "factories_non_compliant": non_compliant,
        "non_compliance_rate": non_compliant / assessed if assessed else None,
        "withheld": None,
    }


def count_non_compliant(column: Any) -> Any:
    return func.sum(case((column.is_(True), 1), else_=0))


def factory_share(selected: FromClause) -> Any:
    """Step 7: the share of a factory's applicable CPs on which it is non-compliant."""
    return selected.c.points_non_compliant * 1.0 / func.nullif(selected.c.points_applicable, 0)


@lru_cache(maxsize=512)
def _summary_statement(scope: ReportScope) -> Select[Any]:
    selected = selected_assessments(scope)
    return select(func.count(), func.avg(factory_share(selected))).select_from(selected)


async def summary(session: AsyncSession, scope: ReportScope, audience: Audience) -> Summary:
    factories, average = (await session.execute(_summary_statement(scope))).one()
    return summary_of(factories, average, await plan(session, scope, audience))


def summary_of(factories: int, average: Any, shown: DisclosurePlan) -> Summary:
    """The summary from its two figures (count and mean share of the selected assessments)."""
    withheld = shown.summary_withheld(0)
    return Summary(
        factories_assessed=int(factories),
        average_share_of_compliance_points_non_compliant=(
            None if withheld or average is None else float(average)
        ),
        withheld=withheld,
    )


Grouped = tuple[str, int, int]
"""One grouped row as the items are built from it: code, factories assessed, non-compliant."""


async def _grouped(
    session: AsyncSession, scope: ReportScope, model: Any, code_column: str
) -> list[Grouped]:
    statement = grouped_statement(scope, model, code_column)
    # Unpacked, not read by name: a Row's attribute lookup costs several times its unpacking.
    return [
        (code, int(assessed), int(non_compliant))
        for _period, code, assessed, non_compliant in (await session.execute(statement)).all()
    ]


@lru_cache(maxsize=512)
def grouped_statement(scope: ReportScope, model: Any, code_column: str) -> Select[Any]:
    """Cached like :func:`selected_assessments`, which it is built on.

    A semi-join (``assessment_id IN selected``) grouped by code alone: the same rows as a join
    (one selected assessment per factory, so the join repeats none), but SQLite sorts only the
    codes, not the joined rows: the question rates took 2.5x longer as a join.
    """
    selected = selected_assessments(scope)
    code = getattr(model, code_column)
    return (
        select(
            literal(0).label("period"),
            code.label("code"),
            func.count().label("assessed"),
            count_non_compliant(model.non_compliant).label("non_compliant"),
        )
        .where(model.assessment_id.in_(select(selected.c.assessment_id)))
        .group_by(code)
    )


async def cluster_rates(
    session: AsyncSession, scope: ReportScope, audience: Audience, labels: Labels
) -> list[ClusterRate]:
    rows = await _grouped(session, scope, AssessmentCluster, "cluster_code")
    shown = await plan(session, scope, audience, (AssessmentCluster, "cluster_code"))
    return await cluster_items(session, rows, shown, labels)


async def cluster_items(
    session: AsyncSession, rows: Sequence[Grouped], shown: DisclosurePlan, labels: Labels
) -> list[ClusterRate]:
    """Grouped rows as cluster rates in catalogue order."""
    return [
        ClusterRate(
            cluster_code=code,
            cluster_name=labels.cluster_name(code),
            category=labels.clusters.get(code, {}).get("category"),
            **rate_fields(assessed, non_compliant, shown.withheld(0, code, assessed)),
        )
        for code, assessed, non_compliant in sorted(rows, key=lambda r: labels.cluster_order(r[0]))
    ]


async def compliance_point_rates(
    session: AsyncSession, scope: ReportScope, audience: Audience, labels: Labels
) -> list[CompliancePointRate]:
    item = (AssessmentCompliancePoint, "compliance_point_code")
    rows = await _grouped(session, scope, *item)
    shown = await plan(session, scope, audience, item)
    return await compliance_point_items(session, rows, shown, labels)


async def compliance_point_items(
    session: AsyncSession, rows: Sequence[Grouped], shown: DisclosurePlan, labels: Labels
) -> list[CompliancePointRate]:
    """Grouped rows as CP rates in catalogue order; a CP no known catalogue names takes the
    cluster recorded with its findings (one more statement, only then)."""
    named = {code: labels.points.get(code, {}).get("cluster_code") for code, _, _ in rows}
    # Only CPs that no known catalogue names need the scan of every recorded CP.
    clusters = await _point_clusters(session) if not all(named.values()) else {}
    cluster_of = {code: cluster or clusters.get(code, "") for code, cluster in named.items()}
    ordered = sorted(
        rows,
        key=lambda r: (labels.cluster_order(cluster_of[r[0]]), labels.point_order(r[0])),
    )
    return [
        CompliancePointRate(
            compliance_point_code=code,
            compliance_point_name=labels.point_name(code),
            cluster_code=cluster_of[code],
            cluster_name=labels.cluster_name(cluster_of[code]),
            **rate_fields(assessed, non_compliant, shown.withheld(0, code, assessed)),
        )
        for code, assessed, non_compliant in ordered
    ]


async def _point_clusters(session: AsyncSession) -> dict[str, str]:
    """CP -> cluster as recorded with the findings, for CPs no known catalogue names."""
    stmt = select(
        col(AssessmentCompliancePoint.compliance_point_code),
        col(AssessmentCompliancePoint.cluster_code),
    ).distinct()
    return {code: cluster for code, cluster in (await session.execute(stmt)).all()}


async def question_rates(
    session: AsyncSession, scope: ReportScope, audience: Audience, labels: Labels
) -> list[QuestionRate]:
    rows = await _grouped(session, scope, AssessmentQuestion, "question_code")
    shown = await plan(session, scope, audience, (AssessmentQuestion, "question_code"))
    return await question_items(session, rows, shown, labels)


async def question_items(
    session: AsyncSession, rows: Sequence[Grouped], shown: DisclosurePlan, labels: Labels
) -> list[QuestionRate]:
    """Grouped rows as question rates in catalogue order."""
    questions = labels.questions

    def order(row: Grouped) -> tuple[Any, ...]:
        question = questions.get(row[0], {})
        return (
            labels.cluster_order(question.get("cluster_code", "")),
            labels.point_order(question.get("compliance_point_code", "")),
            question.get("position", 10_000),
            row[0],
        )

    items = []
    for code, assessed, non_compliant in sorted(rows, key=order):
        question = questions.get(code, {})
        point = question.get("compliance_point_code", "")
        items.append(
            QuestionRate(
                question_code=code,
                question_text=question.get("text"),
                compliance_point_code=point,
                compliance_point_name=labels.point_name(point),
                cluster_code=question.get("cluster_code", ""),
                **rate_fields(assessed, non_compliant, shown.withheld(0, code, assessed)),
            )
        )
    return items
