"""Disclosure control: the one rule by which aggregates reach audiences without factory-level
entitlement (anonymous, constituent, factory, brand, service). docs/disclosure-control.md says
why; every reporting endpoint passes its figures through here, none decides on its own.

1. Queries. Such an audience names a country and a published period: a calendar year that has
   ended. Free date windows, cycles and crossed breakdowns are for programme staff, because two
   overlapping windows differ by the few factories assessed in between. At most one breakdown
   (region, size_band or ownership) is allowed, and only a published value of it.
2. Published cells. For each country and year the published cells are fixed by the data, not
   by who asks or in what order: the whole year, plus breakdown values taken one by one (largest
   first) while every *atom* (the factories that fall in exactly the same published cells) still
   holds at least the minimum. Any sum or difference of published cells, or chain of them, is
   constant on each atom, so it rests on no fewer factories than the minimum.
3. Figures. A cluster, compliance point or question applies to some factories only. It is shown
   in every published cell when each atom's share of it is empty or reaches the minimum; else for
   the whole year only (complementary suppression); never when fewer factories than the minimum
   are behind it (primary suppression).
4. No answer names a factory: the read model keeps no names, and no per-factory row is served.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.problems import Problem
from services.reporting.compliance.schemas import Withheld
from services.reporting.compliance.selection import selected_assessments
from services.reporting.models import Factory
from services.reporting.scope import Audience, ReportScope

DIMENSIONS = ("region", "size_band", "ownership")
OTHER = "other"
AttributeKey = tuple[str | None, str | None, str | None]  # region, size_band, ownership
Visibility = Literal["every_cell", "whole_year", "none"]

REFUSED_TITLE = "Not a published figure"


def primary_reason(minimum: int) -> Withheld:
    return Withheld(
        reason=f"Fewer than {minimum} factories are behind this figure; it is withheld so that "
        "no factory's results can be inferred.",
        minimum_factories=minimum,
    )


def complementary_reason(minimum: int) -> Withheld:
    return Withheld(
        reason="Withheld for this breakdown (complementary suppression): together with the other "
        f"published figures it would let a difference isolate fewer than {minimum} factories. "
        "The figure for the whole year is published.",
        minimum_factories=minimum,
    )


# --- 1. queries -----------------------------------------------------------------------------


def calendar_year(scope: ReportScope) -> int | None:
    """The year a scope's window spans exactly, or None for any other window."""
    start, end = scope.date_from, scope.date_to
    if start is None or end is None or start.year != end.year:
        return None
    if (start.month, start.day, end.month, end.day) != (1, 1, 12, 31):
        return None
    return start.year


def last_published_year(audience: Audience) -> int:
    return audience.today.year - 1


def _refuse(problems: list[str], audience: Audience, **allowed: Any) -> Problem:
    return Problem(
        400,
        "Not a published figure for this caller: " + "; ".join(problems) + ".",
        title=REFUSED_TITLE,
        allowed={
            "country": "required, e.g. country=UZ",
            "year": f"a calendar year that has ended, up to {last_published_year(audience)}",
            "breakdown": "at most one of region, size_band, ownership, with a published value",
            **allowed,
        },
    )


def admit(scope: ReportScope, audience: Audience, *, period_optional: bool = False) -> None:
    """Refuse (400 problem+json saying what is allowed) any query outside the published ones.

    ``period_optional``: trends may leave the year out and get every ended year."""
    if not audience.is_public:
        return
    problems = []
    if scope.country is None:
        problems.append("name the country programme (country=XX)")
    year = calendar_year(scope)
    windowed = scope.date_from is not None or scope.date_to is not None
    if year is None and (windowed or not period_optional):
        problems.append(
            "ask for a published period, year=YYYY; free date windows are for programme staff"
        )
    elif year is not None and year > last_published_year(audience):
        problems.append(f"{year} has not ended, so nothing of it is published yet")
    if scope.cycle is not None:
        problems.append("cycles are not a published breakdown (use year)")
    breakdowns = [d for d in DIMENSIONS if getattr(scope, d) is not None]
    if len(breakdowns) > 1:
        problems.append(f"use one breakdown at a time, not {' and '.join(breakdowns)}")
    if problems:
        raise _refuse(problems, audience)


def admit_annual(year: int, audience: Audience) -> None:
    """The annual report (and its frozen public editions) covers an ended year only."""
    if audience.is_public and year > last_published_year(audience):
        raise _refuse([f"{year} has not ended, so its report is not published yet"], audience)


