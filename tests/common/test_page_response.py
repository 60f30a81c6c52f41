"""A page built by ``page_response`` is the page FastAPI would have answered for the same route:
the same bytes as validating the returned ``Page`` model and dumping it, and a bad item is an
error, not a page that breaks its schema."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field, ValidationError

from services.common.pagination import Page, page_response


class Size(BaseModel):
    total: int | None = Field(default=None, ge=0)


class ThingRead(BaseModel):
    id: str
    name: str
    size: Size
    tags: list[str]
    opened: date | None
    created_at: datetime
    note: str | None = Field(default=None, alias="remark")


def thing(number: int) -> dict[str, object]:
    return {
        "id": f"t{number}",
        "name": "Тикувчилик «Ёғду» fabrikasi",
        "size": {"total": number},
        "tags": ["EU", "US"],
        "opened": date(2024, 3, number + 1) if number % 2 else None,
        "created_at": datetime(2025, 1, 2, 3, 4, 5, 600_000 + number, tzinfo=UTC),
        "remark": None if number % 2 else "note",
    }


def app() -> FastAPI:
    api = FastAPI()

    @api.get("/model", response_model=Page[ThingRead])
    async def as_model(total: int | None = None) -> Page[ThingRead]:
        items = [ThingRead.model_validate(thing(n)) for n in range(3)]
        return Page(items=items, next_cursor="abc", total=total)

    @api.get("/ready", response_model=Page[ThingRead])
    async def as_ready(total: int | None = None) -> object:
        return page_response(Page[ThingRead], [thing(n) for n in range(3)], "abc", total)

    return api


@pytest.mark.parametrize("query", ["", "?total=7"])
async def test_the_same_answer_as_the_returned_model(query: str) -> None:
    async with AsyncClient(transport=ASGITransport(app=app()), base_url="http://t") as client:
        expected = await client.get("/model" + query)
        ready = await client.get("/ready" + query)
    assert ready.status_code == expected.status_code == 200
    assert ready.content == expected.content
    assert ready.headers["content-type"] == expected.headers["content-type"]
    assert ready.json()["items"][0]["remark"] == "note"  # dumped by alias, as FastAPI does


def test_an_item_the_model_refuses_is_an_error() -> None:
    bad = thing(1) | {"size": {"total": -1}}
    with pytest.raises(ValidationError):
        page_response(Page[ThingRead], [thing(0), bad], None)


def test_an_empty_page() -> None:
    response = page_response(Page[ThingRead], [], None, 0)
    assert response.body == b'{"items":[],"next_cursor":null,"total":0}'
