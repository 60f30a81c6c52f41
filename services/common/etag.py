"""ETags and ``If-Match`` for optimistic concurrency: of N concurrent updates from one version,
exactly one wins and the rest get 412; no update is lost.

A mutable table inherits :class:`Versioned` (``class Factory(AssessmentTable, Versioned,
table=True)``): its ``version`` column is SQLAlchemy's version counter, so the UPDATE itself checks
the version and a racing writer fails even after passing the header check.

Usage in a router::

    response.headers["ETag"] = etag_for(obj.id, obj.version)        # on GET / POST / PATCH
    require_if_match(request, etag_for(obj.id, obj.version))         # before changing obj
    async with stale_write_guard():                                  # around flush/commit
        await session.commit()

A read sent with ``If-None-Match`` and answered with a matching ETag becomes a 304 without the
route knowing (:class:`NotModifiedMiddleware`, installed by ``create_service_app``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import Problem

IF_MATCH_EXEMPT = "x-if-match-exempt"


def if_match_exempt(reason: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that acts on an existing resource's path yet takes no
    If-Match (it adds a new child, say). The reason is published in the OpenAPI document; the
    precondition test over the merged document lets a route off only when it finds one."""
    return {IF_MATCH_EXEMPT: reason}


def etag_for(identifier: str, version: int) -> str:
    return f'"{identifier}.v{version}"'


class Versioned(SQLModel):
    """Mixin for mutable tables: ``version`` starts at 1 and every UPDATE increments it."""

    version: int = Field(default=1)

    @declared_attr  # type: ignore[arg-type]
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def _stale(detail: str) -> Problem:
    return Problem(412, detail, title="Precondition Failed")


def require_if_match(request: Request, current_etag: str) -> None:
    header = request.headers.get("if-match")
    if header is None:
        raise Problem(
            428,
            "Send If-Match with the ETag you last read, so a concurrent change is not lost.",
            title="Precondition Required",
        )
    candidates = {tag.strip() for tag in header.split(",")}
    candidates |= {tag.removeprefix("W/") for tag in candidates}
    if "*" not in candidates and current_etag not in candidates:
        raise _stale(
            f"The resource has changed since you read it (current ETag {current_etag}); "
            "read it again and reapply your change."
        )


async def commit_update(
    session: AsyncSession,
    row: Any,
    changes: Mapping[str, Any],
    record_event: Callable[[], Awaitable[object]],
) -> None:
    """Apply ``changes`` to a versioned row and commit them with the row's change-feed event,
    in one transaction: the UPDATE checks the version (412 if another writer got there first)
    and the event sees the row as written."""
    for key, value in changes.items():
        setattr(row, key, value)
    if hasattr(row, "updated_at"):
        row.updated_at = datetime.now(UTC)
    async with stale_write_guard():
        await session.flush()
        await record_event()
        await session.commit()


@asynccontextmanager
async def stale_write_guard() -> AsyncIterator[None]:
    try:
        yield
    except StaleDataError as exc:
        raise _stale("The resource changed while you were updating it; read it again.") from exc


# --- If-None-Match on reads ----------------------------------------------------------------

_SAFE = frozenset({"GET", "HEAD"})
# What a 304 keeps of the 200 it replaces (RFC 9110 15.4.5): validators and caching metadata,
# and the request id every answer carries.
_KEPT_ON_304 = frozenset(
    {b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary", b"x-request-id"}
)


def none_match(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag``: ``*``, or any listed tag compared
    weakly (``W/"x"`` matches ``"x"``), as RFC 9110 13.1.2 asks of If-None-Match."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


class NotModifiedMiddleware:
    """A read sent with ``If-None-Match`` that matches the ETag of its answer gets ``304 Not
    Modified``, the ETag and no body: a client polling a resource it has re-downloads nothing.

    Generic: any GET whose route sets an ETag gets it, without the route knowing; the route
    still runs (the ETag is only known once it has read the resource), so this saves the
    transfer and the client's parsing, not the read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _SAFE:
            await self.app(scope, receive, send)
            return
        condition = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        if condition is None:
            await self.app(scope, receive, send)
            return
        wanted = condition.decode("latin-1")
        replaced = False

        async def conditional_send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = message.get("headers", [])
                etag = next((v for k, v in headers if k.lower() == b"etag"), None)
                if etag is not None and none_match(wanted, etag.decode("latin-1")):
                    replaced = True
                    kept = [(k, v) for k, v in headers if k.lower() in _KEPT_ON_304]
                    await send({"type": "http.response.start", "status": 304, "headers": kept})
                    return
            if replaced and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, conditional_send)
