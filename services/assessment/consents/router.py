"""Consents, nested under their factory: grant, revoke, and the full history."""

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.consents import service
from services.assessment.consents.schemas import ConsentGrant, ConsentRead
from services.assessment.factories.service import get_factory
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.etag import if_match_exempt
from services.common.pagination import Page, PageParams

router = APIRouter(prefix="/v1/factories/{factory_id}/consents", tags=["consents"])

# A factory manages its own consents; programme staff may act for it.
MANAGERS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY)
READERS = Access(Role.ADMIN, Role.STAFF, Role.FACTORY, Role.SERVICE)


@router.post(
    "",
    status_code=201,
    response_model=ConsentRead,
    summary="Share data with a brand",
    openapi_extra=if_match_exempt(
        "Creates a new consent; the factory does not change, and a second active grant for the "
        "same brand answers 409."
    ),
)
async def grant_consent(
    factory_id: str,
    body: ConsentGrant,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(MANAGERS),
) -> ConsentRead:
    factory = await get_factory(session, factory_id, caller)
    return service.to_read(await service.grant(session, factory, body.brand_id, caller))


@router.post(
    "/{consent_id}/revoke",
    response_model=ConsentRead,
    summary="Stop sharing data with a brand",
    openapi_extra=if_match_exempt(
        "One-way and at most once: a consent is never changed otherwise, and revoking it again "
        "answers 409, so no concurrent change can be lost; stopping sharing must not wait on a "
        "fresh read."
    ),
)
async def revoke_consent(
    factory_id: str,
    consent_id: str,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(MANAGERS),
) -> ConsentRead:
    factory = await get_factory(session, factory_id, caller)
    return service.to_read(await service.revoke(session, factory, consent_id, caller))


@router.get("", response_model=Page[ConsentRead], summary="Consent history of a factory")
async def list_consents(
    factory_id: str,
    active: bool | None = Query(None, description="Only active (true) or revoked (false)."),
    params: PageParams = Depends(service.CONSENT_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> Page[ConsentRead]:
    await get_factory(session, factory_id, caller)
    rows, next_cursor = await service.list_consents(session, factory_id, params, active)
    return Page(
        items=[service.to_read(r) for r in rows], next_cursor=next_cursor, total=params.total
    )
