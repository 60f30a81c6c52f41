"""Text no database can store faithfully (NUL, unpaired surrogates) is refused the same way on
SQLite and PostgreSQL, and nothing is written."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from services.common.input_guard import InputGuardMiddleware, has_unstorable_json_text
from services.common.settings import ServiceSettings
from tests.support import auth_header

ADMIN = auth_header("admin")
BACKSLASH = "\\"
MAX_BODY = ServiceSettings().max_body_bytes


@pytest.mark.parametrize(
    ("backslashes", "is_nul"), [(1, True), (2, False), (3, True), (4, False), (5, True)]
)
def test_only_an_unescaped_json_nul_escape_counts(backslashes: int, is_nul: bool) -> None:
    text = '{"name": "a' + BACKSLASH * backslashes + 'u0000b"}'
    assert has_unstorable_json_text(text.encode()) is is_nul


def test_a_real_nul_in_text_is_detected_in_json() -> None:
    assert has_unstorable_json_text(json.dumps({"name": "a\u0000b"}).encode())
    text = json.dumps({"name": "Farg\u02bbona \u0422\u0435\u043a\u0441 \U0001f9f5"})
    assert not has_unstorable_json_text(text.encode())


@pytest.mark.parametrize(
    ("escapes", "unstorable"),
    [
        ("\\ud83d\\ude00", False),  # a proper pair (an emoji)
        ("\\ud800", True),  # high surrogate alone
        ("\\ude00", True),  # low surrogate alone
        ("\\ud800x\\udc00", True),  # a pair broken by a character
        ("\\ud800\\u0041", True),  # high surrogate before an ordinary escape
    ],
)
def test_surrogates_must_come_in_pairs(escapes: str, unstorable: bool) -> None:
    body = ('{"name": "' + escapes + '"}').encode()
    assert has_unstorable_json_text(body) is unstorable


async def test_nul_in_a_body_is_422_and_stores_nothing(
    assessment_client: httpx.AsyncClient,
) -> None:
    response = await assessment_client.post("/v1/brands", json={"name": "a\u0000b"}, headers=ADMIN)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await assessment_client.get("/v1/brands", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_lone_surrogate_in_a_body_is_422(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.post(
        "/v1/brands",
        content=b'{"name": "a\\ud800b"}',
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert (await assessment_client.get("/v1/brands", headers=ADMIN)).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "/v1/factories?name_prefix=%00",
        "/v1/factories/fac%00x",
        "/v1/factories?name_prefix=%ED%A0%80",
    ],
)
async def test_nul_in_path_or_query_is_422(assessment_client: httpx.AsyncClient, url: str) -> None:
    response = await assessment_client.get(url, headers=ADMIN)
    assert response.status_code == 422


async def oversized_chunks(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """A body with no Content-Length: the limit can only trip while it streams."""
    for _ in range(total // chunk + 1):
        yield b" " * chunk


async def test_a_guard_refusal_that_escapes_the_app_is_still_a_413() -> None:
    """Whoever reads the body (a proxy streaming it on, a middleware) may let the refusal
    raised in receive() escape; the guard answers it rather than the server's 500."""

    async def reads_without_handlers(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = InputGuardMiddleware(reads_without_handlers, max_bytes=1024 * 1024)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://guarded"
    ) as client:
        response = await client.post("/anything", content=oversized_chunks(2 * 1024 * 1024))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 413


async def test_an_oversized_chunked_body_is_413_at_a_service(
    assessment_client: httpx.AsyncClient,
) -> None:
    response = await assessment_client.post(
        "/v1/brands",
        content=oversized_chunks(MAX_BODY + 1),
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await assessment_client.get("/v1/brands", headers=ADMIN)).json()["items"] == []
