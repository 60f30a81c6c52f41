"""`bw training import FILE --session ID`: CSV/XLSX in, one upload through the API."""

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from bw import training as training_cli
from bw.main import app as bw_app
from tests.training.builders import STAFF, attendee, create_course, create_session

HEADINGS = ["Full name", "Sex", "Role", "Factory ID", "Attended", "Completed"]


def attendance_rows(count: int) -> list[list[Any]]:
    rows = []
    for i in range(count):
        row = attendee(i, "fac_A" if i % 2 else "fac_B")
        rows.append(
            [f"Иштирокчи {i}", row["sex"].upper(), row["role"], row["factory_id"], "yes", "no"]
        )
    return rows


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADINGS)
        for index, row in enumerate(rows):
            writer.writerow(row)
            if index == 4:
                writer.writerow([])
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADINGS)
    for row in rows:
        sheet.append([*row[:4], True, False])
    workbook.save(path)
    return path


def test_csv_and_xlsx_read_to_the_same_rows(tmp_path: Path) -> None:
    rows = attendance_rows(12)
    from_csv = training_cli.read_rows(write_csv(tmp_path / "list.csv", rows))
    from_xlsx = training_cli.read_rows(write_xlsx(tmp_path / "list.xlsx", rows))
    assert len(from_csv.rows) == len(from_xlsx.rows) == 12
    assert from_csv.rows[0] == {
        "full_name": "Иштирокчи 0",
        "sex": "male",
        "role": "worker",
        "factory_id": "fac_B",
        "attended": "yes",
        "completed": "no",
    }
    assert from_xlsx.rows[0]["attended"] is True
    assert [r["full_name"] for r in from_csv.rows] == [r["full_name"] for r in from_xlsx.rows]
    assert from_csv.line_of(6) == 8  # a blank line after the fifth row shifts the rest


@pytest.fixture
async def session_id(client: httpx.AsyncClient) -> str:
    course = await create_course(client)
    response = await create_session(client, course["id"])
    return str(response.json()["id"])


async def test_an_imported_file_is_uploaded_through_the_api(
    client: httpx.AsyncClient, session_id: str, tmp_path: Path
) -> None:
    parsed = training_cli.read_rows(write_xlsx(tmp_path / "list.xlsx", attendance_rows(40)))
    client.headers.update(STAFF)
    stored = await training_cli.upload_attendance(client, session_id, parsed.rows)
    assert stored["participants"]["registered"] == 40
    assert stored["participants"]["completed"] == 0


async def test_a_bad_row_in_the_file_rejects_it_naming_the_line(
    client: httpx.AsyncClient, session_id: str, tmp_path: Path
) -> None:
    rows = attendance_rows(10)
    rows[7][1] = "unknown"
    parsed = training_cli.read_rows(write_csv(tmp_path / "list.csv", rows))
    client.headers.update(STAFF)
    with pytest.raises(training_cli.ImportRejected) as rejected:
        await training_cli.upload_attendance(client, session_id, parsed.rows)
    assert rejected.value.status == 422
    [error] = rejected.value.errors
    assert error["row"] == 8 and parsed.line_of(8) == 10
    counts = await client.get(f"/v1/training-sessions/{session_id}/participant-counts")
    assert counts.json()["registered"] == 0


def fake_service(log: list[tuple[str, str]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        log.append((request.method, request.url.path))
        if request.method == "GET":
            return httpx.Response(200, json={"id": "trs_1"}, headers={"etag": '"trs_1.v1"'})
        assert request.headers["if-match"] == '"trs_1.v1"'
        rows = json.loads(request.content)["participants"]
        if any(r["sex"] not in {"female", "male"} for r in rows):
            return httpx.Response(
                422,
                json={
                    "detail": "1 of 3 rows are invalid",
                    "errors": [{"row": 2, "field": "sex", "message": "row 2: bad sex"}],
                },
            )
        counts = {
            "registered": len(rows),
            "total": len(rows),
            "completed": 0,
            "by_sex": {"female": 2, "male": 1},
        }
        return httpx.Response(200, json={"id": "trs_1", "participants": counts})

    return httpx.MockTransport(handle)


def test_the_command_shows_progress_and_exits_nonzero_on_rejection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[tuple[str, str]] = []
    monkeypatch.setattr(training_cli, "make_transport", lambda: fake_service(log))
    runner = CliRunner()
    good = write_csv(tmp_path / "good.csv", attendance_rows(3))
    result = runner.invoke(bw_app, ["training", "import", str(good), "--session", "trs_1"])
    assert result.exit_code == 0, result.output
    assert "attendance stored" in result.output and "uploading 3 rows" in result.output
    assert log == [
        ("GET", "/v1/training-sessions/trs_1"),
        ("PUT", "/v1/training-sessions/trs_1/attendance"),
    ]
    rows = attendance_rows(3)
    rows[1][1] = "x"
    bad = write_csv(tmp_path / "bad.csv", rows)
    result = runner.invoke(bw_app, ["training", "import", str(bad), "--session", "trs_1"])
    assert result.exit_code == 1
    assert "bad.csv line 3" in result.output
    wrong = tmp_path / "list.txt"
    wrong.write_text("x")
    assert (
        runner.invoke(bw_app, ["training", "import", str(wrong), "--session", "s"]).exit_code == 2
    )
