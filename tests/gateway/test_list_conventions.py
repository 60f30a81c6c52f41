"""Lists and query strings behave the same on every operation of the merged OpenAPI document
(issue 11 section 4): walked over the document, so a route written later cannot break them."""

from __future__ import annotations

from collections import defaultdict

import httpx

from tests.gateway.test_access_matrix import fill, operations
from tests.support import auth_header

ADMIN = auth_header("admin")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def test_an_unknown_query_parameter_is_a_400_naming_it_on_every_operation(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    ids = defaultdict(lambda: "x_unknown", year="2024")
    walked = operations(document)
    assert len(walked) >= 60, "the walk found too few operations to be a walk"
    wrong: list[str] = []
    for method, template, operation in walked:
        declared = sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
        response = await gateway_client.request(
            method,
            fill(template, ids),
            params={"zz_unknown": "1"},
            json={} if method in WRITES else None,
            headers={**ADMIN, "if-match": "*"},
        )
        body = response.json() if response.content else {}
        if not (
            response.status_code == 400
            and response.headers["content-type"].startswith("application/problem+json")
            and body.get("type", "").endswith("/unknown-query-parameter")
            and "zz_unknown" in body.get("detail", "")
            and body.get("errors") == [{"location": "/query/zz_unknown", "message": ANY_MESSAGE}]
            and body.get("allowed") == declared
        ):
            wrong.append(f"{method} {template}: {response.status_code} {response.text[:160]}")
    assert wrong == [], "\n".join(wrong)


class _AnyText(str):
    """Equal to any non-empty text: the message's wording is not the contract, its presence is."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other != ""

    __hash__ = str.__hash__


ANY_MESSAGE = _AnyText()


async def test_declared_query_parameters_are_still_accepted(
    gateway_client: httpx.AsyncClient,
) -> None:
    """The guard must not refuse what a route declares, including through a dependency
    (``limit`` and ``cursor`` come from the page dependency, not the route's signature)."""
    response = await gateway_client.get(
        "/v1/factories", params={"country": "UZ", "limit": "5"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    misspelt = await gateway_client.get(
        "/v1/factories", params={"contry": "UZ", "limit": "5"}, headers=ADMIN
    )
    assert misspelt.status_code == 400
    assert "contry" in misspelt.json()["detail"] and "country" in misspelt.json()["allowed"]
