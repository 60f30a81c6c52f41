"""/docs and /redoc at the gateway work without internet: every script, style and icon they
load is served by the gateway itself, from assets installed with the package."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.docs import ASSETS_URL


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_nothing_from_elsewhere(
    gateway_client: httpx.AsyncClient, page: str
) -> None:
    response = await gateway_client.get(page)
    assert response.status_code == 200, response.text
    assert "text/html" in response.headers["content-type"]
    loaded = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert loaded, response.text
    assert [url for url in loaded if not url.startswith(ASSETS_URL)] == []
    assert "cdn.jsdelivr.net" not in response.text and "fonts.googleapis" not in response.text
    for url in loaded:
        asset = await gateway_client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url


async def test_docs_describe_the_api_before_its_operations(
    gateway_client: httpx.AsyncClient,
) -> None:
    info = (await gateway_client.get("/openapi.json")).json()["info"]
    description = info["description"]
    for topic in ("## Authentication", "## Roles", "## The assessment lifecycle", "If-Match"):
        assert topic in description
    assert "Idempotency-Key" in description and "in_progress` or `draft`" in description
