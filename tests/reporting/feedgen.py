"""Change-feed events as the assessment and training services send them (docs/change-feed.md),
a seeded generator of realistic programmes, and a small fake source serving them.

Used by the reporting tests, the kill -9 subprocess source and bench/bench_reporting.py.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import JSONResponse

from services.common.auth import Access, Role
from services.common.problems import install_problem_handlers
from services.common.settings import AuthSettings

CLUSTERS = [
    ("CL", "Child Labour", "core_labour_standards"),
    ("DI", "Discrimination", "core_labour_standards"),
    ("FL", "Forced Labour", "core_labour_standards"),
    ("FA", "Freedom of Association and Collective Bargaining", "core_labour_standards"),
    ("CO", "Compensation", "working_conditions"),
    ("CH", "Contracts and Human Resources", "working_conditions"),
    ("OS", "Occupational Safety and Health", "working_conditions"),
    ("WT", "Working Time", "working_conditions"),
]
CP_NAMES = ["Bolalar mehnati", "Ish haqi", "Охрана труда", "Рабочее время", "Contracts"]
REGIONS = ["Toshkent", "Farg'ona", "Самарқанд", "Buxoro"]
OWNERSHIPS = ["domestic", "foreign", "joint_venture"]


@dataclass
class FeedLog:
    """An outbox: events in commit order, each with its id and time."""

    events: list[dict[str, Any]] = field(default_factory=list)
    clock: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))

    def add(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.clock += timedelta(minutes=1)
        self.events.append(
            {
                "id": len(self.events) + 1,
                "event_type": event_type,
                "aggregate_type": event_type.rsplit(".", 1)[0],
                "aggregate_id": payload["id"],
                "occurred_at": self.clock.isoformat(),
                "payload": payload,
            }
        )
        return payload

    def page(self, after: int, limit: int) -> dict[str, Any]:
        items = self.events[after : after + limit]
        last = items[-1]["id"] if items else after
        return {
            "items": items,
            "next_cursor": str(last),
            "has_more": after + limit < len(self.events),
        }


def factory_payload(ident: str, **overrides: Any) -> dict[str, Any]:
    payload = {
        "id": ident,
        "name": f"Тест фабрикаси {ident}",
        "country": "UZ",
        "region": "Toshkent",
        "sector": "garment",
        "ownership": "domestic",
        "export_markets": ["EU"],
        "workforce_total": 400,
        "workforce_women": 300,
        "workforce_men": 100,
        "workforce_migrants": 0,
        "participation_status": "active",
        "participation_start": "2023-09-01",
    }
    return payload | overrides


def catalog_payload(
    ident: str, points_per_cluster: int = 2, questions_per_point: int = 3, country: str = "UZ"
) -> dict[str, Any]:
    """A CAT: every cluster has CPs; each CP's last question is information-only."""
    clusters = []
    for c_index, (code, name, category) in enumerate(CLUSTERS):
        points = []
        for p in range(1, points_per_cluster + 1):
            cp_code = f"{code}-{p}"
            questions = [
                {
                    "code": f"{cp_code}-{q}",
                    "kind": "information" if q == questions_per_point else "finding",
                    "previous_code": None,
                    "text": f"{CP_NAMES[(c_index + q) % len(CP_NAMES)]}: savol {q}?",
                }
                for q in range(1, questions_per_point + 1)
            ]
            points.append(
                {"code": cp_code, "name": f"{name} / {CP_NAMES[p % 5]}", "questions": questions}
            )
        clusters.append(
            {"code": code, "name": name, "category": category, "compliance_points": points}
        )
    return {
        "id": ident,
        "country": country,
        "version": "1",
        "status": "published",
        "published_at": "2024-01-01T00:00:00+00:00",
        "previous_catalog_id": None,
        "clusters": clusters,
    }


def catalog_questions(catalog: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**q, "compliance_point_code": p["code"], "cluster_code": c["code"]}
        for c in catalog["clusters"]
        for p in c["compliance_points"]
        for q in p["questions"]
    ]


