"""The naive reference: fold the raw feed events, then follow the domain README step by step,
with no code shared with the service (only the size-band rule, which is reporting's own)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from services.reporting.vocabulary import size_band_for
from tests.reporting.feedgen import Programme


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


def counts(bucket: dict[str, Any], level: str) -> dict[str, tuple[int, int]]:
    return {code: (n, nc) for code, (n, nc) in bucket[level].items()}


def training_totals(programme: Programme, year: int) -> dict[str, int]:
    sessions = {}
    for event in programme.training.events:
        if event["aggregate_type"] == "training_session":
            sessions[event["aggregate_id"]] = event["payload"]
    in_year = [s for s in sessions.values() if s["start_date"].startswith(str(year))]
    return {
        "sessions": len(in_year),
        "participants": sum(s["participants"]["total"] for s in in_year),
        "female": sum(s["participants"]["by_sex"]["female"] for s in in_year),
    }
