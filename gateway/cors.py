"""CORS for browser frontends, as a pure ASGI layer.

Preflights are answered here, never proxied. On an answer to an allowed origin every header the
answer carries is exposed (ETag, Location, Idempotent-Replayed, X-Request-ID, Retry-After, and
whatever a service adds later, such as a feed-event id) without a list to keep in step with the
services; ``*`` would do the same only for requests without credentials. Requests without an
``Origin`` header, which is every non-browser client, pass through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "if-none-match",
        "x-request-id",
    }
)
# Always named, even when an answer lacks them, so a client's code sees one stable list.
ALWAYS_EXPOSED = (
    "etag",
    "location",
    "idempotent-replayed",
    "x-request-id",
    "retry-after",
    "feed-event",
)
# Readable by scripts anyway (the CORS-safelisted response headers), or never to be exposed.
NOT_EXPOSED = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
        "set-cookie",
        "vary",
    }
)
PREFLIGHT_MAX_AGE = b"600"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(origin.rstrip("/").encode("latin-1") for origin in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin in self.origins
        requested_method = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested_method is not None:
            await self._preflight(scope, send, origin, allowed)
            return
        if not allowed:
            await self.app(scope, receive, send)  # no CORS headers: the browser withholds it
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = [name.lower() for name, _ in headers]
                exposed = list(ALWAYS_EXPOSED)
                exposed += [
                    n.decode("latin-1")
                    for n in names
                    if n.decode("latin-1") not in NOT_EXPOSED
                    and n.decode("latin-1") not in exposed
                    and not n.startswith(b"access-control-")
                ]
                headers += [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", ", ".join(exposed).encode("latin-1")),
                    (b"vary", b"Origin"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send, origin: bytes, allowed: bool) -> None:
        requested = _header(scope, b"access-control-request-headers") or b""
        names = {n.strip().lower() for n in requested.decode("latin-1").split(",") if n.strip()}
        refused = sorted(names - ALLOWED_HEADERS)
        if not allowed or refused:
            detail = (
                f"Origin {origin.decode('latin-1')} may not call this API from a browser."
                if not allowed
                else f"Request headers not allowed: {', '.join(refused)}."
            )
            body = json.dumps(
                {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": detail,
                    "instance": scope["path"],
                }
            ).encode()
            await _answer(scope, send, 403, [(b"content-type", b"application/problem+json")], body)
            return
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-allow-headers", ", ".join(sorted(ALLOWED_HEADERS)).encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        await _answer(scope, send, 200, headers, b"")  # 200: some old browsers refuse 204


async def _answer(
    scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
