"""Bipartite worker-management committees, their members and their meetings.

A committee's snapshot (``committee.*``) carries its current membership counts; every change to
a member re-emits it. Member changes lock the committee row first, so concurrent changes queue
and each snapshot sees the others' committed work.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.etag import stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, already_exists, not_found
from services.training.access import (
    NothingVisible,
    fetch_owned,
    in_scope,
    visible_factory_filter,
)
from services.training.assessment_client import References, require_factories
from services.training.committees.schemas import (
    CommitteeCreate,
    CommitteeRead,
    CommitteeUpdate,
    MeetingCreate,
    MemberCounts,
    MemberCreate,
    MemberUpdate,
)
from services.training.common import changes, today
from services.training.events import record_event
from services.training.models import Committee, CommitteeMeeting, CommitteeMember
from services.training.vocabulary import MemberRole, Sex

# The orders these lists offer (``sort``); ties fall back to the unique key.
COMMITTEE_SORTING = Sorting(
    Committee.id,
    factory_id=Committee.factory_id,
    created_at=Committee.created_at,
    updated_at=Committee.updated_at,
)

MEETING_SORTING = Sorting(
    CommitteeMeeting.id,
    meeting_date=CommitteeMeeting.meeting_date,
    attendees_total=CommitteeMeeting.attendees_total,
    created_at=CommitteeMeeting.created_at,
)


def is_current(member: CommitteeMember, on: date) -> bool:
    return member.joined_on <= on and (member.left_on is None or member.left_on > on)


def member_counts(members: list[CommitteeMember], on: date) -> MemberCounts:
    current = [m for m in members if is_current(m, on)]
    return MemberCounts(
        total=len(current),
        women=sum(m.sex == Sex.FEMALE for m in current),
        men=sum(m.sex == Sex.MALE for m in current),
        worker_representatives=sum(m.role == MemberRole.WORKER_REPRESENTATIVE for m in current),
        management_representatives=sum(
            m.role == MemberRole.MANAGEMENT_REPRESENTATIVE for m in current
        ),
    )


async def members_of(session: AsyncSession, committee_id: str) -> list[CommitteeMember]:
    stmt = (
        select(CommitteeMember)
        .where(col(CommitteeMember.committee_id) == committee_id)
        .order_by(CommitteeMember.joined_on, CommitteeMember.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(stmt)).scalars())


async def committee_read(session: AsyncSession, committee: Committee) -> CommitteeRead:
    members = await members_of(session, committee.id)
    return CommitteeRead.of(committee, members, member_counts(members, today()))


async def _emit(session: AsyncSession, event_type: str, committee: Committee) -> None:
    await session.flush()
    counts = member_counts(await members_of(session, committee.id), today())
    payload: dict[str, Any] = {
        "id": committee.id,
        "factory_id": committee.factory_id,
        "country": committee.country,
        "name": committee.name,
        "members": counts.model_dump(),
    }
    await record_event(session, event_type, committee.id, payload)


def _check_single_chair(members: list[MemberCreate]) -> None:
    chairs = [m for m in members if m.is_chair and m.left_on is None]
    if len(chairs) > 1:
        raise Problem(422, "A committee has one chair; the list names several.")


async def create_committee(
    session: AsyncSession, data: CommitteeCreate, references: References, principal: Principal
) -> Committee:
    countries = await require_factories(references, [data.factory_id], "body.factory_id", principal)
    _check_single_chair(data.members)
    committee = Committee(
        id=new_id("com"),
        factory_id=data.factory_id,
        country=countries[data.factory_id],
        name=data.name,
        established_on=data.established_on,
    )
    session.add(committee)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise already_exists(f"Factory {data.factory_id!r} already has a committee.") from exc
    session.add_all(
        CommitteeMember(id=new_id("mem"), committee_id=committee.id, **m.model_dump())
        for m in data.members
    )
    await _emit(session, "committee.created", committee)
    await session.commit()
    return committee


async def get_committee(
    session: AsyncSession, committee_id: str, principal: Principal
) -> Committee:
    return await fetch_owned(session, Committee, committee_id, "Committee", principal)


async def lock_committee(
    session: AsyncSession, committee_id: str, principal: Principal
) -> Committee:
    """The committee row, locked until commit (PostgreSQL; SQLite writers queue anyway)."""
    return await fetch_owned(session, Committee, committee_id, "Committee", principal, lock=True)


async def update_committee(
    session: AsyncSession, committee: Committee, data: CommitteeUpdate
) -> Committee:
    for name, value in changes(data, required=set()).items():
        setattr(committee, name, value)
    committee.updated_at = utcnow()
    async with stale_write_guard():
        await _emit(session, "committee.updated", committee)
        await session.commit()
    return committee


async def _step_down_other_chairs(
    session: AsyncSession, committee_id: str, new_chair_id: str
) -> None:
    """Naming a chair hands the chair over: the previous chair stays a member."""
    for member in await members_of(session, committee_id):
        if member.is_chair and member.id != new_chair_id:
            member.is_chair = False


async def add_member(
    session: AsyncSession, committee_id: str, data: MemberCreate, principal: Principal
) -> CommitteeMember:
    committee = await lock_committee(session, committee_id, principal)
    if data.is_chair and data.left_on is not None:
        raise Problem(422, "A member who has left cannot be the chair.")
    member = CommitteeMember(id=new_id("mem"), committee_id=committee.id, **data.model_dump())
    session.add(member)
    if member.is_chair:
        await _step_down_other_chairs(session, committee.id, member.id)
    committee.updated_at = utcnow()
    await _emit(session, "committee.updated", committee)
    await session.commit()
    return member


async def get_member(session: AsyncSession, committee_id: str, member_id: str) -> CommitteeMember:
    member = await session.get(CommitteeMember, member_id)
    if member is None or member.committee_id != committee_id:
        raise not_found("Committee member", member_id)
    return member


async def update_member(
    session: AsyncSession, committee: Committee, member: CommitteeMember, data: MemberUpdate
) -> CommitteeMember:
    fields = changes(
        data, required={"full_name", "role", "sex", "selection", "is_chair", "joined_on"}
    )
    for name, value in fields.items():
        setattr(member, name, value)
    if member.left_on is not None and member.left_on < member.joined_on:
        raise Problem(422, "left_on is before joined_on.")
    if member.left_on is not None and member.left_on <= today():
        member.is_chair = False
    elif fields.get("is_chair"):
        await _step_down_other_chairs(session, committee.id, member.id)
    committee.updated_at = utcnow()
    async with stale_write_guard():
        await _emit(session, "committee.updated", committee)
        await session.commit()
    return member


async def record_meeting(
    session: AsyncSession, committee: Committee, data: MeetingCreate
) -> CommitteeMeeting:
    members = {m.id: m for m in await members_of(session, committee.id)}
    unknown = [mid for mid in data.attendee_member_ids if mid not in members]
    absent = [
        mid
        for mid in data.attendee_member_ids
        if mid in members and not is_current(members[mid], data.meeting_date)
    ]
    if unknown or absent:
        errors = [
            {"location": "body.attendee_member_ids", "message": f"{mid!r} is not a member"}
            for mid in unknown
        ] + [
            {
                "location": "body.attendee_member_ids",
                "message": f"{mid!r} was not a member on {data.meeting_date.isoformat()}",
            }
            for mid in absent
        ]
        raise Problem(
            422,
            "Attendees must be members on the meeting date.",
            title="Unknown reference",
            errors=errors,
        )
    attendees = [members[mid] for mid in dict.fromkeys(data.attendee_member_ids)]
    meeting = CommitteeMeeting(
        id=new_id("mtg"),
        committee_id=committee.id,
        meeting_date=data.meeting_date,
        attendee_member_ids=[m.id for m in attendees],
        guests_women=data.guests_women,
        guests_men=data.guests_men,
        attendees_total=len(attendees) + data.guests_women + data.guests_men,
        attendees_women=sum(m.sex == Sex.FEMALE for m in attendees) + data.guests_women,
        minutes_summary=data.minutes_summary,
    )
    session.add(meeting)
    await session.flush()
    await record_event(
        session,
        "committee_meeting.created",
        meeting.id,
        {
            "id": meeting.id,
            "committee_id": committee.id,
            "factory_id": committee.factory_id,
            "country": committee.country,
            "meeting_date": meeting.meeting_date.isoformat(),
            "attendees_total": meeting.attendees_total,
            "attendees_women": meeting.attendees_women,
        },
    )
    await session.commit()
    return meeting


async def list_committees(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    factory_id: str | None = None,
) -> tuple[list[Committee], str | None]:
    stmt = select(Committee).where(in_scope(Committee, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if factory_id is not None:
        stmt = stmt.where(col(Committee.factory_id) == factory_id)
    rows, next_cursor = await paginate(session, stmt, COMMITTEE_SORTING, params)
    return list(rows), next_cursor


async def list_meetings(
    session: AsyncSession, committee: Committee, params: PageParams
) -> tuple[list[CommitteeMeeting], str | None]:
    stmt = select(CommitteeMeeting).where(col(CommitteeMeeting.committee_id) == committee.id)
    rows, next_cursor = await paginate(session, stmt, MEETING_SORTING, params)
    return list(rows), next_cursor
