"""The proof of docs/disclosure-control.md over a generated programme: every query an audience
without factory-level entitlement may make is asked, and no difference of two answers, nor any
chain of sums and differences of them, rests on fewer factories than the minimum.

How: for every figure (a cluster, compliance point or question, or the average share) the test
collects the set of factory-years behind each published value, computed from the raw feed events
with no code shared with the service. Any sum or difference of published values is constant on
each *atom* (the factory-years that fall in exactly the same published sets), so if every atom
holds at least the minimum, no chain of answers isolates fewer factories.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from itertools import combinations
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.vocabulary import size_band_for
from tests.reporting.conftest import sync_programme
from tests.reporting.feedgen import Programme, generate_programme
from tests.reporting.reference import fold

MINIMUM = 5  # the default min_cell_size
YEARS = [2022, 2023, 2024]
OPEN_YEAR = date.today().year
RATES = {
    "clusters": ("cluster", "cluster_code"),
    "compliance-points": ("point", "compliance_point_code"),
    "questions": ("question", "question_code"),
}
TREND_LEVELS = {"cluster": "cluster", "compliance_point": "point"}
Record = tuple[str, int]  # (factory id, year): one factory's assessment standing for a year
Attribute = tuple[str, str]  # ("point", "WT-1"), or ("summary", "ALL")


def skewed_profile(rng: random.Random, _n: int) -> dict[str, Any]:
    """Uneven regions and ownerships, as in a real programme: some values too small to publish,
    some whose complement is too small."""
    region = rng.choices(["Toshkent", "Farg'ona", "Самарқанд", "Buxoro"], [45, 30, 17, 8])[0]
    ownership = rng.choices(["domestic", "foreign", "joint_venture"], [60, 30, 10])[0]
    return {"region": region, "ownership": ownership}


@pytest.fixture(scope="module")
def skewed() -> Programme:
    return generate_programme(seed=11, factories=34, cycles=3, profile=skewed_profile)


@pytest.fixture
async def client(reporting_app: FastAPI, skewed: Programme) -> httpx.AsyncClient:
    await sync_programme(reporting_app, skewed)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=reporting_app), base_url="http://r")


# --- what lies behind each figure, from the raw events ----------------------------------------


class Truth:
    """Per factory-year: its attributes and which figures apply to it (and are non-compliant)."""

    def __init__(self, programme: Programme) -> None:
        factories, assessments, kinds = fold(programme.assessment.events)
        superseded = {a.get("supersedes_id") for a in assessments.values()}
        latest: dict[Record, dict[str, Any]] = {}
        for a in assessments.values():
            if not a.get("findings") or not a.get("published_at") or a["id"] in superseded:
                continue
            day = date.fromisoformat(a["visit_end"])
            key = (a["factory_id"], day.year)
            if key not in latest or (day, a["published_at"], a["id"]) > latest[key]["_rank"]:
                latest[key] = {**a, "_rank": (day, a["published_at"], a["id"])}
        self.attributes: dict[Record, dict[str, str | None]] = {}
        self.flags: dict[Record, dict[Attribute, bool]] = {}
        for record, a in latest.items():
            factory = factories[a["factory_id"]]
            self.attributes[record] = {
                "region": factory["region"],
                "ownership": factory["ownership"],
                "size_band": size_band_for(factory["workforce_total"]),
            }
            flags: dict[Attribute, bool] = {}
            for finding in a["findings"]:
                if kinds[finding["question_code"]] == "information":
                    continue
                if finding["non_compliant"] is None:
                    continue
                flag = bool(finding["non_compliant"])
                flags[("question", finding["question_code"])] = flag
                for level, code in (
                    ("point", finding["compliance_point_code"]),
                    ("cluster", finding["cluster_code"]),
                ):
                    flags[(level, code)] = flags.get((level, code), False) or flag
            self.flags[record] = flags

    def values(self, dimension: str) -> set[str]:
        return {str(a[dimension]) for a in self.attributes.values() if a[dimension] is not None}

    def cell(self, year: int, breakdown: tuple[str, str] | None) -> set[Record]:
        return {
            r
            for r, a in self.attributes.items()
            if r[1] == year and (breakdown is None or a[breakdown[0]] == breakdown[1])
        }

    def behind(self, cell: set[Record], attribute: Attribute) -> tuple[set[Record], int]:
        """The factory-years a figure rests on, and how many of them are non-compliant."""
        applies = {r for r in cell if attribute in self.flags[r]}
        return applies, sum(self.flags[r][attribute] for r in applies)


# --- the enumeration -------------------------------------------------------------------------


class Published:
    """Every published value, as the set of factory-years behind it."""

    def __init__(self, truth: Truth) -> None:
        self.truth = truth
        self.sets: dict[Attribute, list[frozenset[Record]]] = defaultdict(list)
        self.complementary = 0

    def rate(self, item: dict[str, Any], cell: set[Record], attribute: Attribute) -> None:
        behind, non_compliant = self.truth.behind(cell, attribute)
        assert item["factories_assessed"] == len(behind), (attribute, item)
        if item["withheld"] is not None:
            assert item["factories_non_compliant"] is None and item["non_compliance_rate"] is None
            self.complementary += "complementary" in item["withheld"]["reason"]
            return
        assert item["factories_non_compliant"] == non_compliant, (attribute, item)
        self.sets[attribute].append(frozenset(behind))

    def summary(self, item: dict[str, Any], cell: set[Record]) -> None:
        assert item["factories_assessed"] == len(cell)
        if item["average_share_of_compliance_points_non_compliant"] is not None:
            self.sets[("summary", "ALL")].append(frozenset(cell))


def breakdowns(truth: Truth) -> list[tuple[str, str] | None]:
    return [None] + [(d, v) for d in ("region", "size_band", "ownership") for v in truth.values(d)]


async def test_no_chain_of_answers_isolates_fewer_factories_than_the_minimum(
    client: httpx.AsyncClient, skewed: Programme
) -> None:
    truth = Truth(skewed)
    published = Published(truth)
    answered: dict[tuple[str, str] | None, int] = defaultdict(int)
    refused: dict[tuple[str, str] | None, int] = defaultdict(int)
    texts: list[str] = []
    async with client:
        for path, (level, code_field) in RATES.items():
            for year in [*YEARS, OPEN_YEAR]:
                for breakdown in breakdowns(truth):
                    params = {
                        "country": "UZ",
                        "year": str(year),
                        **dict([breakdown] if breakdown else []),
                    }
                    response = await client.get(f"/v1/reports/non-compliance/{path}", params=params)
                    texts.append(response.text)
                    if response.status_code == 400:
                        assert response.json()["allowed"], response.text
                        refused[breakdown] += 1
                        continue
                    assert response.status_code == 200, response.text
                    assert year != OPEN_YEAR, "a year that has not ended was answered"
                    answered[breakdown] += 1
                    body = response.json()
                    cell = truth.cell(year, breakdown)
                    published.summary(body["summary"], cell)
                    for item in body["items"]:
                        published.rate(item, cell, (level, item[code_field]))
        for trend_level, level in TREND_LEVELS.items():
            for breakdown in breakdowns(truth):
                params = {"country": "UZ", "by": "year", "level": trend_level}
                params |= dict([breakdown] if breakdown else [])
                response = await client.get("/v1/reports/non-compliance/trends", params=params)
                texts.append(response.text)
                assert response.status_code == 200, response.text
                for point in response.json()["items"]:
                    assert point["period"] in YEARS, "a year that has not ended was answered"
                    cell = truth.cell(point["period"], breakdown)
                    if point["code"] == "ALL":
                        published.summary(point, cell)
                    else:
                        published.rate(point, cell, (level, point["code"]))
        for year in YEARS:
            for fmt in ("json", "csv", "html"):
                response = await client.get(
                    f"/v1/reports/annual/{year}", params={"country": "UZ", "format": fmt}
                )
                assert response.status_code == 200, response.text
                texts.append(response.text)
            annual = (
                await client.get(f"/v1/reports/annual/{year}", params={"country": "UZ"})
            ).json()
            whole = truth.cell(year, None)
            published.summary(annual["summary"], whole)
            for block in annual["non_compliance"]:
                published.rate(
                    block["cluster"], whole, ("cluster", block["cluster"]["cluster_code"])
                )
                for point in block["compliance_points"]:
                    published.rate(point, whole, ("point", point["compliance_point_code"]))
            for question in annual["highest_non_compliance"]:
                published.rate(question, whole, ("question", question["question_code"]))
            for table in ("by_region", "by_ownership", "by_size_band"):
                small = [c for c in annual["factory_profile"][table] if c["factories"] < MINIMUM]
                assert small == [], (year, table, small)

    # The rule is exercised, not vacuous: some breakdowns answered, some refused, some figures
    # suppressed only because of what else is published.
    assert answered[None] == 3 * len(YEARS)
    assert any(answered[b] for b in answered if b is not None), "no breakdown was ever published"
    assert any(refused[b] for b in refused if b is not None), "no breakdown was ever refused"
    assert published.complementary > 0

    for attribute, sets in published.sets.items():
        # No difference of two answers rests on fewer factories than the minimum...
        for a, b in combinations(sets, 2):
            for difference in (a - b, b - a):
                assert len(difference) == 0 or len(difference) >= MINIMUM, (attribute, difference)
        # ...nor any chain of them: every atom of the published sets holds the minimum.
        atoms: dict[tuple[bool, ...], int] = defaultdict(int)
        for record in set().union(*sets):
            atoms[tuple(record in s for s in sets)] += 1
        assert min(atoms.values()) >= MINIMUM, (attribute, dict(atoms))

    # No answer names a factory, by id or by name.
    for text in texts:
        assert "fac_" not in text and "фабрикаси" not in text
