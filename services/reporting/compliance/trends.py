"""Trends: the methodology's rates per cycle (each factory's n-th assessment) or per calendar
year, with an 'ALL' point per period (factories assessed, their average share of CPs found
non-compliant). Cycles are no published period (docs/disclosure-control.md): audiences other
than admin and staff get none.

Each answer is one statement: the selection is a window over the whole history, the largest
part of a trend's cost, and it ran once for the rates and again for the period totals. The
annual report, which shows both kinds, gets them from one pass over the history as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import CompoundSelect, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.compliance.labels import Labels
from services.reporting.compliance.schemas import TrendPoint
from services.reporting.compliance.selection import (
    latest_per_cycle_and_year,
    selected_assessments,
)
from services.reporting.compliance.service import count_non_compliant, factory_share, rate_fields
from services.reporting.disclosure import DisclosurePlan, plan
from services.reporting.models import AssessmentCluster, AssessmentCompliancePoint
from services.reporting.scope import Audience, ReportScope

By = Literal["cycle", "year"]
Level = Literal["cluster", "compliance_point"]


def _item(level: Level) -> tuple[Any, str]:
    if level == "cluster":
        return (AssessmentCluster, "cluster_code")
    return (AssessmentCompliancePoint, "compliance_point_code")


@lru_cache(maxsize=512)
def _trend_statement(scope: ReportScope, level: Level, by: By) -> CompoundSelect[Any]:
    """Rows (by, period, code, assessed, non_compliant, average); code NULL: the period's
    factories and their average share."""
    model, code_column = _item(level)
    selected = select(*selected_assessments(scope, by).c).cte("trend_selected")
    code = getattr(model, code_column)
    rates = (
        select(
            literal(by).label("by"),
            selected.c.period,
            code.label("code"),
            func.count().label("assessed"),
            count_non_compliant(model.non_compliant).label("non_compliant"),
            null().label("average"),
        )
        .select_from(selected)
        .join(model, model.assessment_id == selected.c.assessment_id)
        .group_by(selected.c.period, code)
    )
    average = func.avg(factory_share(selected))
    totals = select(literal(by), selected.c.period, null(), func.count(), null(), average).group_by(
        selected.c.period
    )
    return union_all(rates, totals)


@lru_cache(maxsize=512)
def _both_trends_statement(scope: ReportScope, level: Level) -> CompoundSelect[Any]:
    """The rows of :func:`_trend_statement` by cycle and by year, from one pass: the history's
    window ranks each assessment in its cycle and in its year at once, and the join to the
    flags is grouped once per (cycle, year) before each kind adds its own periods up."""
    model, code_column = _item(level)
    picked = select(*latest_per_cycle_and_year(scope).c).cte("picked")
    code = getattr(model, code_column)
    cells = (
        select(
            picked.c.cycle,
            picked.c.year,
            picked.c.in_cycle,
            picked.c.in_year,
            code.label("code"),
            func.count().label("assessed"),
            count_non_compliant(model.non_compliant).label("non_compliant"),
        )
        .select_from(picked)
        .join(model, model.assessment_id == picked.c.assessment_id)
        .group_by(picked.c.cycle, picked.c.year, picked.c.in_cycle, picked.c.in_year, code)
        .cte("cells")
    )
    parts = []
    for by in ("cycle", "year"):
        period, chosen = cells.c[by], cells.c[f"in_{by}"]
        parts.append(
            select(
                literal(by).label("by"),
                period.label("period"),
                cells.c.code,
                func.sum(cells.c.assessed).label("assessed"),
                func.sum(cells.c.non_compliant).label("non_compliant"),
                null().label("average"),
            )
            .where(chosen == 1)
            .group_by(period, cells.c.code)
        )
        parts.append(
            select(
                literal(by),
                picked.c[by],
                null(),
                func.count(),
                null(),
                func.avg(factory_share(picked)),
            )
            .where(picked.c[f"in_{by}"] == 1)
            .group_by(picked.c[by])
        )
    return union_all(*parts)


def _points(
    rows: Iterable[Any], shown: DisclosurePlan, labels: Labels, level: Level
) -> list[TrendPoint]:
    name, order = (
        (labels.cluster_name, labels.cluster_order)
        if level == "cluster"
        else (labels.point_name, labels.point_order)
    )
    items = []
    for r in rows:
        if r.period is None or not shown.period_published(int(r.period)):
            continue
        period = int(r.period)
        if r.code is not None:
            withheld = shown.withheld(period, r.code, int(r.assessed))
            figures = rate_fields(int(r.assessed), int(r.non_compliant), withheld)
            items.append(TrendPoint(period=period, code=r.code, name=name(r.code), **figures))
            continue
        withheld = shown.summary_withheld(period)
        items.append(
            TrendPoint(
                period=period,
                code="ALL",
                name="All factories",
                factories_assessed=int(r.assessed),
                factories_non_compliant=None,
                non_compliance_rate=None,
                withheld=withheld,
                average_share_of_compliance_points_non_compliant=(
                    None if withheld or r.average is None else float(r.average)
                ),
            )
        )
    return sorted(items, key=lambda i: (i.period, i.code == "ALL", order(i.code)))


async def trends(
    session: AsyncSession,
    scope: ReportScope,
    audience: Audience,
    labels: Labels,
    by: By,
    level: Level,
) -> list[TrendPoint]:
    """Rates per cycle or per calendar year, plus 'ALL' per period."""
    if audience.is_public and by == "cycle":
        return []
    rows = (await session.execute(_trend_statement(scope, level, by))).all()
    shown = await plan(session, scope, audience, _item(level), by_year=True)
    return _points(rows, shown, labels, level)


async def trends_by_cycle_and_year(
    session: AsyncSession, scope: ReportScope, audience: Audience, labels: Labels, level: Level
) -> tuple[list[TrendPoint], list[TrendPoint]]:
    """``trends(..., "cycle", level)`` and ``trends(..., "year", level)``, in one statement."""
    if audience.is_public:  # no cycles: the year's trend alone
        return [], await trends(session, scope, audience, labels, "year", level)
    rows: Sequence[Any] = (await session.execute(_both_trends_statement(scope, level))).all()
    shown = await plan(session, scope, audience, _item(level), by_year=True)
    by_cycle = _points((r for r in rows if r.by == "cycle"), shown, labels, level)
    by_year = _points((r for r in rows if r.by == "year"), shown, labels, level)
    return by_cycle, by_year
