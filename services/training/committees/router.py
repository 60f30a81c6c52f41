"""Bipartite committees of a factory: set up, members (joined, left), meetings."""

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, if_match_exempt, require_if_match
from services.common.pagination import Page, PageParams
from services.training.access import Reader, Writer
from services.training.assessment_client import AssessmentClient, assessment_references
from services.training.committees import service
from services.training.committees.schemas import (
    CommitteeCreate,
    CommitteeRead,
    CommitteeUpdate,
    MeetingCreate,
    MeetingRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
)

router = APIRouter(prefix="/v1/committees", tags=["committees"])


@router.post("", status_code=201, response_model=CommitteeRead, summary="Set up a committee")
async def create_committee(
    body: CommitteeCreate,
    response: Response,
    caller: Writer,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> CommitteeRead:
    """Sets up a factory's bipartite committee, the factory checked with the assessment service
    (422 unknown, 503 when it cannot be asked); a factory has one committee (a second is 409).
    Send an Idempotency-Key to retry safely."""
    committee = await service.create_committee(session, body, references, caller)
    response.headers["ETag"] = etag_for(committee.id, committee.version)
    response.headers["Location"] = f"/v1/committees/{committee.id}"
    return await service.committee_read(session, committee)


@router.get("", response_model=Page[CommitteeRead], summary="Committees")
async def list_committees(
    caller: Reader,
    session: ReadSessionDep,
    factory_id: str | None = Query(None, max_length=40),
    params: PageParams = Depends(service.COMMITTEE_SORTING.page_params),
) -> Page[CommitteeRead]:
    """Committees with their members: a factory token sees its own factory's, staff limited to
    a country that country's."""
    rows, next_cursor = await service.list_committees(
        session, params, caller, factory_id=factory_id
    )
    items = [await service.committee_read(session, c) for c in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{committee_id}", response_model=CommitteeRead, summary="A committee and members")
async def get_committee(
    committee_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> CommitteeRead:
    """A committee with its members and their counts by sex and role, and its ETag."""
    committee = await service.get_committee(session, committee_id, caller)
    response.headers["ETag"] = etag_for(committee.id, committee.version)
    return await service.committee_read(session, committee)


@router.patch("/{committee_id}", response_model=CommitteeRead, summary="Rename (If-Match)")
async def update_committee(
    committee_id: str,
    body: CommitteeUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> CommitteeRead:
    """Renames a committee. Needs If-Match with its current ETag (428 without, 412 when stale)
    and answers the new one."""
    committee = await service.get_committee(session, committee_id, caller)
    require_if_match(request, etag_for(committee.id, committee.version))
    committee = await service.update_committee(session, committee, body)
    response.headers["ETag"] = etag_for(committee.id, committee.version)
    return await service.committee_read(session, committee)


@router.post(
    "/{committee_id}/members",
    status_code=201,
    response_model=MemberRead,
    summary="Add a member",
    openapi_extra=if_match_exempt(
        "Adds a new member, a resource of its own; nothing existing is overwritten, and the "
        "committee row is locked so concurrent additions queue and none is lost."
    ),
)
async def add_member(
    committee_id: str, body: MemberCreate, response: Response, caller: Writer, session: SessionDep
) -> MemberRead:
    """Adds a member. The answer carries the member's own ETag, which changes to the member
    send as If-Match."""
    member = await service.add_member(session, committee_id, body, caller)
    response.headers["ETag"] = etag_for(member.id, member.version)
    return MemberRead.of(member)


@router.patch(
    "/{committee_id}/members/{member_id}",
    response_model=MemberRead,
    summary="Change a member, e.g. record that they left (If-Match of the member)",
)
async def update_member(
    committee_id: str,
    member_id: str,
    body: MemberUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> MemberRead:
    """Changes a member, e.g. records that they left: members are never deleted, so the
    committee's history stays whole. If-Match is the member's ETag (428 without, 412 when
    stale); the answer carries its new one."""
    committee = await service.lock_committee(session, committee_id, caller)
    member = await service.get_member(session, committee.id, member_id)
    require_if_match(request, etag_for(member.id, member.version))
    member = await service.update_member(session, committee, member, body)
    response.headers["ETag"] = etag_for(member.id, member.version)
    return MemberRead.of(member)


@router.post(
    "/{committee_id}/meetings",
    status_code=201,
    response_model=MeetingRead,
    summary="Record a meeting with its attendance and minutes",
    openapi_extra=if_match_exempt(
        "Records a new meeting, a resource of its own; nothing existing is overwritten."
    ),
)
async def record_meeting(
    committee_id: str, body: MeetingCreate, caller: Writer, session: SessionDep
) -> MeetingRead:
    """Records a meeting with the members who attended, guests and minutes; attendees must be
    members on the meeting's date (422 naming the others)."""
    committee = await service.get_committee(session, committee_id, caller)
    return MeetingRead.of(await service.record_meeting(session, committee, body))


@router.get(
    "/{committee_id}/meetings", response_model=Page[MeetingRead], summary="Committee meetings"
)
async def list_meetings(
    committee_id: str,
    caller: Reader,
    session: ReadSessionDep,
    params: PageParams = Depends(service.MEETING_SORTING.page_params),
) -> Page[MeetingRead]:
    """The committee's meetings, for whoever may see the committee."""
    committee = await service.get_committee(session, committee_id, caller)
    rows, next_cursor = await service.list_meetings(session, committee, params)
    items = [MeetingRead.of(m) for m in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)
