"""NUL characters are refused the same way on SQLite and PostgreSQL (PostgreSQL cannot store
them), and nothing is written."""

import json

import httpx
import pytest

from services.common.input_guard import has_json_nul
from tests.support import auth_header

ADMIN = auth_header("admin")
BACKSLASH = "\\"


@pytest.mark.parametrize(
    ("backslashes", "is_nul"), [(1, True), (2, False), (3, True), (4, False), (5, True)]
)
def test_only_an_unescaped_json_nul_escape_counts(backslashes: int, is_nul: bool) -> None:
    text = '{"name": "a' + BACKSLASH * backslashes + 'u0000b"}'
    assert has_json_nul(text.encode()) is is_nul


def test_a_real_nul_in_text_is_detected_in_json() -> None:
    assert has_json_nul(json.dumps({"name": "a\u0000b"}).encode())
    assert not has_json_nul(json.dumps({"name": "Farg\u02bbona \u0422\u0435\u043a\u0441"}).encode())


async def test_nul_in_a_body_is_422_and_stores_nothing(
    assessment_client: httpx.AsyncClient,
) -> None:
    response = await assessment_client.post("/v1/brands", json={"name": "a\u0000b"}, headers=ADMIN)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await assessment_client.get("/v1/brands", headers=ADMIN)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("url", ["/v1/factories?name_prefix=%00", "/v1/factories/fac%00x"])
async def test_nul_in_path_or_query_is_422(assessment_client: httpx.AsyncClient, url: str) -> None:
    response = await assessment_client.get(url, headers=ADMIN)
    assert response.status_code == 422
