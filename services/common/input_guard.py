"""Guards on raw input, as plain ASGI: a body size limit (413, declared or streamed) and no NUL
characters in paths, queries or JSON text (422), which PostgreSQL cannot store and SQLite would
store silently: the same request must get the same answer on both."""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {max_bytes} bytes.")


class NulInText(HTTPException):
    def __init__(self) -> None:
        super().__init__(422, NUL_DETAIL)


NUL_DETAIL = "Text may not contain NUL (U+0000) characters."
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def has_json_nul(data: bytes) -> bool:
    """True if the JSON text escapes a NUL (``\u0000`` not itself escaped as ``\\u0000``)."""
    return _JSON_NUL.search(data) is not None


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"%00" in raw_path or b"%00" in scope.get("query_string", b""):
            await _reject(scope, send, 422, "Unprocessable Content", NUL_DETAIL)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    detail = f"The request body exceeds the limit of {self.max_bytes} bytes."
                    await _reject(scope, send, 413, "Content Too Large", detail)
                    return
                break
        received = 0
        tail = b""

        async def guarded_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                # Keep a few bytes so an escape split across chunks is still seen.
                window = tail + chunk
                if has_json_nul(window):
                    raise NulInText
                tail = window[-16:]
            return message

        await self.app(scope, guarded_receive, send)


async def _reject(scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