def assessment_payload(
    ident: str,
    factory_id: str,
    catalog: dict[str, Any],
    *,
    cycle: int = 1,
    visit_end: date = date(2024, 5, 2),
    non_compliant: set[str] | frozenset[str] = frozenset(),
    not_answered: set[str] | frozenset[str] = frozenset(),
    published: bool = True,
    revision: int = 1,
    supersedes_id: str | None = None,
    country: str = "UZ",
) -> dict[str, Any]:
    """A published assessment snapshot with findings (or the header only if not published)."""
    payload: dict[str, Any] = {
        "id": ident,
        "factory_id": factory_id,
        "catalog_id": catalog["id"],
        "cycle": cycle,
        "status": "published" if published else "in_progress",
        "visit_type": "unannounced",
        "visit_start": (visit_end - timedelta(days=1)).isoformat(),
        "visit_end": visit_end.isoformat(),
        "published_at": (
            datetime.combine(visit_end + timedelta(days=28), datetime.min.time(), UTC).isoformat()
            if published
            else None
        ),
        "revision": revision,
        "supersedes_id": supersedes_id,
    }
    if published:
        payload["country"] = country
        payload["findings"] = [
            {
                "question_code": q["code"],
                "compliance_point_code": q["compliance_point_code"],
                "cluster_code": q["cluster_code"],
                "non_compliant": (
                    None
                    if q["kind"] == "information" or q["code"] in not_answered
                    else q["code"] in non_compliant
                ),
                "value": 12 if q["kind"] == "information" else None,
            }
            for q in catalog_questions(catalog)
        ]
    return payload


@dataclass
class Programme:
    assessment: FeedLog
    training: FeedLog
    catalog: dict[str, Any]


