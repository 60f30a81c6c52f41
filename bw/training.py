"""`bw training`: operations on the training service, e.g. importing an attendance list.

The import goes through the public API (gateway by default), the same path as any client:
the service validates every row, and a single bad row rejects the whole list.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.common.auth import mint_token
from services.common.settings import AuthSettings

app = typer.Typer(help="Training service: attendance imports.", no_args_is_help=True)
console = Console(stderr=True)

# Column headings accepted besides the API's own field names.
ALIASES = {
    "name": "full_name",
    "full name": "full_name",
    "participant": "full_name",
    "gender": "sex",
    "factory": "factory_id",
    "factory id": "factory_id",
    "completed training": "completed",
}
FIELDS = {"full_name", "sex", "role", "factory_id", "attended", "completed"}
LOWERCASED = {"sex", "role", "attended", "completed"}


class ImportRejected(Exception):
    """The service refused the list; ``errors`` name rows of the file (1 = first data row)."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


def _column(heading: Any) -> str:
    name = str(heading or "").strip().lower().replace("_", " ")
    name = ALIASES.get(name, name).replace(" ", "_")
    return name


def _cell(column: str, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if column in LOWERCASED:
            value = value.lower()
    return value


def _row(headings: list[str], values: list[Any]) -> dict[str, Any] | None:
    row = {
        column: _cell(column, value)
        for column, value in zip(headings, values, strict=False)
        if column in FIELDS and value not in (None, "")
    }
    return row or None


@dataclass
class AttendanceFile:
    rows: list[dict[str, Any]]
    lines: list[int]  # the file line of each row, to report errors where people look

    def line_of(self, row_number: int) -> int | None:
        return self.lines[row_number - 1] if 1 <= row_number <= len(self.lines) else None


def read_rows(path: Path, on_row: Callable[[], None] | None = None) -> AttendanceFile:
    """Rows of a CSV (UTF-8, with or without BOM) or XLSX file; blank lines are skipped."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    elif suffix in {".xlsx", ".xlsm"}:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            lines = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    else:
        raise typer.BadParameter(f"{path.name}: expected a .csv or .xlsx file")
    if not lines:
        return AttendanceFile([], [])
    headings = [_column(h) for h in lines[0]]
    missing = {"sex", "role", "factory_id"} - set(headings)
    if missing:
        raise typer.BadParameter(f"{path.name}: missing columns {', '.join(sorted(missing))}")
    parsed = AttendanceFile([], [])
    for line, values in enumerate(lines[1:], start=2):
        row = _row(headings, list(values))
        if row is not None:
            parsed.rows.append(row)
            parsed.lines.append(line)
        if on_row is not None:
            on_row()
    return parsed


async def upload_attendance(
    client: httpx.AsyncClient, session_id: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Replace the session's attendance list: read its ETag, then PUT the rows with If-Match."""
    url = f"/v1/training-sessions/{session_id}"
    current = await client.get(url)
    if current.status_code != 200:
        raise ImportRejected(current.status_code, _detail(current), [])
    response = await client.put(
        f"{url}/attendance",
        json={"participants": rows},
        headers={"if-match": current.headers.get("etag", "*")},
    )
    if response.status_code != 200:
        body = _json(response)
        raise ImportRejected(response.status_code, _detail(response), body.get("errors") or [])
    return dict(response.json())


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    return str(_json(response).get("detail") or f"HTTP {response.status_code}")


def make_transport() -> httpx.AsyncBaseTransport | None:
    """Seam for tests; None means the network."""
    return None


async def _run(
    parsed: AttendanceFile, session_id: str, base_url: str, token: str, progress: Progress
) -> dict[str, Any]:
    rows = parsed.rows
    uploading = progress.add_task(f"uploading {len(rows)} rows", total=1)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(60.0, connect=5.0),
        transport=make_transport(),
    ) as client:
        session = await upload_attendance(client, session_id, rows)
    progress.advance(uploading)
    return session


@app.command("import")
def import_attendance(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file.")],
    session: Annotated[str, typer.Option("--session", help="Training session id.")],
    url: Annotated[
        str, typer.Option(help="API base URL (gateway or training service).")
    ] = os.environ.get("BW_API_URL", "http://127.0.0.1:8000"),
    token: Annotated[
        str | None,
        typer.Option(envvar="BW_TOKEN", help="Bearer token (default: a dev staff token)."),
    ] = None,
) -> None:
    """Upload a session's whole attendance list: columns full_name, sex, role, factory_id,
    attended, completed. One bad row rejects the list; nothing is stored then."""
    bearer = token or mint_token(AuthSettings(), role="staff", subject="bw-cli")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            reading = progress.add_task(f"reading {file.name}", total=None)
            parsed = read_rows(file, on_row=lambda: progress.advance(reading))
            progress.update(reading, total=len(parsed.rows), completed=len(parsed.rows))
            result = asyncio.run(_run(parsed, session, url, bearer, progress))
    except ImportRejected as exc:
        console.print(f"[red]rejected ({exc.status}):[/] {exc.detail}")
        for error in exc.errors[:50]:
            line = parsed.line_of(error["row"]) if isinstance(error.get("row"), int) else None
            where = f"{file.name} line {line}" if line else error.get("location", "")
            console.print(f"  {where}: {error.get('message', '')}")
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        console.print(f"[red]could not reach {url}:[/] {exc}")
        raise typer.Exit(2) from exc
    counts = result["participants"]
    table = Table(title=f"session {result['id']}: attendance stored")
    for heading in ("registered", "attended", "completed", "female", "male"):
        table.add_column(heading, justify="right")
    table.add_row(
        str(counts["registered"]),
        str(counts["total"]),
        str(counts["completed"]),
        str(counts["by_sex"]["female"]),
        str(counts["by_sex"]["male"]),
    )
    Console().print(table)
