"""If-None-Match on reads, walked over the merged OpenAPI document: every GET that declares it
answers 304 with its ETag and no body while the tag is current, through the gateway, and the
full answer once the resource has changed or for another tag."""

from __future__ import annotations

import httpx

from services.common.etag import none_match
from tests.gateway.test_access_matrix import World, fill, operations, world  # noqa: F401
from tests.gateway.test_hostile_input import required_query
from tests.support import auth_header

ADMIN = auth_header("admin")


def declares_if_none_match(operation: dict[str, object]) -> bool:
    parameters = operation.get("parameters", [])
    assert isinstance(parameters, list)
    return any(p["in"] == "header" and p["name"] == "If-None-Match" for p in parameters)


async def test_every_read_that_sends_an_etag_answers_304_while_it_is_current(
    gateway_client: httpx.AsyncClient,
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()
    reads = [
        (path, op)
        for method, path, op in operations(document)
        if method == "GET" and declares_if_none_match(op)
    ]
    assert len(reads) >= 10, "the walk found too few reads with an ETag to be a walk"
    wrong: list[str] = []
    for template, operation in reads:
        if "304" not in operation["responses"]:
            wrong.append(f"GET {template}: 304 not declared")
        path = fill(template, world.params_b)
        query = required_query(operation)
        first = await gateway_client.get(path, params=query, headers=ADMIN)
        etag = first.headers.get("etag")
        if first.status_code != 200 or etag is None:
            wrong.append(f"GET {template}: {first.status_code}, ETag {etag}")
            continue
        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = await gateway_client.get(
                path, params=query, headers={**ADMIN, "if-none-match": sent}
            )
            if not (
                again.status_code == 304
                and again.headers.get("etag") == etag
                and again.content == b""
                and again.headers.get("x-request-id")
            ):
                wrong.append(f"GET {template} If-None-Match {sent}: {again.status_code}")
        other = await gateway_client.get(
            path, params=query, headers={**ADMIN, "if-none-match": '"not-the-tag"'}
        )
        if other.status_code != 200 or other.json() != first.json():
            wrong.append(f"GET {template} another tag: {other.status_code}")
    assert wrong == [], "\n".join(wrong)


async def test_a_changed_resource_is_sent_again(gateway_client: httpx.AsyncClient) -> None:
    created = await gateway_client.post(
        "/v1/factories", json={"name": "Before", "country": "UZ"}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    url = f"/v1/factories/{created.json()['id']}"
    old = created.headers["etag"]
    assert (
        await gateway_client.get(url, headers={**ADMIN, "if-none-match": old})
    ).status_code == 304
    changed = await gateway_client.patch(
        url, json={"name": "After"}, headers={**ADMIN, "if-match": old}
    )
    assert changed.status_code == 200, changed.text
    fresh = await gateway_client.get(url, headers={**ADMIN, "if-none-match": old})
    assert fresh.status_code == 200 and fresh.json()["name"] == "After"
    assert fresh.headers["etag"] == changed.headers["etag"] != old


def test_if_none_match_compares_weakly_and_takes_lists_and_star() -> None:
    assert none_match('"a.v1"', '"a.v1"')
    assert none_match('W/"a.v1"', '"a.v1"')
    assert none_match('"x", "a.v1"', '"a.v1"')
    assert none_match("*", '"a.v1"')
    assert not none_match('"a.v2"', '"a.v1"')
    assert not none_match('"a.v1"', '"a.v12"')
