"""`bw report annual 2024 --country UZ --format pdf -o report.pdf`, from the local read model."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bw.databases import service_database
from bw.errors import OperatorError
from services.reporting.annual import render
from services.reporting.annual.schemas import AnnualReport
from services.reporting.annual.service import build_annual_report
from services.reporting.models import Factory
from services.reporting.scope import Audience
from services.reporting.settings import ReportingSettings

app = typer.Typer(help="Produce reports from reporting's read model.", no_args_is_help=True)


def has_data(report: AnnualReport) -> bool:
    overview = report.overview
    return any(
        (
            overview.factories_participating,
            overview.assessments_in_period,
            overview.advisory_visits,
            overview.training_sessions,
            overview.stakeholder_events,
        )
    )


async def _countries_with_data(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(col(Factory.country)).distinct())
    return sorted(country for (country,) in rows if country)


async def _build(year: int, country: str, public: bool, allow_empty: bool) -> AnnualReport:
    settings = ReportingSettings()
    database = service_database("reporting")
    db = database.open()
    try:
        with database.working():
            async with db.sessionmaker() as session:
                audience = Audience(settings.min_cell_size if public else None)
                report = await build_annual_report(session, year, country, audience)
                if not allow_empty and not has_data(report):
                    raise OperatorError(await _no_data_line(session, year, country, report))
    finally:
        await db.dispose()
    return report


async def _no_data_line(
    session: AsyncSession, year: int, country: str, report: AnnualReport
) -> str:
    line = f"no data for {country} in {year}: no factories, assessments or activity"
    if report.data_as_of is None:
        return line + (
            "; reporting has not synced from the feeds yet: start the platform (`bw up`) "
            "and let it sync, or run `bw sync` while it runs"
        )
    countries = await _countries_with_data(session)
    known = f"reporting holds data for {', '.join(countries)}" if countries else "none held yet"
    return f"{line} ({known}); nothing written (--allow-empty writes the empty report)"


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
    allow_empty: Annotated[
        bool, typer.Option(help="Write the report even when the scope holds no data.")
    ] = False,
) -> None:
    """The annual report (An Industry and Compliance Review) for one country and year."""
    if format not in render.FORMATS:
        raise typer.BadParameter(f"format must be one of {', '.join(render.FORMATS)}")
    report = asyncio.run(_build(year, country.upper(), public, allow_empty))
    rendered = render.render(report, format)
    content = rendered.encode() if isinstance(rendered, str) else rendered
    if output is None:
        sys.stdout.buffer.write(content)
    else:
        output.write_bytes(content)
        typer.echo(f"wrote {output} ({len(content):,} bytes)", err=True)
