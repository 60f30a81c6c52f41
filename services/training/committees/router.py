from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.etag import if_match_exempt
from services.common.pagination import Page, PageParams
from services.training.access import READ, WRITE
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
from services.training.common import check_if_match, set_etag

router = APIRouter(prefix="/v1/committees", tags=["committees"])


@router.post("", status_code=201, response_model=CommitteeRead, summary="Set up a committee")
async def create_committee(
    body: CommitteeCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> CommitteeRead:
    committee = await service.create_committee(session, body, references, caller)
    set_etag(response, committee.id, committee.version)
    return await service.committee_read(session, committee)


@router.get("", response_model=Page[CommitteeRead], summary="Committees")
async def list_committees(
    factory_id: str | None = Query(None, max_length=40),
    params: PageParams = Depends(service.COMMITTEE_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[CommitteeRead]:
    rows, next_cursor = await service.list_committees(session, params, caller, factory_id)
    items = [await service.committee_read(session, c) for c in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{committee_id}", response_model=CommitteeRead, summary="A committee and members")
async def get_committee(
    committee_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> CommitteeRead:
    committee = await service.get_committee(session, committee_id, caller)
    set_etag(response, committee.id, committee.version)
    return await service.committee_read(session, committee)


@router.patch("/{committee_id}", response_model=CommitteeRead, summary="Rename (If-Match)")
async def update_committee(
    committee_id: str,
    body: CommitteeUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> CommitteeRead:
    committee = await service.get_committee(session, committee_id, caller)
    check_if_match(request, committee.id, committee.version)
    committee = await service.update_committee(session, committee, body)
    set_etag(response, committee.id, committee.version)
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
    committee_id: str,
    body: MemberCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> MemberRead:
    member = await service.add_member(session, committee_id, body, caller)
    set_etag(response, member.id, member.version)
    return MemberRead.model_validate(member)


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
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> MemberRead:
    committee = await service.lock_committee(session, committee_id, caller)
    member = await service.get_member(session, committee.id, member_id)
    check_if_match(request, member.id, member.version)
    member = await service.update_member(session, committee, member, body)
    set_etag(response, member.id, member.version)
    return MemberRead.model_validate(member)


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
    committee_id: str,
    body: MeetingCreate,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> MeetingRead:
    committee = await service.get_committee(session, committee_id, caller)
    return MeetingRead.model_validate(await service.record_meeting(session, committee, body))


@router.get(
    "/{committee_id}/meetings", response_model=Page[MeetingRead], summary="Committee meetings"
)
async def list_meetings(
    committee_id: str,
    params: PageParams = Depends(service.MEETING_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[MeetingRead]:
    committee = await service.get_committee(session, committee_id, caller)
    rows, next_cursor = await service.list_meetings(session, committee, params)
    return Page(
        items=[MeetingRead.model_validate(m) for m in rows],
        next_cursor=next_cursor,
        total=params.total,
    )
