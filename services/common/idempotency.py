"""``Idempotency-Key`` for creating POSTs, as ASGI middleware every service installs.

A retry with the same key and body replays the first response (and creates nothing); the same
key with another body gets 422; a retry while the first is still running gets 409. Keys are
scoped to the caller (the token's subject) and expire after a configured time. Only successful
(2xx) responses are remembered, so a failed attempt can be retried with the same key.

The record is written in its own transaction before and after the request: if the process dies
between the write's commit and the record's completion, the pending record blocks retries for
``pending_timeout`` seconds and is then treated as abandoned.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE

MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}


class IdempotencyFields(SQLModel):
    """Columns of every service's ``idempotency_record`` table."""

    scope_key: str = Field(primary_key=True, max_length=300)
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


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _send_problem(send: Send, status: int, title: str, detail: str, path: str) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        model: type[IdempotencyFields],
        ttl_seconds: int = 24 * 3600,
        pending_timeout: int = 60,
    ) -> None:
        self.app = app
        self.model = model
        self.ttl = timedelta(seconds=ttl_seconds)
        self.pending_timeout = timedelta(seconds=pending_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if not key or len(key) > MAX_KEY_LENGTH:
            await _send_problem(
                send,
                400,
                "Invalid Idempotency-Key",
                f"An Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters.",
                path,
            )
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        digest = hashlib.sha256()
        for part in (scope.get("method", ""), path, scope.get("query_string", b"").decode()):
            digest.update(part.encode() + b"\0")
        digest.update(body)
        request_hash = digest.hexdigest()
        scope_key = f"{_caller_subject(scope)}:{path}:{key}"[:300]
        sessionmaker = scope["app"].state.db.sessionmaker

        async with sessionmaker() as session:
            record = await session.get(self.model, scope_key)
            now = datetime.now(UTC)
            if record is not None:
                expires = record.expires_at.replace(tzinfo=record.expires_at.tzinfo or UTC)
                created = record.created_at.replace(tzinfo=record.created_at.tzinfo or UTC)
                abandoned = record.status is None and now - created > self.pending_timeout
                if expires < now or abandoned:
                    await session.delete(record)
                    await session.commit()
                    record = None
            if record is not None:
                if record.request_hash != request_hash:
                    await _send_problem(
                        send,
                        422,
                        "Idempotency key reused",
                        "This Idempotency-Key was used with a different request; use a new key.",
                        path,
                    )
                    return
                if record.status is None:
                    await _send_problem(
                        send,
                        409,
                        "Request in progress",
                        "A request with this Idempotency-Key is still being processed; retry "
                        "shortly.",
                        path,
                    )
                    return
                await self._replay(send, record)
                return
            session.add(
                self.model(
                    scope_key=scope_key, request_hash=request_hash, expires_at=now + self.ttl
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                await _send_problem(
                    send,
                    409,
                    "Request in progress",
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    path,
                )
                return

        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await self._complete(sessionmaker, scope_key, captured)

    async def _complete(self, sessionmaker: Any, scope_key: str, captured: dict[str, Any]) -> None:
        async with sessionmaker() as session:
            if 200 <= captured["status"] < 300:
                record = await session.get(self.model, scope_key)
                if record is not None:
                    record.status = captured["status"]
                    record.headers_json = json.dumps(
                        [
                            [k.decode("latin-1"), v.decode("latin-1")]
                            for k, v in captured["headers"]
                            if k.lower() in REPLAYED_HEADERS
                        ]
                    )
                    record.body_b64 = base64.b64encode(b"".join(captured["body"])).decode()
            else:
                await session.execute(
                    delete(self.model).where(self.model.scope_key == scope_key)  # type: ignore[arg-type]
                )
            await session.commit()

    async def _replay(self, send: Send, record: IdempotencyFields) -> None:
        body = base64.b64decode(record.body_b64 or "")
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in json.loads(record.headers_json or "[]")
        ]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        await send(
            {"type": "http.response.start", "status": record.status or 200, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


async def purge_expired(sessionmaker: Any, model: type[IdempotencyFields]) -> int:
    async with sessionmaker() as session:
        result = await session.execute(
            delete(model).where(model.expires_at < datetime.now(UTC))  # type: ignore[arg-type]
        )
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
