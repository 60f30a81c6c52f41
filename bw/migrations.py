"""`bw migrate` (creating the database when it is missing) and `bw migrate --check`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from bw.databases import ServiceDatabase, all_databases, ensure_database
from bw.errors import OperatorError, caused_by
from services.common.migrate import current_revision, head_revision, revisions_between, upgrade

console = Console(stderr=True, highlight=False, soft_wrap=True)


class ServiceName(StrEnum):
    assessment = "assessment"
    training = "training"
    reporting = "reporting"


@dataclass(frozen=True)
class MigrationState:
    database: ServiceDatabase
    current: str | None
    head: str
    pending: list[str]
    exists: bool

    @property
    def line(self) -> str:
        name = self.database.service
        if not self.exists:
            return f"{name}: database not created yet, {len(self.pending)} migrations pending"
        if not self.pending:
            return f"{name}: at head {self.head}"
        return f"{name}: at {self.current or 'nothing'}, pending {' '.join(self.pending)}"


def migration_state(database: ServiceDatabase) -> MigrationState:
    """Where a database stands against this code's migrations, creating nothing."""
    service, head = database.service, head_revision(database.service)
    if database.is_sqlite and not database.sqlite_path.exists():
        return MigrationState(database, None, head, revisions_between(service, None), False)
    with database.working():
        try:
            current = asyncio.run(current_revision(database.url, database.schema))
        except DBAPIError as exc:
            if not caused_by(exc, "InvalidCatalogNameError"):
                raise
            return MigrationState(database, None, head, revisions_between(service, None), False)
    try:
        pending = revisions_between(service, current)
    except KeyError as exc:
        raise OperatorError(
            f"the {database.label} is at revision {current}, which this version of the "
            "platform does not know: it was migrated by a newer version; run that version, "
            "or restore a backup made by this one"
        ) from exc
    return MigrationState(database, current, head, pending, True)


def migrate(
    service: Annotated[
        list[ServiceName] | None, typer.Argument(help="Services to migrate (default: all).")
    ] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing; say what is pending, exit 1 when anything is."
        ),
    ] = False,
) -> None:
    """Bring every service's database schema up to date (idempotent); creates the database
    when it is missing and the role may."""
    databases = all_databases([s.value for s in service] if service else None)
    if check:
        states = [migration_state(database) for database in databases]
        for state in states:
            colour = "yellow" if state.pending else "green"
            console.print(f"[{colour}]{state.line}[/]")
        if any(state.pending for state in states):
            raise typer.Exit(1)
        return
    for database in databases:
        migration_state(database)  # refuses a database migrated by a newer version
        if ensure_database(database):
            console.print(f"[green]created[/] the {database.label} ({database.where})")
        with database.working():
            upgrade(database.service, database.url, database.schema, revision)
        console.print(f"[green]migrated[/] {database.service} ({database.where})")
