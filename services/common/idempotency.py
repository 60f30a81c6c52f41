"""``Idempotency-Key`` for creating POSTs, as ASGI middleware every service installs.

A retry with the same key and body replays the first response (and creates nothing); the same
key with another body gets 422. Keys are scoped to the caller (the token's subject) and path,
and expire after a configured time. Only successful (2xx) responses are remembered, so a failed
attempt can be retried with the same key.

A keyed request runs as one unit of work (``Database.request_transaction``): the route's own
``commit()`` only releases a savepoint, and the middleware commits the route's writes together
with the record of the response it is about to send, then sends it. A crash at any point leaves
either both (a retry replays the answer) or neither (a retry runs afresh), never a write without
its key. A failed attempt (4xx/5xx) rolls back everything, the claim on its key included.

Concurrent requests with one key are serialised by the key's row: SQLite lets one writer in at a
time, and on PostgreSQL the second insert of the same key waits for the first transaction, then
finds its record and replays it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.db import Database
from services.common.problems import kind, problem_response

MAX_KEY_LENGTH = 200
SCOPE_KEY_LENGTH = 300  # the scope_key column's length
REPLAYED_HEADERS = {b"content-type", b"location", b"etag", b"feed-event"}

log = logging.getLogger("bw.idempotency")


class IdempotencyFields(SQLModel):
    """Columns of every service's ``idempotency_record`` table."""

    scope_key: str = Field(primary_key=True, max_length=SCOPE_KEY_LENGTH)
    request_hash: str = Field(max_length=64)
    status: int | None = None
    headers_json: str | None = None
    body_b64: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    expires_at: datetime = Field(index=True)


