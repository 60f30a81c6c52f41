"""Plausible 2024 training, advisory, committee and seminar activity for the demo factories.

Called by ``bw seed demo`` once the assessment service's demo data exists. Everything is written
through this service's own functions (so every write lands in the change feed), with the
factories and assessments handed in as the reference set instead of HTTP look-ups. Seeded
random: the same input gives the same activity. Idempotent: a second call changes nothing.

``factories``: dicts with at least ``id`` (optionally ``country``, else ``country``'s value, and
``workforce_women`` / ``workforce_men``). Seminars are held by the ``country`` programme.
``assessments``: dicts with ``id`` and ``factory_id``, optionally ``visit_start`` (ISO date) and
``findings`` (``question_code``, ``compliance_point_code``, ``non_compliant``); assessments with
non-compliant findings get an improvement plan, one item per non-compliant compliance point.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role
from services.common.db import Database
from services.training.advisory_visits.schemas import VisitCreate
from services.training.advisory_visits.service import create_visit
from services.training.assessment_client import AssessmentRef, FindingRef, StaticReferences
from services.training.committees.schemas import CommitteeCreate, MeetingCreate, MemberCreate
from services.training.committees.service import create_committee, members_of, record_meeting
from services.training.courses.schemas import CourseCreate, CourseTitle
from services.training.courses.service import create_course
from services.training.demo_data import (
    ADVISORS,
    COURSES,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    SEMINARS,
    SURNAMES,
    TRAINERS,
    VISIT_TOPICS,
)
from services.training.improvement_plans.schemas import ItemCreate, ItemUpdate, PlanCreate
from services.training.improvement_plans.service import create_plan, get_item, update_item
from services.training.models import Course, ImprovementItem
from services.training.seminars.schemas import SeminarCreate
from services.training.seminars.service import create_seminar
from services.training.training_sessions.schemas import SessionCreate
from services.training.training_sessions.service import (
    create_session,
    get_session,
    replace_attendance,
)

SEEDER = Principal(subject="demo-seed", role=Role.STAFF)
YEAR_START, YEAR_END = date(2024, 4, 1), date(2024, 12, 15)


async def seed_demo(
    database: Database,
    factories: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    seed: int = 2024,
    country: str = "UZ",
) -> None:
    rng = random.Random(seed)
    references = StaticReferences(
        {f["id"]: f.get("country", country) for f in factories},
        [_assessment_ref(a) for a in assessments],
    )
    async with database.sessionmaker() as session:
        exists = await session.execute(
            select(col(Course.id)).where(col(Course.code) == COURSES[0]["code"])
        )
        if exists.first() is not None:
            return
        courses = [await create_course(session, _course(c)) for c in COURSES]
        for seminar in SEMINARS:
            await create_seminar(
                session,
                SeminarCreate(
                    **seminar,
                    country=country,
                    venue="Toshkent",
                    participants_women=rng.randint(8, 30),
                    participants_men=rng.randint(6, 25),
                ),
                SEEDER,
            )
        ids = [f["id"] for f in factories]
        for factory in factories:
            share = _women_share(factory)
            await _sessions_in_factory(session, rng, references, courses, factory["id"], share)
            await _advisory_visits(session, rng, references, factory["id"], assessments)
            await _committee(session, rng, references, factory["id"], share)
        for _ in range(min(3, max(0, len(ids) - 1))):
            group = rng.sample(ids, k=min(len(ids), rng.randint(2, 4)))
            await _one_session(session, rng, references, rng.choice(courses), group, 0.7)
        for assessment in assessments:
            await _improvement_plan(session, rng, references, assessment)


def _course(spec: dict[str, Any]) -> CourseCreate:
    en, uz, ru = spec["title"]
    return CourseCreate(
        code=spec["code"],
        title=CourseTitle(en=en, uz=uz, ru=ru),
        topic=spec["topic"],
        duration_days=spec["duration_days"],
        audience=spec["audience"],
    )


def _assessment_ref(assessment: dict[str, Any]) -> AssessmentRef:
    return AssessmentRef(
        id=assessment["id"],
        factory_id=assessment.get("factory_id"),
        findings=[
            FindingRef(
                question_code=f["question_code"],
                compliance_point_code=f.get("compliance_point_code"),
                non_compliant=f.get("non_compliant"),
            )
            for f in assessment.get("findings", [])
        ],
    )


def _women_share(factory: dict[str, Any]) -> float:
    women, men = factory.get("workforce_women"), factory.get("workforce_men")
    if isinstance(women, int) and isinstance(men, int) and women + men > 0:
        return float(women / (women + men))
    return 0.75


def _day(rng: random.Random, start: date = YEAR_START, end: date = YEAR_END) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


async def _one_session(
    session: AsyncSession,
    rng: random.Random,
    references: StaticReferences,
    course: Course,
    factory_ids: list[str],
    women_share: float,
) -> None:
    start = _day(rng)
    training = await create_session(
        session,
        SessionCreate(
            course_id=course.id,
            start_date=start,
            end_date=start + timedelta(days=max(0, int(course.duration_days) - 1)),
            trainers=rng.sample(TRAINERS, k=rng.randint(1, 2)),
            venue="Toshkent" if len(factory_ids) > 1 else "Factory training room",
            delivery="multi_factory" if len(factory_ids) > 1 else "in_factory",
            factory_ids=factory_ids,
        ),
        references,
        SEEDER,
    )
    roles = {
        "supervisory_skills": ["supervisor"],
        "hr_management": ["manager"],
    }.get(course.topic, ["worker", "worker", "supervisor", "manager", "worker_representative"])
    rows = []
    for _ in range(rng.randint(12, 30)):
        attended = rng.random() > 0.06
        rows.append(
            {
                "sex": "female" if rng.random() < women_share else "male",
                "role": rng.choice(roles),
                "factory_id": rng.choice(factory_ids),
                "attended": attended,
                "completed": attended and rng.random() > 0.08,
            }
        )
    await replace_attendance(session, await get_session(session, training.id, SEEDER), rows)


async def _sessions_in_factory(
    session: AsyncSession,
    rng: random.Random,
    references: StaticReferences,
    courses: list[Course],
    factory_id: str,
    women_share: float,
) -> None:
    for course in rng.sample(courses, k=rng.randint(2, 3)):
        await _one_session(session, rng, references, course, [factory_id], women_share)


async def _advisory_visits(
    session: AsyncSession,
    rng: random.Random,
    references: StaticReferences,
    factory_id: str,
    assessments: list[dict[str, Any]],
) -> None:
    points = sorted(
        {
            f["compliance_point_code"]
            for a in assessments
            if a.get("factory_id") == factory_id
            for f in a.get("findings", [])
            if f.get("non_compliant") and f.get("compliance_point_code")
        }
    )
    for _ in range(rng.randint(3, 6)):
        await create_visit(
            session,
            VisitCreate(
                factory_id=factory_id,
                visit_date=_day(rng),
                advisors=rng.sample(ADVISORS, k=rng.randint(1, 2)),
                topics=rng.sample(VISIT_TOPICS, k=2),
                compliance_point_codes=rng.sample(points, k=min(len(points), 3)),
                notes="Follow-up with the bipartite committee.",
            ),
            references,
            SEEDER,
        )


def _person(rng: random.Random, female: bool) -> str:
    first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
    surname = rng.choice(SURNAMES)
    return f"{first} {surname if female else surname.removesuffix('a')}"


async def _committee(
    session: AsyncSession,
    rng: random.Random,
    references: StaticReferences,
    factory_id: str,
    women_share: float,
) -> None:
    established = date(2024, rng.randint(3, 6), rng.randint(1, 28))
    members = []
    for index in range(rng.randint(6, 10)):
        workers_side = index % 2 == 0
        female = rng.random() < (women_share if workers_side else 0.45)
        members.append(
            MemberCreate(
                full_name=_person(rng, female),
                role="worker_representative" if workers_side else "management_representative",
                sex="female" if female else "male",
                selection="elected" if workers_side else "appointed",
                is_chair=index == 0,
                joined_on=established,
            )
        )
    committee = await create_committee(
        session,
        CommitteeCreate(factory_id=factory_id, established_on=established, members=members),
        references,
        SEEDER,
    )
    roster = [m.id for m in await members_of(session, committee.id)]
    meeting_day = established + timedelta(days=14)
    while meeting_day <= YEAR_END:
        present = rng.sample(roster, k=max(1, len(roster) - rng.randint(0, 2)))
        await record_meeting(
            session,
            committee,
            MeetingCreate(
                meeting_date=meeting_day,
                attendee_member_ids=present,
                minutes_summary="Improvement plan priorities reviewed; next steps agreed.",
            ),
        )
        meeting_day += timedelta(days=rng.choice([28, 35, 42]))


async def _improvement_plan(
    session: AsyncSession,
    rng: random.Random,
    references: StaticReferences,
    assessment: dict[str, Any],
) -> None:
    first_by_point: dict[str, str] = {}
    for found in assessment.get("findings", []):
        point = found.get("compliance_point_code")
        if found.get("non_compliant") and point and point not in first_by_point:
            first_by_point[point] = found["question_code"]
    if not first_by_point or not assessment.get("factory_id"):
        return
    visited = _iso_date(assessment.get("visit_start")) or _day(rng, YEAR_START, date(2024, 10, 31))
    created_on = visited + timedelta(days=30)
    items = [
        ItemCreate(
            compliance_point_code=point,
            finding_question_code=question,
            action=f"Remedy the non-compliance found under {point} ({question}).",
            owner=rng.choice(["HR manager", "Chief engineer", "Production manager"]),
            due_date=created_on + timedelta(days=rng.choice([30, 60, 90, 120])),
        )
        for point, question in sorted(first_by_point.items())[:8]
    ]
    plan = await create_plan(
        session,
        PlanCreate(
            factory_id=assessment["factory_id"], assessment_id=assessment["id"], items=items
        ),
        references,
        SEEDER,
        created_on=created_on,
    )
    today = date.today()
    for item_id in [i.id for i in await _plan_items(session, plan.id)]:
        progress = rng.random()
        started = created_on + timedelta(days=rng.randint(5, 40))
        if progress < 0.25 or started > today:
            continue
        item = await get_item(session, plan, item_id)
        await update_item(
            session, plan, item, ItemUpdate(status="in_progress", effective_date=started), SEEDER
        )
        finished = started + timedelta(days=rng.randint(10, 60))
        if progress > 0.55 and finished <= today:
            item = await get_item(session, plan, item_id)
            await update_item(
                session,
                plan,
                item,
                ItemUpdate(status="completed", effective_date=finished),
                SEEDER,
            )


async def _plan_items(session: AsyncSession, plan_id: str) -> list[Any]:
    stmt = select(ImprovementItem).where(col(ImprovementItem.plan_id) == plan_id)
    return list((await session.execute(stmt.order_by(ImprovementItem.id))).scalars())


def _iso_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
