"""Step 1 of the methodology: which assessment stands for each factory in a scope.

Kept apart from the rates so that the disclosure rule can count the same factories the figures
rest on without importing the figures themselves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Integer, Select, Subquery, case, cast, extract, func, literal, select

from services.common.text_filters import text_equals
from services.reporting.models import Assessment, Factory
from services.reporting.scope import ReportScope

Period = Literal["cycle", "year"] | None


@lru_cache(maxsize=512)
def selected_assessments(scope: ReportScope, by: Period = None) -> Subquery:
    """Each factory's latest counted assessment in scope (per cycle or year if asked).

    Cached per scope: SQLAlchemy statements are immutable, and building this one (and the
    cache key SQLAlchemy derives from it to find its compiled SQL) cost more per report
    request than running it on the demo data. A scope is a few filter values, so few differ.
    """
    a: Any = Assessment
    period = _period(by)
    partition = [a.factory_id] if by is None else [a.factory_id, period]
    stmt = _in_scope(
        select(
            a.id.label("assessment_id"),
            a.factory_id.label("factory_id"),
            period.label("period"),
            a.compliance_points_applicable.label("points_applicable"),
            a.compliance_points_non_compliant.label("points_non_compliant"),
            _latest_first(partition).label("position"),
        ),
        scope,
    )
    ranked = stmt.subquery("ranked")
    return (
        select(
            ranked.c.assessment_id,
            ranked.c.factory_id,
            ranked.c.period,
            ranked.c.points_applicable,
            ranked.c.points_non_compliant,
        )
        .where(ranked.c.position == 1)
        .subquery("selected")
    )


@lru_cache(maxsize=512)
def latest_per_cycle_and_year(scope: ReportScope) -> Subquery:
    """The assessments :func:`selected_assessments` picks by cycle or by year, in one pass.

    ``in_cycle`` / ``in_year`` (1 or 0) say for which of the two it stands; an assessment that
    is its factory's latest both in its cycle and in its year (the usual case) is one row."""
    a: Any = Assessment
    cycle, year = _period("cycle"), _period("year")
    stmt = _in_scope(
        select(
            a.id.label("assessment_id"),
            cycle.label("cycle"),
            year.label("year"),
            a.compliance_points_applicable.label("points_applicable"),
            a.compliance_points_non_compliant.label("points_non_compliant"),
            _latest_first([a.factory_id, cycle]).label("cycle_position"),
            _latest_first([a.factory_id, year]).label("year_position"),
        ),
        scope,
    )
    ranked = stmt.subquery("ranked_twice")
    first = literal(1)
    return (
        select(
            ranked.c.assessment_id,
            ranked.c.cycle,
            ranked.c.year,
            ranked.c.points_applicable,
            ranked.c.points_non_compliant,
            case((ranked.c.cycle_position == first, 1), else_=0).label("in_cycle"),
            case((ranked.c.year_position == first, 1), else_=0).label("in_year"),
        )
        .where((ranked.c.cycle_position == first) | (ranked.c.year_position == first))
        .subquery("latest_twice")
    )


def _period(by: Period) -> Any:
    a: Any = Assessment
    return {
        None: literal(0),
        "cycle": a.cycle,
        "year": cast(extract("year", a.day), Integer),
    }[by]


def _latest_first(partition: list[Any]) -> Any:
    a: Any = Assessment
    return func.row_number().over(
        partition_by=partition,
        order_by=(a.day.desc().nulls_last(), a.published_at.desc().nulls_last(), a.id.desc()),
    )


def _in_scope(stmt: Select[Any], scope: ReportScope) -> Select[Any]:
    """Counted assessments within the scope's filters."""
    a: Any = Assessment
    stmt = stmt.where(a.counted.is_(True))
    if scope.region or scope.size_band or scope.ownership:
        f: Any = Factory
        stmt = stmt.join(f, f.id == a.factory_id)
        if scope.region:
            stmt = stmt.where(text_equals(f.region, scope.region))
        if scope.size_band:
            stmt = stmt.where(f.size_band == scope.size_band)
        if scope.ownership:
            stmt = stmt.where(text_equals(f.ownership, scope.ownership))
    if scope.country:
        stmt = stmt.where(a.country == scope.country)
    if scope.date_from:
        stmt = stmt.where(a.day >= scope.date_from)
    if scope.date_to:
        stmt = stmt.where(a.day <= scope.date_to)
    if scope.cycle is not None:
        stmt = stmt.where(a.cycle == scope.cycle)
    return stmt
