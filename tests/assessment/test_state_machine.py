"""The lifecycle: every legal and illegal transition, as a plain function and over HTTP."""

import itertools

import httpx
import pytest

from services.assessment.assessments.state_machine import (
    TRANSITIONS,
    IllegalTransition,
    Status,
    check_transition,
)
from tests.assessment.builders import (
    ADMIN,
    all_findings,
    assert_problem,
    created,
    feed,
    move,
    new_assessment,
    new_factory,
    published_catalog,
    submit_findings,
    walk,
)

LEGAL = {
    ("scheduled", "in_progress"),
    ("scheduled", "cancelled"),
    ("in_progress", "draft"),
    ("in_progress", "cancelled"),
    ("draft", "factory_review"),
    ("draft", "published"),
    ("draft", "cancelled"),
    ("factory_review", "draft"),
    ("factory_review", "published"),
    ("factory_review", "cancelled"),
}
ALL_PAIRS = list(itertools.product(list(Status), repeat=2))

# How to reach each status from a new (scheduled) assessment.
PATH = {
    "scheduled": [],
    "in_progress": ["in_progress"],
    "draft": ["in_progress", "draft"],
    "factory_review": ["in_progress", "draft", "factory_review"],
    "published": ["in_progress", "draft", "published"],
    "cancelled": ["cancelled"],
}


def test_the_table_is_exactly_the_documented_lifecycle() -> None:
    table = {(str(a), str(b)) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_check_transition_allows_only_legal_moves(current: Status, target: Status) -> None:
    if (current, target) in LEGAL:
        assert check_transition(current, target) == target
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


@pytest.fixture
async def setup(assessment_client: httpx.AsyncClient) -> dict[str, str]:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    return {"catalog": catalog["id"], "factory": factory["id"]}


async def _at(client: httpx.AsyncClient, setup: dict[str, str], status: str) -> str:
    assessment = await created(await new_assessment(client, setup["factory"], setup["catalog"]))
    for step in PATH[status]:
        if step == "draft":  # findings are recorded while in progress
            response = await submit_findings(client, assessment["id"], all_findings())
            assert response.status_code == 200, response.text
        assert (await move(client, assessment["id"], step)).status_code == 200
    return str(assessment["id"])


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
async def test_every_transition_over_http(
    assessment_client: httpx.AsyncClient, setup: dict[str, str], current: Status, target: Status
) -> None:
    assessment_id = await _at(assessment_client, setup, current)
    before = (await assessment_client.get(f"/v1/assessments/{assessment_id}", headers=ADMIN)).json()
    events_before = len(await feed(assessment_client))
    response = await move(assessment_client, assessment_id, target)
    after = (await assessment_client.get(f"/v1/assessments/{assessment_id}", headers=ADMIN)).json()
    if (current, target) in LEGAL:
        assert response.status_code == 200, response.text
        assert after["status"] == target and after["version"] == before["version"] + 1
        assert len(await feed(assessment_client)) == events_before + 1
    else:
        body = assert_problem(response, 409)
        assert body["status_now"] == current
        assert after == before
        assert len(await feed(assessment_client)) == events_before


async def test_each_transition_records_who_and_when(
    assessment_client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    assessment_id = await _at(assessment_client, setup, "published")
    history = await assessment_client.get(
        f"/v1/assessments/{assessment_id}/transitions", headers=ADMIN
    )
    steps = [(t["from_status"], t["to_status"]) for t in history.json()["items"]]
    assert steps == [
        (None, "scheduled"),
        ("scheduled", "in_progress"),
        ("in_progress", "draft"),
        ("draft", "published"),
    ]
    assert all(t["actor"] == "admin-dev" and t["occurred_at"] for t in history.json()["items"])


async def test_transition_needs_current_etag(
    assessment_client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    assessment = await new_assessment(assessment_client, setup["factory"], setup["catalog"])
    url = f"/v1/assessments/{assessment.json()['id']}/transitions"
    assert_problem(
        await assessment_client.post(url, json={"to": "in_progress"}, headers=ADMIN), 428
    )
    ok = await assessment_client.post(
        url, json={"to": "in_progress"}, headers={**ADMIN, "if-match": assessment.headers["etag"]}
    )
    assert ok.status_code == 200
    stale = await assessment_client.post(
        url, json={"to": "draft"}, headers={**ADMIN, "if-match": assessment.headers["etag"]}
    )
    assert_problem(stale, 412)


async def test_publishing_without_findings_is_refused(
    assessment_client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    assessment = await created(
        await new_assessment(assessment_client, setup["factory"], setup["catalog"])
    )
    await walk(assessment_client, assessment["id"], "in_progress", "draft")
    assert_problem(await move(assessment_client, assessment["id"], "published"), 409)


async def test_unknown_target_status_is_422(
    assessment_client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    assessment = await new_assessment(assessment_client, setup["factory"], setup["catalog"])
    response = await assessment_client.post(
        f"/v1/assessments/{assessment.json()['id']}/transitions",
        json={"to": "approved"},
        headers={**ADMIN, "if-match": "*"},
    )
    assert_problem(response, 422)
