"""The audit log: who changed what, when, from which request. Every write already appends an
outbox event in its own transaction, with the actor and request id, so the outbox is the log;
this is its admin-only reading room."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Access, Principal, Role
from services.common.outbox import OutboxFields
from services.common.pagination import Page, PageParams, Sorting, paginate


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_subject: str | None = Field(description="Token subject; null for CLI or seed writes.")
    actor_role: str | None
    request_id: str | None
    event_type: str
    aggregate_type: str
    aggregate_id: str
    state: dict[str, Any] = Field(validation_alias="payload", description="State after the write.")


# Once per process: every app built (each test builds its own) includes this same router, as it
# does the services' module-level routers, instead of analysing its routes' dependencies anew.
@cache
def audit_router(
    model: type[OutboxFields],
    service: str,
    session_dependency: Callable[..., AsyncIterator[AsyncSession]],
) -> APIRouter:
    router = APIRouter(prefix=f"/v1/audit/{service}", tags=["audit"])
    columns: Any = model
    sorting = Sorting(columns.id, occurred_at=columns.occurred_at)

    @router.get(
        "/events", response_model=Page[AuditEntry], summary=f"Audit log of the {service} service"
    )
    async def audit_events(
        aggregate_type: str | None = Query(None, max_length=80),
        aggregate_id: str | None = Query(None, max_length=64),
        actor: str | None = Query(None, max_length=200, description="Token subject."),
        since: datetime | None = None,
        until: datetime | None = None,
        params: PageParams = Depends(sorting.page_params),
        session: AsyncSession = Depends(session_dependency),
        _caller: Principal = Depends(Access(Role.ADMIN)),
    ) -> Page[AuditEntry]:
        """Every write of the service, oldest first: what changed (the state after the write),
        who changed it (token subject and role) and in which request. Admin only: it names
        the people behind every change."""
        stmt = select(model)
        if aggregate_type:
            stmt = stmt.where(columns.aggregate_type == aggregate_type)
        if aggregate_id:
            stmt = stmt.where(columns.aggregate_id == aggregate_id)
        if actor:
            stmt = stmt.where(columns.actor_subject == actor)
        if since:
            stmt = stmt.where(columns.occurred_at >= since)
        if until:
            stmt = stmt.where(columns.occurred_at < until)
        rows, next_cursor = await paginate(session, stmt, sorting, params)
        entries = [AuditEntry.model_validate(row) for row in rows]
        return Page(items=entries, next_cursor=next_cursor, total=params.total)

    return router
