"""Every rate the API serves equals one computed naively from the raw feed events."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.vocabulary import size_band_for
from tests.reporting.conftest import sync_programme
from tests.reporting.feedgen import Programme
from tests.support import auth_header

STAFF = auth_header("staff")


# --- the naive reference: fold the raw events, then follow the README step by step -----------


def fold(events: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    factories: dict[str, Any] = {}
    assessments: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for event in events:
        payload = event["payload"]
        if event["aggregate_type"] == "factory":
            factories[payload["id"]] = payload
        elif event["aggregate_type"] == "catalog":
            for cluster in payload["clusters"]:
                for point in cluster["compliance_points"]:
                    for question in point["questions"]:
                        kinds[question["code"]] = question["kind"]
        elif event["aggregate_type"] == "assessment":
            assessments[payload["id"]] = {**assessments.get(payload["id"], {}), **payload}
    return factories, assessments, kinds


def reference(
    programme: Programme, period: str | None = None, **scope: Any
) -> dict[Any, dict[str, Any]]:
    """{period: {"factories", "clusters", "points", "questions": {code: (assessed, nc)}}}."""
    factories, assessments, kinds = fold(programme.assessment.events)
    published = {
        a["id"]: a
        for a in assessments.values()
        if a.get("findings") is not None and a.get("published_at")
    }
    superseded = {a["supersedes_id"] for a in published.values() if a.get("supersedes_id")}
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for a in published.values():
        if a["id"] in superseded:
            continue
        day = date.fromisoformat(a["visit_end"])
        factory = factories[a["factory_id"]]
        if scope.get("country") and a["country"] != scope["country"]:
            continue
        if scope.get("date_from") and day < scope["date_from"]:
            continue
        if scope.get("date_to") and day > scope["date_to"]:
            continue
        if scope.get("cycle") and a["cycle"] != scope["cycle"]:
            continue
        if scope.get("region") and factory["region"] != scope["region"]:
            continue
        if scope.get("ownership") and factory["ownership"] != scope["ownership"]:
            continue
        if (
            scope.get("size_band")
            and size_band_for(factory["workforce_total"]) != scope["size_band"]
        ):
            continue
        key = (a["factory_id"], {None: 0, "cycle": a["cycle"], "year": day.year}[period])
        rank = (day, a["published_at"], a["id"])
        if key not in latest or rank > latest[key]["_rank"]:
            latest[key] = {**a, "_rank": rank}
    result: dict[Any, dict[str, Any]] = {}
    for (_factory, key), a in latest.items():
        bucket = result.setdefault(
            key,
            {
                "factories": 0,
                "shares": [],
                "clusters": defaultdict(lambda: [0, 0]),
                "points": defaultdict(lambda: [0, 0]),
                "questions": defaultdict(lambda: [0, 0]),
            },
        )
        bucket["factories"] += 1
        point_flags: dict[str, bool] = {}
        cluster_flags: dict[str, bool] = {}
        for finding in a["findings"]:
            if kinds[finding["question_code"]] == "information":
                continue
            if finding["non_compliant"] is None:
                continue
            flag = bool(finding["non_compliant"])
            counts = bucket["questions"][finding["question_code"]]
            counts[0] += 1
            counts[1] += flag
            cp = finding["compliance_point_code"]
            point_flags[cp] = point_flags.get(cp, False) or flag
            cl = finding["cluster_code"]
            cluster_flags[cl] = cluster_flags.get(cl, False) or flag
        for target, flags in (("points", point_flags), ("clusters", cluster_flags)):
            for code, flag in flags.items():
                bucket[target][code][0] += 1
                bucket[target][code][1] += flag
        if point_flags:
            bucket["shares"].append(sum(point_flags.values()) / len(point_flags))
    return result


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


def expected_counts(bucket: dict[str, Any], level: str) -> dict[str, tuple[int, int]]:
    return {code: (n, nc) for code, (n, nc) in bucket[level].items()}


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
    assert as_counts(bodies["clusters"]["items"], "cluster_code") == expected_counts(
        expected, "clusters"
    )
    assert as_counts(bodies["points"]["items"], "compliance_point_code") == expected_counts(
        expected, "points"
    )
    assert as_counts(bodies["questions"]["items"], "question_code") == expected_counts(
        expected, "questions"
    )
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
    assert dict(got) == {p: expected_counts(b, target) for p, b in expected.items()}
