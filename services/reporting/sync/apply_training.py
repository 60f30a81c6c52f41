"""Appliers for the training service's feed: courses, sessions, advisory visits, committees,
improvement plans, seminars."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import (
    AdvisoryVisit,
    Committee,
    CommitteeMeeting,
    Course,
    ImprovementPlanItem,
    Seminar,
    TrainingSession,
    TrainingSessionFactory,
)
from services.reporting.sync.rows import (
    ApplyContext,
    Event,
    as_int,
    insert_rows,
    parse_date,
    upsert,
)


async def apply_course(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        Course,
        [
            {
                "id": p["id"],
                "code": p.get("code"),
                "title": p.get("title"),
                "topic": p.get("topic"),
                "duration_days": p.get("duration_days"),
                "audience": p.get("audience"),
            }
        ],
    )


async def apply_training_session(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    participants = p.get("participants") or {}
    by_sex = participants.get("by_sex") or {}
    by_role = participants.get("by_role") or {}
    await upsert(
        session,
        TrainingSession,
        [
            {
                "id": p["id"],
                "course_id": p.get("course_id"),
                "course_topic": p.get("course_topic"),
                "start_date": parse_date(p.get("start_date")),
                "end_date": parse_date(p.get("end_date")),
                "delivery": p.get("delivery"),
                "participants_total": as_int(participants.get("total")),
                "participants_female": as_int(by_sex.get("female")),
                "participants_male": as_int(by_sex.get("male")),
                "participants_worker": as_int(by_role.get("worker")),
                "participants_supervisor": as_int(by_role.get("supervisor")),
                "participants_manager": as_int(by_role.get("manager")),
                "participants_worker_representative": as_int(by_role.get("worker_representative")),
                "participants_completed": as_int(participants.get("completed")),
            }
        ],
    )
    await session.execute(
        delete(TrainingSessionFactory).where(col(TrainingSessionFactory.session_id) == p["id"])
    )
    await insert_rows(
        session,
        TrainingSessionFactory,
        [
            {"session_id": p["id"], "factory_id": f}
            for f in dict.fromkeys(p.get("factory_ids") or [])
        ],
    )


async def apply_advisory_visit(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        AdvisoryVisit,
        [
            {
                "id": p["id"],
                "factory_id": p.get("factory_id"),
                "visit_date": parse_date(p.get("visit_date")),
                "topics": p.get("topics"),
                "compliance_point_codes": p.get("compliance_point_codes"),
            }
        ],
    )


async def apply_committee(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    members = p.get("members") or {}
    await upsert(
        session,
        Committee,
        [
            {
                "id": p["id"],
                "factory_id": p.get("factory_id"),
                "members_total": as_int(members.get("total")),
                "members_women": as_int(members.get("women")),
                "members_men": as_int(members.get("men")),
            }
        ],
    )


async def apply_committee_meeting(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        CommitteeMeeting,
        [
            {
                "id": p["id"],
                "committee_id": p.get("committee_id"),
                "factory_id": p.get("factory_id"),
                "meeting_date": parse_date(p.get("meeting_date")),
                "attendees_total": as_int(p.get("attendees_total")),
                "attendees_women": as_int(p.get("attendees_women")),
            }
        ],
    )


async def apply_improvement_plan(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await session.execute(
        delete(ImprovementPlanItem).where(col(ImprovementPlanItem.plan_id) == p["id"])
    )
    await upsert(
        session,
        ImprovementPlanItem,
        [
            {
                "id": item["id"],
                "plan_id": p["id"],
                "factory_id": p.get("factory_id"),
                "assessment_id": p.get("assessment_id"),
                "compliance_point_code": item.get("compliance_point_code"),
                "finding_question_code": item.get("finding_question_code"),
                "status": item.get("status"),
                "due_date": parse_date(item.get("due_date")),
                "completed_at": parse_date(item.get("completed_at")),
            }
            for item in p.get("items") or []
        ],
    )


async def apply_seminar(session: AsyncSession, event: Event, _ctx: ApplyContext) -> None:
    p = event["payload"]
    await upsert(
        session,
        Seminar,
        [
            {
                "id": p["id"],
                "kind": p.get("kind"),
                "event_date": parse_date(p.get("event_date")),
                "topic": p.get("topic"),
                "organisations": p.get("organisations"),
                "participants_women": as_int(p.get("participants_women")),
                "participants_men": as_int(p.get("participants_men")),
            }
        ],
    )