def admit_activity(scope: ReportScope, audience: Audience) -> None:
    """Activity figures have no factory breakdowns for anyone (they were silently ignored);
    for other audiences the period and country rules apply as to every aggregate."""
    unsupported = [d for d in (*DIMENSIONS, "cycle") if getattr(scope, d) is not None]
    if unsupported:
        raise Problem(
            400,
            f"Activity figures cannot be broken down by {', '.join(unsupported)}; filter by "
            "country and period only.",
            title="Bad filter",
            allowed={
                "filters": ["country", "year"]
                + ([] if audience.is_public else ["date_from", "date_to"])
            },
        )
    admit(scope, audience)


# --- 2. published cells --------------------------------------------------------------------


def _key_value(key: AttributeKey, dimension: str) -> str | None:
    return key[DIMENSIONS.index(dimension)]


@dataclass
class CellFamily:
    """The published cells of one country and year: the whole year, then ``published``."""

    minimum: int
    factories: Counter[AttributeKey]
    published: list[tuple[str, str]] = field(default_factory=list)

    @property
    def whole_year_published(self) -> bool:
        return sum(self.factories.values()) >= self.minimum

    def atoms(
        self, counts: Counter[AttributeKey], cells: list[tuple[str, str]] | None = None
    ) -> Counter[tuple[bool, ...]]:
        """Factories grouped by the published cells they fall in (only non-empty groups)."""
        cells = self.published if cells is None else cells
        atoms: Counter[tuple[bool, ...]] = Counter()
        for key, n in counts.items():
            if n:
                atoms[tuple(_key_value(key, d) == v for d, v in cells)] += n
        return atoms

    def values(self, dimension: str) -> list[str]:
        return [v for d, v in self.published if d == dimension]

    def visibility(self, counts: Counter[AttributeKey]) -> Visibility:
        """Where a figure resting on ``counts`` (the factories it applies to) may be shown."""
        if not self.whole_year_published or sum(counts.values()) < self.minimum:
            return "none"
        if all(n >= self.minimum for n in self.atoms(counts).values()):
            return "every_cell"
        return "whole_year"


def build_family(factories: Counter[AttributeKey], minimum: int) -> CellFamily:
    """Take breakdown values largest first while every atom keeps the minimum (deterministic:
    the same data gives the same published cells whoever asks, in whatever order)."""
    family = CellFamily(minimum, factories)
    if not family.whole_year_published:
        return family
    for dimension in DIMENSIONS:
        sizes: Counter[str] = Counter()
        for key, n in factories.items():
            value = _key_value(key, dimension)
            if value is not None:
                sizes[value] += n
        for value, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
            candidate = [*family.published, (dimension, value)]
            if size >= minimum and all(
                n >= minimum for n in family.atoms(factories, candidate).values()
            ):
                family.published = candidate
    return family


# --- 3. figures -----------------------------------------------------------------------------


@dataclass
class DisclosurePlan:
    """What one answer may show, per period of it (0 for an answer with no periods)."""

    minimum: int | None
    breakdown: tuple[str, str] | None = None
    families: dict[int, CellFamily] = field(default_factory=dict)
    items: dict[int, dict[str, Visibility]] = field(default_factory=dict)
    last_year: int | None = None

    def period_published(self, period: int) -> bool:
        """Trends by year show ended years only, and, for a breakdown, only the years in which
        it is published (a year left out tells no more than a refusal would)."""
        if self.minimum is None:
            return True
        if self.last_year is not None and period > self.last_year:
            return False
        return self.breakdown is None or self._cell_published(period)

    def _cell_published(self, period: int) -> bool:
        family = self.families.get(period)
        if family is None or not family.whole_year_published:
            return False
        return self.breakdown is None or self.breakdown in family.published

    def summary_withheld(self, period: int) -> Withheld | None:
        if self.minimum is None or self._cell_published(period):
            return None
        return primary_reason(self.minimum)

    def withheld(self, period: int, code: str, factories: int) -> Withheld | None:
        if self.minimum is None:
            return None
        if factories < self.minimum or not self._cell_published(period):
            return primary_reason(self.minimum)
        visibility = self.items.get(period, {}).get(code, "none")
        if visibility == "none":
            return primary_reason(self.minimum)
        if visibility == "whole_year" and self.breakdown is not None:
            return complementary_reason(self.minimum)
        return None