def _caller_subject(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            token = value.decode("latin-1").partition(" ")[2]
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
                return str(claims.get("sub", "unknown"))
            except jwt.PyJWTError:
                return "invalid-token"
    return "anonymous"


def _scope_key(full: str) -> str:
    """Caller, path and key within the column's 300 characters: a longer one keeps its start
    and ends in a digest of the whole, so keys that differ past the cut never share a record
    (cut short, a second create was refused, or answered with the first's replay)."""
    if len(full) <= SCOPE_KEY_LENGTH:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    return f"{full[: SCOPE_KEY_LENGTH - len(digest) - 1]}#{digest}"


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _send_problem(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, slug: str | None = None
) -> None:
    """A problem of the registry's kind ``slug`` (the status's default kind without one)."""
    registered = kind(slug) if slug else None
    title, type_ = (registered.title, registered.type) if registered else (None, None)
    response = problem_response(Request(scope), status, detail, title=title, type_=type_)
    await response(scope, receive, send)


@dataclass
class _Response:
    """A response held back until the transaction behind it has committed."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    started: bool = False

    @property
    def succeeded(self) -> bool:
        return self.started and 200 <= self.status < 300

    async def capture(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    async def forward(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"".join(self.chunks)})


class IdempotencyMiddleware:
    """``pending_timeout`` only concerns records that an earlier version of this middleware
    committed as pending before running the request: younger ones answer 409, older ones are
    abandoned. This version never commits a pending record."""

    def __init__(
        self,
        app: ASGIApp,
        model: type[IdempotencyFields],
        ttl_seconds: int = 24 * 3600,
        pending_timeout: int = 60,
    ) -> None:
        self.app = app
        self.table: Table = model.__table__  # type: ignore[attr-defined]
        self.ttl = timedelta(seconds=ttl_seconds)
        self.pending_timeout = timedelta(seconds=pending_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            detail = f"An Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters."
            await _send_problem(scope, receive, send, 400, detail, "invalid-idempotency-key")
            return
        try:
            body = await _read_body(receive)
        except HTTPException as refused:  # the input guard's 413 and 422, raised in receive()
            await _send_problem(scope, receive, send, refused.status_code, str(refused.detail))
            return
        if body is None:
            return  # the client went away
        scope_key = _scope_key(f"{_caller_subject(scope)}:{scope.get('path', '')}:{key}")
        request_hash = _request_hash(scope, body)
        database: Database = scope["app"].state.db
        async with database.request_transaction() as unit:
            earlier = await self._claim(unit.connection, scope_key, request_hash)
            if earlier is not None:
                await unit.rollback()
                await self._answer_earlier(scope, receive, send, earlier, request_hash)
                return
            response = _Response()
            await self.app(scope, _replaying(body, receive), response.capture)
            await unit.close_sessions()  # before the record: a savepoint rollback would undo it
            if not response.succeeded:
                await unit.rollback()  # nothing of a failed attempt stays, nor its key
            else:
                await unit.connection.execute(
                    update(self.table)
                    .where(self.table.c.scope_key == scope_key)
                    .values(**_stored_response(response))
                )
                try:
                    await unit.commit()
                except SQLAlchemyError:
                    log.exception("commit of an idempotent request failed")
                    detail = "The request could not be committed; retry it with the same key."
                    await _send_problem(scope, receive, send, 503, detail)
                    return
        await response.forward(send)

    async def _claim(
        self, connection: AsyncConnection, scope_key: str, request_hash: str
    ) -> Row[Any] | None:
        """Insert the key's record in the request's transaction, or return the committed record
        that holds the key already. On PostgreSQL a concurrent request with the same key makes
        the insert wait until that request's transaction ends."""
        table = self.table
        key_matches = table.c.scope_key == scope_key
        for _attempt in range(3):
            now = datetime.now(UTC)
            await connection.execute(
                delete(table).where(
                    key_matches,
                    or_(
                        table.c.expires_at < now,
                        and_(
                            table.c.status.is_(None),
                            table.c.created_at < now - self.pending_timeout,
                        ),
                    ),
                )
            )
            earlier = (await connection.execute(select(table).where(key_matches))).first()
            if earlier is not None:
                return earlier
            insert = (
                postgresql_insert(table)
                if connection.dialect.name == "postgresql"
                else sqlite_insert(table)
            )
            claimed = await connection.execute(
                insert.values(
                    scope_key=scope_key,
                    request_hash=request_hash,
                    created_at=now,
                    expires_at=now + self.ttl,
                ).on_conflict_do_nothing(index_elements=[table.c.scope_key])
            )
            if getattr(claimed, "rowcount", 0) == 1:
                return None
        raise RuntimeError(f"could not claim idempotency key {scope_key!r}")

    async def _answer_earlier(
        self, scope: Scope, receive: Receive, send: Send, earlier: Row[Any], request_hash: str
    ) -> None:
        record = earlier._mapping
        if record["request_hash"] != request_hash:
            detail = "This Idempotency-Key was used with a different request; use a new key."
            await _send_problem(scope, receive, send, 422, detail, "idempotency-key-reused")
        elif record["status"] is None:
            detail = "A request with this Idempotency-Key is still being processed; retry shortly."
            await _send_problem(scope, receive, send, 409, detail, "request-in-progress")
        else:
            await _replay(send, record)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _request_hash(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope.get("method", ""), scope.get("path", ""), scope["query_string"].decode()):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the client sends next (a disconnect)."""
    delivered = False

    async def replay_receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


def _stored_response(response: _Response) -> dict[str, Any]:
    kept = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in response.headers
        if name.lower() in REPLAYED_HEADERS
    ]
    return {
        "status": response.status,
        "headers_json": json.dumps(kept),
        "body_b64": base64.b64encode(b"".join(response.chunks)).decode(),
    }


async def _replay(send: Send, record: Any) -> None:
    body = base64.b64decode(record["body_b64"] or "")
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in json.loads(record["headers_json"] or "[]")
    ]
    headers += [
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": record["status"], "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def purge_expired(sessionmaker: Any, model: type[IdempotencyFields]) -> int:
    async with sessionmaker() as session:
        result = await session.execute(
            delete(model).where(model.expires_at < datetime.now(UTC))  # type: ignore[arg-type]
        )
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