def generate_programme(
    seed: int,
    factories: int = 12,
    cycles: int = 3,
    points_per_cluster: int = 2,
    questions_per_point: int = 3,
    first_year: int = 2022,
    corrections: float = 0.1,
    training: bool = True,
    profile: Callable[[random.Random, int], dict[str, Any]] | None = None,
) -> Programme:
    """A seeded programme: factories assessed once a year, some corrected, some unpublished.

    ``profile(rng, n)`` may override factory n's fields (region, ownership, workforce...), drawn
    from its own generator so that the rest of the programme stays the same for a seed."""
    rng = random.Random(seed)
    profile_rng = random.Random(seed + 1)
    feed = FeedLog()
    catalog = feed.add(
        "catalog.published", catalog_payload("cat_1", points_per_cluster, questions_per_point)
    )
    questions = [q for q in catalog_questions(catalog) if q["kind"] == "finding"]
    counter = itertools.count(1)
    for f in range(factories):
        total = rng.choice([120, 300, 700, 1500])
        women = rng.randint(total // 2, total)
        feed.add(
            "factory.created",
            factory_payload(
                f"fac_{f:05d}",
                region=REGIONS[f % len(REGIONS)],
                ownership=OWNERSHIPS[f % len(OWNERSHIPS)],
                workforce_total=total,
                workforce_women=women,
                workforce_men=total - women,
            )
            | (profile(profile_rng, f) if profile else {}),
        )
    for cycle in range(1, cycles + 1):
        for f in range(factories):
            factory_id = f"fac_{f:05d}"
            day = date(first_year + cycle - 1, 3, 1) + timedelta(days=rng.randint(0, 270))
            risk = rng.random() * 0.4
            findings = {q["code"] for q in questions if rng.random() < risk}
            unanswered = {q["code"] for q in questions if rng.random() < 0.03}
            ident = f"asm_{next(counter):07d}"
            header = assessment_payload(
                ident, factory_id, catalog, cycle=cycle, visit_end=day, published=False
            )
            feed.add("assessment.created", header)
            if rng.random() < 0.05:
                continue  # never published: must not count
            published = assessment_payload(
                ident,
                factory_id,
                catalog,
                cycle=cycle,
                visit_end=day,
                non_compliant=findings,
                not_answered=unanswered,
            )
            feed.add("assessment.published", published)
            if rng.random() < corrections:
                corrected = set(rng.sample(sorted(q["code"] for q in questions), 3))
                feed.add(
                    "assessment.published",
                    assessment_payload(
                        f"asm_{next(counter):07d}",
                        factory_id,
                        catalog,
                        cycle=cycle,
                        visit_end=day,
                        non_compliant=findings ^ corrected,
                        not_answered=unanswered,
                        revision=2,
                        supersedes_id=ident,
                    ),
                )
    return Programme(
        assessment=feed,
        training=generate_training(rng, factories, first_year, cycles) if training else FeedLog(),
        catalog=catalog,
    )


def generate_training(rng: random.Random, factories: int, first_year: int, years: int) -> FeedLog:
    feed = FeedLog()
    feed.add(
        "course.created",
        {
            "id": "crs_sst",
            "code": "SST",
            "title": "Supervisory Skills Training",
            "topic": "supervisory_skills",
            "duration_days": 3,
            "audience": ["supervisor"],
        },
    )
    for year in range(first_year, first_year + years):
        for n in range(6):
            female, male = rng.randint(3, 15), rng.randint(1, 10)
            feed.add(
                "training_session.created",
                {
                    "id": f"ses_{year}_{n}",
                    "course_id": "crs_sst",
                    "course_topic": "supervisory_skills",
                    "start_date": f"{year}-0{n + 2}-10",
                    "end_date": f"{year}-0{n + 2}-12",
                    "delivery": "in_factory",
                    "venue": "Тошкент",
                    "factory_ids": [f"fac_{rng.randrange(factories):05d}" for _ in range(2)],
                    "participants": {
                        "total": female + male,
                        "by_sex": {"female": female, "male": male},
                        "by_role": {
                            "worker": female + male - 3,
                            "supervisor": 2,
                            "manager": 1,
                            "worker_representative": 0,
                        },
                        "completed": female + male - 1,
                    },
                },
            )
            factory_id = f"fac_{rng.randrange(factories):05d}"
            feed.add(
                "advisory_visit.created",
                {
                    "id": f"adv_{year}_{n}",
                    "factory_id": factory_id,
                    "visit_date": f"{year}-0{n + 2}-20",
                    "advisors": ["ea_1"],
                    "topics": ["osh"],
                    "compliance_point_codes": ["OS-1"],
                },
            )
            feed.add(
                "committee_meeting.created",
                {
                    "id": f"mtg_{year}_{n}",
                    "committee_id": f"com_{factory_id}",
                    "factory_id": factory_id,
                    "meeting_date": f"{year}-0{n + 2}-25",
                    "attendees_total": 8,
                    "attendees_women": 5,
                },
            )
        feed.add(
            "seminar.created",
            {
                "id": f"sem_{year}",
                "kind": "industry_seminar",
                "event_date": f"{year}-11-15",
                "topic": "Ish vaqti va ortiqcha ish",
                "organisations": ["Federation of Trade Unions", "Confederation of Employers"],
                "participants_women": 20,
                "participants_men": 15,
            },
        )
        feed.add(
            "improvement_plan.created",
            {
                "id": f"plan_{year}",
                "factory_id": "fac_00000",
                "assessment_id": None,
                "items": [
                    {
                        "id": f"item_{year}_{i}",
                        "compliance_point_code": "OS-1",
                        "finding_question_code": "OS-1-1",
                        "status": ["completed", "pending", "in_progress"][i % 3],
                        "due_date": f"{year}-06-30",
                        "completed_at": f"{year}-06-01" if i % 3 == 0 else None,
                    }
                    for i in range(5)
                ],
            },
        )
    return feed


@dataclass
class FakeSource:
    """Serves a FeedLog as ``/internal/v1/changes``; ``down`` makes it answer 503."""

    log: FeedLog
    down: bool = False
    requests: int = 0


def fake_source_app(source: FakeSource, auth_settings: AuthSettings) -> FastAPI:
    app = FastAPI()
    app.state.auth_settings = auth_settings
    install_problem_handlers(app)

    @app.get("/internal/v1/changes", dependencies=[Depends(Access(Role.SERVICE, Role.ADMIN))])
    async def changes(
        after: int = Query(0, ge=0), limit: int = Query(200, ge=1, le=1000)
    ) -> JSONResponse:
        source.requests += 1
        if source.down:
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        return JSONResponse(source.log.page(after, limit))

    return app
