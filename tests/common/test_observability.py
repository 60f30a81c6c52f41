"""Request ids are adopted or made, echoed, and written into JSON log lines."""

import json
import logging

import httpx
import pytest

from services.common.observability import JsonFormatter


async def test_request_id_is_made_when_missing_and_kept_when_valid(
    assessment_client: httpx.AsyncClient,
) -> None:
    made = await assessment_client.get("/health/live")
    kept = await assessment_client.get("/health/live", headers={"x-request-id": "abc-123"})
    replaced = await assessment_client.get("/health/live", headers={"x-request-id": "bad id\n"})
    assert len(made.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id\n"


async def test_access_log_is_one_json_line_with_the_request_id(
    assessment_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bw.access"):
        await assessment_client.get("/v1/factories", headers={"x-request-id": "trace-42"})
    record = next(r for r in caplog.records if r.name == "bw.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "request" and line["level"] == "info"
    assert line["path"] == "/v1/factories" and line["status"] == 401
    assert line["request_id"] == "trace-42" and line["service"] == "assessment"
    assert "authorization" not in json.dumps(line).lower()
