"""`bw report annual 2024 --country UZ --format pdf -o report.pdf`, from the local read model."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.common.db import Database
from services.reporting.annual import render
from services.reporting.annual.service import build_annual_report
from services.reporting.scope import Audience
from services.reporting.settings import ReportingSettings

app = typer.Typer(help="Produce reports from reporting's read model.", no_args_is_help=True)


async def _build(year: int, country: str, fmt: str, public: bool) -> bytes:
    settings = ReportingSettings()
    db = Database(settings.resolved_database_url(), settings.resolved_schema())
    try:
        async with db.sessionmaker() as session:
            audience = Audience(settings.min_cell_size if public else None)
            report = await build_annual_report(session, year, country, audience)
    finally:
        await db.dispose()
    content = render.render(report, fmt)
    return content.encode() if isinstance(content, str) else content


@app.command()
def annual(
    year: int,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code.")] = "UZ",
    format: Annotated[str, typer.Option("--format", "-f", help="json, html, pdf, xlsx, csv.")] = (
        "pdf"
    ),
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Default: stdout.")] = None,
    public: Annotated[
        bool, typer.Option(help="The public edition: withhold figures on too few factories.")
    ] = False,
) -> None:
    """The annual report (An Industry and Compliance Review) for one country and year."""
    if format not in render.FORMATS:
        raise typer.BadParameter(f"format must be one of {', '.join(render.FORMATS)}")
    content = asyncio.run(_build(year, country.upper(), format, public))
    if output is None:
        sys.stdout.buffer.write(content)
    else:
        output.write_bytes(content)
        typer.echo(f"wrote {output} ({len(content):,} bytes)", err=True)
