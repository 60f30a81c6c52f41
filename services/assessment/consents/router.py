"""Consents, nested under their factory: grant, revoke, and the full history."""

from fastapi import APIRouter, Depends, Query

from services.assessment.access import ConsentManager, ConsentReader
from services.assessment.consents import service
from services.assessment.consents.schemas import ConsentGrant, ConsentRead
from services.assessment.factories.service import get_factory
from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import if_match_exempt
from services.common.pagination import Page, PageParams

router = APIRouter(prefix="/v1/factories/{factory_id}/consents", tags=["consents"])


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
    factory_id: str, body: ConsentGrant, caller: ConsentManager, session: SessionDep
) -> ConsentRead:
    """The factory lets a brand see it and its published assessments. A factory manages its
    own consents (staff may act for it); a second active consent for the same brand is 409."""
    factory = await get_factory(session, factory_id, caller)
    return ConsentRead.of(await service.grant(session, factory, body.brand_id, caller))


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
    factory_id: str, consent_id: str, caller: ConsentManager, session: SessionDep
) -> ConsentRead:
    """Stops sharing with a brand at once: from this answer on, the brand no longer sees the
    factory or its assessments. Revoking twice is 409."""
    factory = await get_factory(session, factory_id, caller)
    return ConsentRead.of(await service.revoke(session, factory, consent_id, caller))


@router.get("", response_model=Page[ConsentRead], summary="Consent history of a factory")
async def list_consents(
    factory_id: str,
    caller: ConsentReader,
    session: ReadSessionDep,
    active: bool | None = Query(None, description="Only active (true) or revoked (false)."),
    params: PageParams = Depends(service.CONSENT_SORTING.page_params),
) -> Page[ConsentRead]:
    """The factory's consents, revoked ones included, with who granted and revoked them and
    when: the record of whom the factory let see its data."""
    await get_factory(session, factory_id, caller)
    rows, next_cursor = await service.list_consents(session, factory_id, params, active=active)
    items = [ConsentRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)
