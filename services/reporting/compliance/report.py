"""A rates answer (clusters, compliance points or questions) in one statement.

Such an answer needs the assessment feed's cursor row (which keys the kept catalogue labels),
the summary (factories, mean share) and the grouped rates. As three statements each paid a
round trip, its driver and SQLAlchemy work, and on PostgreSQL, where reads run without a
transaction, each saw its own snapshot. Here they are one statement over one selection:

    summary (one row) LEFT JOIN cursor row (zero or one) LEFT JOIN grouped rates (zero or more)

so there is always a row, with the summary and the cursor repeated on each; a NULL code (codes
are NOT NULL) means no rates. The figures are the very expressions of
:func:`service.summary` and :func:`service.grouped_statement`, so they are equal to theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.compliance import service
from services.reporting.compliance.labels import CATALOG_STATE, Labels, labels_at
from services.reporting.compliance.schemas import (
    ClusterRate,
    CompliancePointRate,
    QuestionRate,
    Summary,
)
from services.reporting.disclosure import DisclosurePlan, plan
from services.reporting.models import (
    AssessmentCluster,
    AssessmentCompliancePoint,
    AssessmentQuestion,
)
from services.reporting.scope import Audience, ReportScope

Item = TypeVar("Item", ClusterRate, CompliancePointRate, QuestionRate)


@dataclass(frozen=True)
class Level(Generic[Item]):
    """What is rated: the per-assessment flag table, its code column, and how rows become
    items."""

    model: Any
    code_column: str
    items: Callable[
        [AsyncSession, Sequence[service.Grouped], DisclosurePlan, Labels], Awaitable[list[Item]]
    ]


CLUSTERS = Level[ClusterRate](AssessmentCluster, "cluster_code", service.cluster_items)
POINTS = Level[CompliancePointRate](
    AssessmentCompliancePoint, "compliance_point_code", service.compliance_point_items
)
QUESTIONS = Level[QuestionRate](AssessmentQuestion, "question_code", service.question_items)


@lru_cache(maxsize=512)
def _statement(scope: ReportScope, model: Any, code_column: str) -> Select[Any]:
    """Cached per scope and level like the statements it folds (building one, and the cache
    key SQLAlchemy derives from it, costs more than running it on small data)."""
    selected = service.selected_assessments(scope)
    figures = (
        select(
            func.count().label("factories"),
            func.avg(service.factory_share(selected)).label("average"),
        )
        .select_from(selected)
        .subquery("figures")
    )
    state = CATALOG_STATE.subquery("catalog_state")
    rates = service.grouped_statement(scope, model, code_column).subquery("rates")
    return select(
        state.c.last_event_id,
        state.c.last_event_at,
        state.c.updated_at,
        figures.c.factories,
        figures.c.average,
        rates.c.code,
        rates.c.assessed,
        rates.c.non_compliant,
    ).select_from(figures.outerjoin(state, true()).outerjoin(rates, true()))


async def rate_report(
    session: AsyncSession, scope: ReportScope, audience: Audience, level: Level[Item]
) -> tuple[Summary, list[Item]]:
    """The summary and the rates of ``level`` over ``scope`` (admitted already)."""
    # One plan serves both: the summary's depends on the year's factories alone, which the
    # item's plan reads too (and refuses an unpublished breakdown the same way).
    shown = await plan(session, scope, audience, (level.model, level.code_column))
    rows = (await session.execute(_statement(scope, level.model, level.code_column))).all()
    first = rows[0]
    # updated_at is NOT NULL: None means no cursor row (never synced).
    state = None if first.updated_at is None else tuple(first[:3])
    labels = await labels_at(session, scope.country, state)
    rated = [
        (code, int(assessed), int(non_compliant))
        for *_, code, assessed, non_compliant in rows
        if code is not None
    ]
    items = await level.items(session, rated, shown, labels)
    return service.summary_of(first.factories, first.average, shown), items
