"""Guards on raw input, as plain ASGI: a body size limit (413, declared or streamed), and no
text that a database cannot store faithfully (422): NUL characters, which PostgreSQL refuses
and SQLite keeps, and unpaired UTF-16 surrogates, which neither can encode. Both arrive as JSON
escapes (``\u0000``, ``\ud800``) or percent-escapes; the same request must get the same
answer on every back end."""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import PROBLEM_CONTENT_TYPE, field_error, problem_type


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {max_bytes} bytes.")


class UnstorableText(HTTPException):
    def __init__(self) -> None:
        super().__init__(422, UNSTORABLE_DETAIL)


UNSTORABLE_DETAIL = (
    "Text may not contain NUL (U+0000) characters or unpaired surrogates (U+D800-U+DFFF)."
)
# A \uXXXX escape that is itself an escape (an odd run of backslashes before the u).
_JSON_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")


def has_unstorable_json_text(data: bytes) -> bool:
    """True if JSON text escapes a NUL, or a surrogate that is not half of a proper pair."""
    if b"\\u" not in data:
        return False
    pending_high_end = -1  # where the last high surrogate's escape ended
    for match in _JSON_ESCAPE.finditer(data):
        code = int(match.group(1), 16)
        starts = match.end() - 6
        if pending_high_end != -1:
            if starts == pending_high_end and 0xDC00 <= code <= 0xDFFF:
                pending_high_end = -1
                continue
            return True  # a high surrogate not followed by a low one
        if code == 0 or 0xDC00 <= code <= 0xDFFF:
            return True
        if 0xD800 <= code <= 0xDBFF:
            pending_high_end = match.end()
    return pending_high_end != -1


class InputGuardMiddleware:
    """``scan_text`` reads whole bodies to judge their text; the gateway streams bodies through
    and leaves that to the services."""

    def __init__(self, app: ASGIApp, max_bytes: int, scan_text: bool = True) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.scan_text = scan_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        query = scope.get("query_string", b"")
        # Most requests have no percent-escape at all: no call for them (two a request).
        if (b"%" in raw_path and _unstorable_url(raw_path)) or (
            b"%" in query and _unstorable_url(query)
        ):
            await _reject(scope, send, 422, "Validation failed", UNSTORABLE_DETAIL)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    detail = f"The request body exceeds the limit of {self.max_bytes} bytes."
                    await _reject(scope, send, 413, "Content Too Large", detail)
                    return
                break
        received = 0
        chunks: list[bytes] = []

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                if self.scan_text:
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                        if has_unstorable_json_text(body):
                            raise UnstorableText
            return message

        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except (BodyTooLarge, UnstorableText) as refused:
            # Raised in receive(), so whoever read the body may let it escape (a proxy that
            # streams it on, a middleware that reads it first): answer it here, not as a 500.
            if started:
                raise
            title = "Content Too Large" if refused.status_code == 413 else "Validation failed"
            await _reject(scope, send, refused.status_code, title, refused.detail)


def _unstorable_url(part: bytes) -> bool:
    if b"%" not in part:
        return False
    lowered = part.lower()
    # NUL, and the UTF-8 form some clients give surrogates (ED A0..BF xx).
    return b"%00" in lowered or re.search(rb"%ed%[ab][0-9a-f]", lowered) is not None


async def _reject(scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": problem_type(status),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
            # Every 422 says where; unstorable text is judged on the raw request, not a field.
            **({"errors": [field_error(detail)]} if status == 422 else {}),
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
