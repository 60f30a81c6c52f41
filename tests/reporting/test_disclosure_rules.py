"""The disclosure rule's parts one by one, as plain functions (issue 15): which queries a public
caller may ask and the words of each refusal, which cells of a year are published (largest
first, every atom keeping the minimum), where a figure may be shown, and the suppressions.
test_disclosure.py and test_disclosure_proof.py show the same rule at the API."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from services.common.problems import Problem
from services.reporting.disclosure import (
    OTHER,
    REFUSED_TITLE,
    DisclosurePlan,
    admit,
    admit_activity,
    admit_annual,
    build_family,
    calendar_year,
    coarsened,
    complementary_reason,
    last_published_year,
    primary_reason,
    withheld_below_minimum,
)
from services.reporting.scope import Audience, ReportScope

TODAY = date(2026, 3, 1)
PUBLIC = Audience(minimum_factories=3, today=TODAY)
STAFF = Audience(minimum_factories=None, today=TODAY)
YEAR_2025 = {"date_from": date(2025, 1, 1), "date_to": date(2025, 12, 31)}


def refused(call: Any, *args: Any, **kwargs: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(
    ("start", "end", "year"),
    [
        (date(2024, 1, 1), date(2024, 12, 31), 2024),
        (date(2024, 1, 2), date(2024, 12, 31), None),
        (date(2024, 1, 1), date(2024, 12, 30), None),
        (date(2024, 1, 1), date(2025, 12, 31), None),
        (None, date(2024, 12, 31), None),
        (date(2024, 1, 1), None, None),
    ],
)
def test_only_a_whole_calendar_year_is_a_year(
    start: date | None, end: date | None, year: int | None
) -> None:
    assert calendar_year(ReportScope(date_from=start, date_to=end)) == year


def test_the_last_published_year_is_the_last_that_ended() -> None:
    assert last_published_year(PUBLIC) == 2025


def test_staff_may_ask_anything() -> None:
    admit(ReportScope(cycle=2, region="a", size_band="large"), STAFF)


def test_a_public_query_for_a_country_and_an_ended_year_is_admitted() -> None:
    admit(ReportScope(country="UZ", region="Toshkent", **YEAR_2025), PUBLIC)
    admit(ReportScope(country="UZ"), PUBLIC, period_optional=True)


def test_each_public_refusal_says_what_is_wrong_and_what_is_allowed() -> None:
    problem = refused(
        admit,
        ReportScope(date_from=date(2025, 2, 1), cycle=1, region="a", ownership="b"),
        PUBLIC,
    )
    assert problem.title == REFUSED_TITLE
    assert problem.detail == (
        "Not a published figure for this caller: name the country programme (country=XX); "
        "ask for a published period, year=YYYY; free date windows are for programme staff; "
        "cycles are not a published breakdown (use year); "
        "use one breakdown at a time, not region and ownership."
    )
    assert problem.extra["allowed"] == {
        "country": "required, e.g. country=UZ",
        "year": "a calendar year that has ended, up to 2025",
        "breakdown": "at most one of region, size_band, ownership, with a published value",
    }


def test_a_year_not_yet_ended_is_refused() -> None:
    scope = ReportScope(country="UZ", date_from=date(2026, 1, 1), date_to=date(2026, 12, 31))
    assert refused(admit, scope, PUBLIC).detail == (
        "Not a published figure for this caller: 2026 has not ended, so nothing of it is "
        "published yet."
    )


def test_a_window_needs_a_year_even_when_the_period_is_optional() -> None:
    scope = ReportScope(country="UZ", date_to=date(2025, 6, 30))
    assert (
        "ask for a published period" in refused(admit, scope, PUBLIC, period_optional=True).detail
    )
    assert "ask for a published period" in refused(admit, ReportScope(country="UZ"), PUBLIC).detail


def test_the_annual_report_of_a_year_not_ended_is_refused_to_the_public_only() -> None:
    admit_annual(2025, PUBLIC)
    admit_annual(2026, STAFF)
    assert refused(admit_annual, 2026, PUBLIC).detail == (
        "Not a published figure for this caller: 2026 has not ended, so its report is not "
        "published yet."
    )


def test_activity_figures_have_no_breakdowns_for_anyone() -> None:
    public = refused(admit_activity, ReportScope(country="UZ", region="a", cycle=1), PUBLIC)
    assert public.title == "Bad filter"
    assert public.detail == (
        "Activity figures cannot be broken down by region, cycle; filter by country and period "
        "only."
    )
    assert public.extra["allowed"] == {"filters": ["country", "year"]}
    staff = refused(admit_activity, ReportScope(size_band="large"), STAFF)
    assert staff.extra["allowed"] == {"filters": ["country", "year", "date_from", "date_to"]}
    assert refused(admit_activity, ReportScope(country="UZ"), PUBLIC).title == REFUSED_TITLE
    admit_activity(ReportScope(country="UZ", **YEAR_2025), PUBLIC)


FACTORIES: Counter[tuple[str | None, str | None, str | None]] = Counter(
    {("B", "s", "d"): 3, ("A", "s", "d"): 3, ("C", "s", "d"): 1}
)


def test_cells_are_published_largest_first_while_every_atom_keeps_the_minimum() -> None:
    family = build_family(FACTORIES, 3)
    # A and B tie on 3: A first by name; then B would leave C's single factory alone.
    assert family.published == [("region", "A"), ("size_band", "s"), ("ownership", "d")]
    assert family.whole_year_published
    assert family.values("region") == ["A"]


def test_a_year_of_too_few_factories_publishes_nothing() -> None:
    family = build_family(Counter({("A", "s", "d"): 2}), 3)
    assert not family.whole_year_published and family.published == []
    assert family.visibility(Counter({("A", "s", "d"): 2})) == "none"


def test_a_value_held_by_too_few_factories_is_not_published() -> None:
    family = build_family(Counter({("A", None, None): 5, ("B", None, None): 2}), 3)
    assert family.published == []


def test_where_a_figure_may_be_shown() -> None:
    family = build_family(FACTORIES, 3)
    assert family.visibility(Counter({("A", "s", "d"): 3, ("B", "s", "d"): 3})) == "every_cell"
    assert family.visibility(Counter({("A", "s", "d"): 1, ("B", "s", "d"): 3})) == "whole_year"
    assert family.visibility(Counter({("A", "s", "d"): 2})) == "none"
    assert family.atoms(Counter({("A", "s", "d"): 2, ("C", "s", "d"): 0})) == Counter(
        {(True, True, True): 2}
    )


def plan(**fields: Any) -> DisclosurePlan:
    return DisclosurePlan(minimum=3, families={2025: build_family(FACTORIES, 3)}, **fields)


def test_staff_plans_publish_every_period_and_withhold_nothing() -> None:
    full = DisclosurePlan(minimum=None)
    assert full.period_published(2099) and full.summary_withheld(0) is None
    assert full.withheld(0, "CL", 1) is None


def test_a_period_is_published_up_to_the_last_ended_year_and_with_its_breakdown() -> None:
    assert plan(last_year=2025).period_published(2025)
    assert not plan(last_year=2024).period_published(2025)
    assert plan(breakdown=("region", "A")).period_published(2025)
    assert not plan(breakdown=("region", "B")).period_published(2025)
    assert not plan(breakdown=("region", "A")).period_published(2024)
    assert plan().period_published(2024)


def test_the_summary_is_withheld_where_its_cell_is_not_published() -> None:
    assert plan().summary_withheld(2025) is None
    assert plan().summary_withheld(2024) == primary_reason(3)
    assert plan(breakdown=("region", "B")).summary_withheld(2025) == primary_reason(3)


def test_each_figure_is_withheld_by_the_rule_that_applies() -> None:
    visible = {"CL": "every_cell", "CO": "whole_year", "FL": "none"}
    whole = plan(items={2025: visible})
    assert whole.withheld(2025, "CL", 3) is None
    assert whole.withheld(2025, "CO", 3) is None  # the whole year: no complement to fear
    assert whole.withheld(2025, "FL", 3) == primary_reason(3)
    assert whole.withheld(2025, "XX", 3) == primary_reason(3)
    assert whole.withheld(2025, "CL", 2) == primary_reason(3)
    assert whole.withheld(2024, "CL", 9) == primary_reason(3)
    cell = plan(items={2025: visible}, breakdown=("region", "A"))
    assert cell.withheld(2025, "CL", 3) is None
    assert cell.withheld(2025, "CO", 3) == complementary_reason(3)


def test_the_reasons_say_why_in_words() -> None:
    assert primary_reason(5).reason == (
        "Fewer than 5 factories are behind this figure; it is withheld so that no factory's "
        "results can be inferred."
    )
    assert complementary_reason(5).reason == (
        "Withheld for this breakdown (complementary suppression): together with the other "
        "published figures it would let a difference isolate fewer than 5 factories. The figure "
        "for the whole year is published."
    )
    assert primary_reason(5).minimum_factories == complementary_reason(5).minimum_factories == 5


@pytest.mark.parametrize(
    ("factories", "withheld"), [(0, False), (1, True), (2, True), (3, False), (9, False)]
)
def test_a_result_of_too_few_factories_is_withheld(factories: int, withheld: bool) -> None:
    expected = primary_reason(3) if withheld else None
    assert withheld_below_minimum(factories, PUBLIC) == expected
    assert withheld_below_minimum(factories, STAFF) is None


def test_rare_values_are_merged_into_other_until_other_holds_the_minimum() -> None:
    values = ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + [None]
    assert coarsened(values, STAFF) == values
    # c (2) and unknown (1) hold 3 together: enough, nothing more is merged.
    assert coarsened(values, PUBLIC) == ["a"] * 4 + ["b"] * 3 + [OTHER] * 3
    # c alone (2) is too few: the next smallest, b (3), joins it.
    assert coarsened(["a"] * 4 + ["b"] * 3 + ["c"] * 2, PUBLIC) == ["a"] * 4 + [OTHER] * 5
