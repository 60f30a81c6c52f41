"""`bw catalog import FILE`: load a CAT version from JSON through the same code as the API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from bw.databases import service_database
from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.problems import Problem

app = typer.Typer(help="Manage CAT catalogues of the assessment service.", no_args_is_help=True)
console = Console(stderr=True)

CLI_PRINCIPAL = Principal(subject="bw-cli", role=Role.ADMIN)


def assessment_database() -> Database:
    return service_database("assessment").open()


async def import_file(
    database: Database, document: dict[str, Any], publish: bool
) -> dict[str, Any]:
    from services.assessment.catalogs import service
    from services.assessment.catalogs.schemas import CatalogImport, CatalogRead

    data = CatalogImport.model_validate(document)
    async with database.sessionmaker() as session:
        structure = await service.import_catalog(session, data, CLI_PRINCIPAL)
        if publish:
            structure = await service.publish_catalog(session, structure.catalog, CLI_PRINCIPAL)
        read = CatalogRead.of(structure)
    return {
        "id": read.id,
        "country": read.country,
        "version": read.version,
        "status": read.status,
        "questions": read.question_count,
    }


@app.command("import")
def import_catalog(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CAT JSON file.")],
    country: Annotated[
        str | None, typer.Option(help="ISO country code, when the file does not name one.")
    ] = None,
    publish: Annotated[bool, typer.Option(help="Publish it right away (then immutable).")] = False,
) -> None:
    """Import a CAT version (the format of cat-uz-draft.json) as a draft, or published."""
    document = json.loads(file.read_text(encoding="utf-8"))
    if country:
        document["country"] = country
    database = assessment_database()

    async def run() -> dict[str, Any]:
        try:
            return await import_file(database, document, publish)
        finally:
            await database.dispose()

    try:
        with service_database("assessment").working():
            summary = asyncio.run(run())
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            console.print(f"[red]{location}[/]: {error['msg']}")
        raise typer.Exit(1) from exc
    except Problem as exc:
        console.print(f"[red]{exc.title}[/]: {exc.detail}")
        for problem in exc.errors or []:
            console.print(f"  {problem.get('location')}: {problem.get('message')}")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]imported[/] catalogue {summary['id']} ({summary['country']} "
        f"v{summary['version']}, {summary['questions']} questions, {summary['status']})"
    )
    typer.echo(json.dumps(summary))
