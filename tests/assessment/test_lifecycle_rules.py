"""The lifecycle's finer rules (issue 15): findings stay open in ``draft``, and a refused move
says, in words and as data, which moves are allowed from where the assessment stands."""

import httpx
import pytest

from services.assessment.assessments.state_machine import (
    FINAL,
    FINDINGS_OPEN,
    IllegalTransition,
    Status,
    allowed_transitions,
    check_transition,
)
from tests.assessment.builders import (
    ADMIN,
    all_findings,
    assert_problem,
    created,
    move,
    new_assessment,
    new_factory,
    published_catalog,
    record_finding,
    submit_findings,
    walk,
)


def refusal(current: str, target: str) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, target)
    return caught.value


def test_a_refusal_names_the_move_and_lists_the_allowed_ones_in_order() -> None:
    error = refusal("scheduled", "published")
    assert str(error) == (
        "An assessment cannot go from scheduled to published; "
        "allowed from scheduled: cancelled, in_progress."
    )
    assert (error.current, error.target) == (Status.scheduled, Status.published)


@pytest.mark.parametrize("final", sorted(FINAL))
def test_a_refusal_from_a_final_status_says_none_are_allowed(final: Status) -> None:
    error = refusal(final, "draft")
    assert str(error).endswith(f"allowed from {final}: none (final).")


def test_allowed_transitions_are_sorted_names_and_accept_a_plain_string() -> None:
    assert allowed_transitions("draft") == ["cancelled", "factory_review", "published"]
    assert allowed_transitions(Status.published) == []


def test_findings_are_open_exactly_in_progress_and_draft() -> None:
    assert {Status.in_progress, Status.draft} == FINDINGS_OPEN


async def test_findings_are_accepted_and_changed_while_in_draft(
    assessment_client: httpx.AsyncClient,
) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await created(
        await new_assessment(assessment_client, factory["id"], catalog["id"])
    )
    await walk(assessment_client, assessment["id"], "in_progress")
    first = await submit_findings(assessment_client, assessment["id"], all_findings())
    assert first.status_code == 200, first.text
    await walk(assessment_client, assessment["id"], "draft")

    bulk = await submit_findings(assessment_client, assessment["id"], all_findings({"CO-1-1"}))
    assert bulk.status_code == 200, bulk.text
    single = await record_finding(
        assessment_client, assessment["id"], "CL-1-2", {"non_compliant": True}
    )
    assert single.status_code == 200, single.text

    findings = await assessment_client.get(
        f"/v1/assessments/{assessment['id']}/findings", headers=ADMIN
    )
    marked = {f["question_code"] for f in findings.json()["items"] if f["non_compliant"]}
    assert marked == {"CO-1-1", "CL-1-2"}


async def test_the_409_for_an_illegal_move_lists_the_allowed_moves(
    assessment_client: httpx.AsyncClient,
) -> None:
    catalog = await published_catalog(assessment_client)
    factory = await new_factory(assessment_client)
    assessment = await created(
        await new_assessment(assessment_client, factory["id"], catalog["id"])
    )
    body = assert_problem(await move(assessment_client, assessment["id"], "published"), 409)
    assert body["detail"] == (
        "An assessment cannot go from scheduled to published; "
        "allowed from scheduled: cancelled, in_progress."
    )
    assert body["status_now"] == "scheduled"
    assert body["allowed_transitions"] == ["cancelled", "in_progress"]
