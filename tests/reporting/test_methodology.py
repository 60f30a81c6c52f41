"""Every rate the API serves equals one computed naively from the raw feed events."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.reporting.conftest import sync_programme
from tests.reporting.feedgen import Programme
from tests.reporting.reference import counts, reference
from tests.support import auth_header

STAFF = auth_header("staff")


# --- the comparison --------------------------------------------------------------------------


@pytest.fixture
async def synced(reporting_app: FastAPI, programme: Programme) -> FastAPI:
    await sync_programme(reporting_app, programme)
    return reporting_app


def as_counts(items: list[dict[str, Any]], code_field: str) -> dict[str, tuple[int, int]]:
    counts = {}
    for item in items:
        assert item["withheld"] is None
        assert (
            item["non_compliance_rate"]
            == item["factories_non_compliant"] / item["factories_assessed"]
        )
        counts[item[code_field]] = (item["factories_assessed"], item["factories_non_compliant"])
    return counts


SCOPES = [
    ({}, {}),
    ({"year": 2023}, {"date_from": date(2023, 1, 1), "date_to": date(2023, 12, 31)}),
    ({"cycle": 2}, {"cycle": 2}),
    ({"country": "UZ", "region": "Toshkent"}, {"country": "UZ", "region": "Toshkent"}),
    (
        {"ownership": "foreign", "date_to": "2023-06-30"},
        {"ownership": "foreign", "date_to": date(2023, 6, 30)},
    ),
    ({"size_band": "large"}, {"size_band": "large"}),
]


@pytest.mark.parametrize(("params", "scope"), SCOPES)
async def test_every_rate_matches_the_naive_reference(
    synced: FastAPI, programme: Programme, params: dict[str, Any], scope: dict[str, Any]
) -> None:
    expected = reference(programme, **scope).get(0)
    assert expected is not None and expected["factories"] > 0
    transport = httpx.ASGITransport(app=synced)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        responses = {
            level: await client.get(
                f"/v1/reports/non-compliance/{path}", params=params, headers=STAFF
            )
            for level, path in (
                ("clusters", "clusters"),
                ("points", "compliance-points"),
                ("questions", "questions"),
            )
        }
    bodies = {level: r.json() for level, r in responses.items()}
    assert all(r.status_code == 200 for r in responses.values()), bodies
    assert as_counts(bodies["clusters"]["items"], "cluster_code") == counts(expected, "clusters")
    assert as_counts(bodies["points"]["items"], "compliance_point_code") == counts(
        expected, "points"
    )
    assert as_counts(bodies["questions"]["items"], "question_code") == counts(expected, "questions")
    summary = bodies["points"]["summary"]
    assert summary["factories_assessed"] == expected["factories"]
    assert summary["average_share_of_compliance_points_non_compliant"] == pytest.approx(
        sum(expected["shares"]) / len(expected["shares"]), rel=1e-9
    )


@pytest.mark.parametrize("by", ["cycle", "year"])
@pytest.mark.parametrize("level", ["cluster", "compliance_point"])
async def test_trends_match_the_naive_reference(
    synced: FastAPI, programme: Programme, by: str, level: str
) -> None:
    expected = reference(programme, period=by)
    transport = httpx.ASGITransport(app=synced)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        response = await client.get(
            "/v1/reports/non-compliance/trends",
            params={"by": by, "level": level},
            headers=STAFF,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["periods"] == sorted(expected)
    got: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for item in body["items"]:
        if item["code"] == "ALL":
            assert item["factories_assessed"] == expected[item["period"]]["factories"]
            continue
        got[item["period"]][item["code"]] = (
            item["factories_assessed"],
            item["factories_non_compliant"],
        )
    target = "clusters" if level == "cluster" else "points"
    assert dict(got) == {p: counts(b, target) for p, b in expected.items()}