FULL_PLAN = DisclosurePlan(minimum=None)


def _breakdown_of(scope: ReportScope) -> tuple[str, str] | None:
    for dimension in DIMENSIONS:
        value = getattr(scope, dimension)
        if value is not None:
            return (dimension, str(value))
    return None


async def plan(
    session: AsyncSession,
    scope: ReportScope,
    audience: Audience,
    item: tuple[Any, str] | None = None,
    by_year: bool = False,
) -> DisclosurePlan:
    """The disclosure plan of an answer over ``scope`` (admitted already).

    ``item``: the per-assessment table and code column of the figures (clusters, compliance
    points or questions), or None for the summary only. ``by_year``: the answer has a period per
    year (trends); otherwise it covers the scope's one year, as period 0. An answer for one year
    that asks for an unpublished breakdown value is refused, naming the published ones."""
    if audience.minimum_factories is None:
        return FULL_PLAN
    minimum = audience.minimum_factories
    root = replace(scope, region=None, size_band=None, ownership=None, cycle=None)
    selected = selected_assessments(root, "year")
    f: Any = Factory
    attributes = (f.region, f.size_band, f.ownership)
    rows = await session.execute(
        select(selected.c.period, *attributes, func.count())
        .select_from(selected)
        .outerjoin(f, f.id == selected.c.factory_id)
        .group_by(selected.c.period, *attributes)
    )
    factories: dict[int, Counter[AttributeKey]] = {}
    for period, region, size_band, ownership, n in rows.all():
        if period is not None:
            key = int(period) if by_year else 0
            factories.setdefault(key, Counter())[(region, size_band, ownership)] += int(n)
    result = DisclosurePlan(
        minimum=minimum, breakdown=_breakdown_of(scope), last_year=last_published_year(audience)
    )
    result.families = {p: build_family(counts, minimum) for p, counts in factories.items()}
    if not by_year and result.breakdown is not None:
        family = result.families.get(0) or CellFamily(minimum, Counter())
        if result.breakdown not in family.published:
            dimension, value = result.breakdown
            raise _refuse(
                [f"{dimension}={value} is not a published breakdown of this country and year"],
                audience,
                **{f"published_{d}": family.values(d) for d in DIMENSIONS},
            )
    if item is not None:
        model, code_column = item
        code = getattr(model, code_column)
        applies = await session.execute(
            select(selected.c.period, *attributes, code, func.count())
            .select_from(selected)
            .join(model, model.assessment_id == selected.c.assessment_id)
            .outerjoin(f, f.id == selected.c.factory_id)
            .group_by(selected.c.period, *attributes, code)
        )
        per_item: dict[int, dict[str, Counter[AttributeKey]]] = {}
        for period, region, size_band, ownership, item_code, n in applies.all():
            if period is not None:
                key = int(period) if by_year else 0
                counts = per_item.setdefault(key, {}).setdefault(item_code, Counter())
                counts[(region, size_band, ownership)] += int(n)
        result.items = {
            p: {c: result.families[p].visibility(counts) for c, counts in codes.items()}
            for p, codes in per_item.items()
        }
    return result


# --- figures of few factories outside the methodology ---------------------------------------


def withheld_below_minimum(factories: int, audience: Audience) -> Withheld | None:
    """Primary suppression for a figure that is a result of the factories behind it (e.g.
    improvement-plan progress): withheld when fewer than the minimum are behind it."""
    minimum = audience.minimum_factories
    if minimum is None or factories == 0 or factories >= minimum:
        return None
    return primary_reason(minimum)


# --- breakdown tables (counts of factories by a characteristic) -----------------------------


def coarsened(values: Iterable[str | None], audience: Audience) -> list[str | None]:
    """Merge values held by fewer factories than the minimum into ``other``; when ``other`` is
    itself non-empty but below the minimum, merge the next smallest value into it too."""
    items = list(values)
    minimum = audience.minimum_factories
    if minimum is None:
        return items
    counts = Counter(v or "unknown" for v in items)
    merged = {v for v, n in counts.items() if n < minimum}
    kept = sorted((n, v) for v, n in counts.items() if v not in merged)
    while merged and kept and sum(counts[v] for v in merged) < minimum:
        merged.add(kept.pop(0)[1])
    return [OTHER if (v or "unknown") in merged else v for v in items]
