"""Lists and query strings behave the same on every operation of the merged OpenAPI document
(issue 11 section 4): walked over the document, so a route written later cannot break them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401
from tests.gateway.test_hostile_input import query_parameters, required_query
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
        documented = operation["responses"].get("400", {}).get("x-problem-types", [])
        if not any(kind.endswith("/unknown-query-parameter") for kind in documented):
            wrong.append(f"{method} {template}: the 400 it answers is not documented")
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


def lists(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, op)
        for method, path, op in operations(document)
        if method == "GET" and "cursor" in query_parameters(op)
    ]


async def test_every_list_offers_sort_and_total_in_the_document(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    found = lists(document)
    assert len(found) >= 18, "the walk found too few lists to be a walk"
    wrong = []
    for path, operation in found:
        parameters = query_parameters(operation)
        sort = parameters.get("sort", {}).get("schema", {})
        total = parameters.get("include_total", {}).get("schema", {})
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page_schema = document["components"]["schemas"][page.rsplit("/", 1)[-1]]
        if not (
            sort.get("type") == "string"
            and {v.removeprefix("-") for v in sort.get("enum", [])} & set(sort.get("enum", []))
            and all(f"-{v}" in sort["enum"] for v in sort["enum"] if not v.startswith("-"))
            and total.get("type") == "boolean"
            and "total" in page_schema["properties"]
        ):
            wrong.append(f"GET {path}: sort {sort}, include_total {total}")
    assert wrong == [], "\n".join(wrong)


def identity(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


async def test_paging_every_list_in_every_order_returns_every_item_once_in_order(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    """Each list of the seeded demo, in each order it offers: the pages of a small limit, joined,
    are the one big page; the descending order is the ascending one reversed (ties included,
    broken by the key in the same direction); the total counts them; an unknown order is a 400
    listing the allowed ones. Text fields' order is the database's collation, so monotony is
    checked on numbers, dates and times only."""
    document = (await gateway_client.get("/openapi.json")).json()
    wrong: list[str] = []
    walked = 0

    async def get(path: str, query: dict[str, str]) -> httpx.Response:
        return await gateway_client.get(path, params=query, headers=ADMIN)

    for template, operation in lists(document):
        path = fill(template, world.params_b)
        base = required_query(operation)
        values = query_parameters(operation)["sort"]["schema"]["enum"]
        orders: dict[str, list[str]] = {}
        for sort in values:
            whole = await get(path, {**base, "sort": sort, "limit": "500", "include_total": "true"})
            assert whole.status_code == 200, (path, sort, whole.text)
            everything = whole.json()["items"]
            if whole.json()["total"] != len(everything):
                wrong.append(f"{path} sort={sort}: total {whole.json()['total']}")
            limit = max(1, len(everything) // 4)
            paged: list[dict[str, Any]] = []
            query = {**base, "sort": sort, "limit": str(limit)}
            for _ in range(10):
                page = (await get(path, query)).json()
                paged += page["items"]
                if page["next_cursor"] is None:
                    break
                query["cursor"] = page["next_cursor"]
            if [identity(i) for i in paged] != [identity(i) for i in everything]:
                wrong.append(f"{path} sort={sort}: pages of {limit} differ from one page")
            field = sort.removeprefix("-")
            keys = [comparable(i.get(field)) for i in everything]
            if None not in keys and keys != sorted(keys, reverse=sort.startswith("-")):  # type: ignore[type-var]
                wrong.append(f"{path} sort={sort}: not in order")
            orders[sort] = [identity(i) for i in everything]
            walked += len(everything)
        for sort, order in orders.items():
            if not sort.startswith("-") and orders[f"-{sort}"] != order[::-1]:
                wrong.append(f"{path}: -{sort} is not {sort} reversed")
        refused = await get(path, {**base, "sort": "zz_colour"})
        if not (
            refused.status_code == 400
            and refused.json()["type"].endswith("/invalid-sort")
            and refused.json()["allowed"] == values
        ):
            wrong.append(f"{path} sort=zz_colour: {refused.status_code} {refused.text[:120]}")
    assert wrong == [], "\n".join(wrong)
    assert walked > 500, "the demo lists were too empty to prove anything"


def comparable(value: object) -> int | float | datetime | None:
    """A number, or an ISO date or date-time as a moment; None for text (ordered by the
    database's collation, which the test does not restate)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d([T ].*)?", value):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


# Query parameters that name identifiers or codes (matched exactly), beside ``*_id``; any other
# free-form string filter must say in the document that it is free text (case-insensitive).
IDENTIFIERS = {"cursor", "actor", "aggregate_type", "format"}


async def test_every_string_filter_is_an_identifier_or_declares_the_free_text_rule(
    gateway_client: httpx.AsyncClient,
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    undeclared = []
    for method, path, operation in operations(document):
        for name, parameter in query_parameters(operation).items():
            options = parameter["schema"].get("anyOf", [parameter["schema"]])
            if not any(o.get("type") == "string" for o in options):
                continue
            if any({"enum", "pattern", "format", "$ref"} & set(o) for o in options):
                continue  # a code by shape: exact
            if name.endswith("_id") or name in IDENTIFIERS:
                continue
            if "case-insensitive" not in parameter.get("description", ""):
                undeclared.append(f"{method} {path} {name}")
    assert undeclared == []


async def test_free_text_matches_in_any_case_and_script_identifiers_exactly(
    gateway_client: httpx.AsyncClient,
) -> None:
    names = {"Holdout Garments": "Samarkand", "Фарғона Тўқимачилик": "Фарғона", "Zeta": "Andijan"}
    ids = {}
    for name, region in names.items():
        created = await gateway_client.post(
            "/v1/factories", json={"name": name, "country": "UZ", "region": region}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]

    async def found(**query: str) -> set[str]:
        response = await gateway_client.get("/v1/factories", params=query, headers=ADMIN)
        assert response.status_code == 200, response.text
        return {f["name"] for f in response.json()["items"]}

    for region in ("samarkand", "SAMARKAND", "Samarkand"):
        assert await found(region=region) == {"Holdout Garments"}
    assert await found(region="фарғона") == await found(region="ФАРҒОНА") == {"Фарғона Тўқимачилик"}
    assert await found(region="Samark") == set()  # equality, not a prefix
    for prefix in ("holdout", "HOLD", "Holdout G"):
        assert await found(name_prefix=prefix) == {"Holdout Garments"}
    assert (
        await found(name_prefix="фарғ")
        == await found(name_prefix="ФАРҒ")
        == {"Фарғона Тўқимачилик"}
    )
    # An identifier is not a word: another case names nothing.
    swapped = ids["Zeta"].swapcase()
    assert (await gateway_client.get(f"/v1/factories/{swapped}", headers=ADMIN)).status_code == 404
