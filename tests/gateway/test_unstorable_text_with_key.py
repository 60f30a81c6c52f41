"""Text no database stores faithfully (NUL, a lone surrogate) is refused with 422 by every
writing route of the merged OpenAPI, also when the request carries an Idempotency-Key (whose
middleware reads the body before any route does), and nothing is stored."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import MetaData, func, select

from services.assessment.models import metadata as assessment_metadata
from services.common.db import Database
from services.reporting.models import metadata as reporting_metadata
from services.training.models import metadata as training_metadata
from tests.support import auth_header

WRITING = {"POST", "PUT", "PATCH"}
UNSTORABLE = {
    "NUL": b'{"name": "a\\u0000b", "title": "a\\u0000b", "text": "a\\u0000b"}',
    "lone surrogate": b'{"name": "a\\ud800b", "title": "a\\ud800b", "text": "a\\ud800b"}',
}


async def writing_operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    document = (await client.get("/openapi.json")).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x0", path))
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in WRITING
    ]
    assert len(found) > 20, "the merged document lost its writing routes"
    return found


async def stored_rows(database: Database, metadata: MetaData) -> int:
    total = 0
    async with database.sessionmaker() as session:
        for table in metadata.sorted_tables:
            total += (await session.execute(select(func.count()).select_from(table))).scalar_one()
    return total


@pytest.mark.parametrize("kind", sorted(UNSTORABLE))
async def test_every_writing_route_refuses_unstorable_text_with_a_key(
    gateway_client: httpx.AsyncClient,
    assessment_database: Database,
    training_database: Database,
    reporting_database: Database,
    kind: str,
) -> None:
    answers = {}
    for method, path in await writing_operations(gateway_client):
        response = await gateway_client.request(
            method,
            path,
            content=UNSTORABLE[kind],
            headers={
                **auth_header("admin"),
                "content-type": "application/json",
                "idempotency-key": str(uuid.uuid4()),
            },
        )
        answers[f"{method} {path}"] = response.status_code
        assert response.headers["content-type"].startswith("application/problem+json"), path
    assert {op: status for op, status in answers.items() if status != 422} == {}
    for database, metadata in (
        (assessment_database, assessment_metadata),
        (training_database, training_metadata),
        (reporting_database, reporting_metadata),
    ):
        assert await stored_rows(database, metadata) == 0
