"""The demo seed: plausible 2024 activity for the given factories, written once."""

from typing import Any

import httpx
from fastapi import FastAPI

from services.training.seed import seed_demo
from tests.training.builders import STAFF, feed, finding

FACTORIES = [
    {"id": f"fac_demo{n}", "workforce_women": 400 + 10 * n, "workforce_men": 120} for n in range(9)
]
ASSESSMENTS = [
    {
        "id": f"asm_demo{n}",
        "factory_id": f"fac_demo{n}",
        "visit_start": f"2024-0{4 + n % 6}-1{n}",
        "findings": [
            finding("OSH.1.1", "OSH.1", non_compliant=n % 2 == 0),
            finding("OSH.1.2", "OSH.1"),
            finding("WT.2.1", "WT.2", non_compliant=n % 3 == 0),
            finding("CON.1.1", "CON.1", non_compliant=None),
        ],
    }
    for n in range(9)
]


async def everything(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=params, headers=STAFF)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_demo_activity_covers_the_nine_factories_once(
    training_app: FastAPI, client: httpx.AsyncClient
) -> None:
    database = training_app.state.db
    await seed_demo(database, FACTORIES, ASSESSMENTS)
    sessions = await everything(client, "/v1/training-sessions")
    reached = {f for s in sessions for f in s["factory_ids"]}
    assert reached == {f["id"] for f in FACTORIES}
    assert all(s["start_date"].startswith("2024") for s in sessions)
    participants = sum(s["participants"]["total"] for s in sessions)
    women = sum(s["participants"]["by_sex"]["female"] for s in sessions)
    assert participants > 9 * 2 * 12 * 0.8 and 0.6 < women / participants < 0.9
    visits = await everything(client, "/v1/advisory-visits")
    assert {v["factory_id"] for v in visits} == {f["id"] for f in FACTORIES}
    committees = await everything(client, "/v1/committees")
    assert len(committees) == 9 and all(c["member_counts"]["total"] >= 6 for c in committees)
    plans = await everything(client, "/v1/improvement-plans")
    assert len(plans) == 9
    assert {i["compliance_point_code"] for p in plans for i in p["items"]} <= {"OSH.1", "WT.2"}
    assert any(i["status"] == "completed" for p in plans for i in p["items"])
    seminars = await everything(client, "/v1/seminars")
    assert {s["kind"] for s in seminars} == {"industry_seminar", "pac_meeting", "stakeholder_event"}
    events_after_first = len(await feed(client))

    await seed_demo(database, FACTORIES, ASSESSMENTS)
    assert len(await feed(client)) == events_after_first
    assert len(await everything(client, "/v1/training-sessions")) == len(sessions)
