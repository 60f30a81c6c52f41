"""Who may receive what: a subscription gets an event only within its owner's access, checked
when the delivery is queued and again just before it is sent, so a consent revoked (or a
factory moved out of the owner's country) stops deliveries at once, queued ones included.

- admin and service subscriptions: every event.
- brand subscriptions: an event about factories only for the factories whose consent to share
  with the brand is live; aggregates (the annual report) like the public. The payload is cut to
  what the brand may see (the other factories of a training session, other buyers).
- a token bound to a country (services/common/scope.py) keeps its subscription to that country.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Access, Principal, Role
from services.common.scope import in_country_scope
from services.reporting.models import BrandConsent
from services.reporting.webhooks.models import WebhookSubscription


@dataclass(frozen=True)
class Grant:
    """The event may be delivered; ``factory_ids``: the ones the subscriber may see (None for
    an event about no particular factory)."""

    factory_ids: list[str] | None


def owner(sub: WebhookSubscription) -> Principal:
    return Principal(
        subject=sub.owner_subject, role=sub.owner_role, brand_id=sub.brand_id, country=sub.country
    )


async def consenting_factories(
    session: AsyncSession, brand_id: str | None, factory_ids: list[str]
) -> list[str]:
    """Those of ``factory_ids`` whose consent to share with ``brand_id`` is live, in order."""
    if not brand_id or not factory_ids:
        return []
    stmt = select(col(BrandConsent.factory_id)).where(
        col(BrandConsent.brand_id) == brand_id,
        col(BrandConsent.factory_id).in_(factory_ids),
        col(BrandConsent.revoked_at).is_(None),
    )
    live = set((await session.execute(stmt)).scalars())
    return [f for f in factory_ids if f in live]


async def live_consents(
    session: AsyncSession, brand_ids: set[str], factory_ids: list[str]
) -> set[tuple[str, str]]:
    """(brand, factory) pairs with a live consent: one query for every brand subscription an
    event concerns, instead of one per subscription."""
    if not brand_ids or not factory_ids:
        return set()
    stmt = select(col(BrandConsent.brand_id), col(BrandConsent.factory_id)).where(
        col(BrandConsent.brand_id).in_(brand_ids),
        col(BrandConsent.factory_id).in_(factory_ids),
        col(BrandConsent.revoked_at).is_(None),
    )
    return {(brand, factory) for brand, factory in (await session.execute(stmt)).all()}


async def may_receive(
    session: AsyncSession,
    sub: WebhookSubscription,
    factory_ids: list[str] | None,
    country: str | None,
    consents: set[tuple[str, str]] | None = None,
) -> Grant | None:
    """A :class:`Grant` when ``sub`` may receive an event about ``factory_ids`` in
    ``country``; None when it may not. ``consents``: the live pairs, when already read."""
    principal = owner(sub)
    if country is not None and not in_country_scope(principal, country):
        return None
    if principal.role != Role.BRAND:
        return Grant(factory_ids)
    if factory_ids is None:
        return Grant(None)
    if consents is None:
        allowed = await consenting_factories(session, sub.brand_id, factory_ids)
    else:
        allowed = [f for f in factory_ids if (sub.brand_id, f) in consents]
    return Grant(allowed) if allowed else None


def shape(sub: WebhookSubscription, data: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """The event's data as this subscriber may see it."""
    if sub.owner_role != Role.BRAND:
        return data
    shaped = dict(data)
    if "factory_ids" in shaped and grant.factory_ids is not None:
        shaped["factory_ids"] = [f for f in shaped["factory_ids"] if f in grant.factory_ids]
    if "buyer_brand_ids" in shaped:
        shaped["buyer_brand_ids"] = [b for b in shaped["buyer_brand_ids"] if b == sub.brand_id]
    return shaped


# Who may manage webhooks: integrating systems (service), brands for themselves, and admins.
MANAGE = Access(Role.ADMIN, Role.SERVICE, Role.BRAND)
Subscriber = Annotated[Principal, Depends(MANAGE)]
