"""`bw backup DIR` and `bw restore DIR`: every service's database together, with a manifest.

Backups are taken while the platform runs. Reporting is copied first, so the cursors it
saved never point past the sources' feeds saved after it (on PostgreSQL, services sharing a
database are dumped from one snapshot anyway). A restore checks the whole backup before it
replaces anything, keeps a copy of what it replaces, migrates what it restored to this
version's head, and then checks reporting against the restored feeds: when the sources are
older than reporting's data, reporting rebuilds that part from the feeds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bw.backup_manifest import Manifest, ServiceEntry, ServicePositions, sha256
from bw.databases import ServiceDatabase, all_databases, ensure_database, service_database
from bw.errors import OperatorError
from bw.migrations import ServiceName, migration_state
from bw.services import SERVICES, spec
from services.common.migrate import revisions_between, upgrade

console = Console(stderr=True, highlight=False, soft_wrap=True)

# Reporting before its sources: its cursors then never pass the feeds saved after it.
BACKUP_ORDER = ("reporting", "assessment", "training")


def _backend(databases: list[ServiceDatabase]) -> str:
    kinds = {"sqlite" if database.is_sqlite else "postgresql" for database in databases}
    if len(kinds) > 1:
        raise OperatorError(
            "some services are on SQLite and some on PostgreSQL; back them up one back end at "
            "a time is not supported: put every service on the same back end"
        )
    return kinds.pop()


def _entry(path: Path, schema: str | None, positions: ServicePositions) -> ServiceEntry:
    return ServiceEntry(path.name, sha256(path), path.stat().st_size, schema, positions)


def _require_migrated(database: ServiceDatabase) -> None:
    state = migration_state(database)
    if not state.exists or state.current is None:
        raise OperatorError(f"the {database.label} holds nothing yet ({database.where})")


def _copy_every_service(
    databases: dict[str, ServiceDatabase], backend: str, partial: Path
) -> dict[str, ServiceEntry]:
    entries: dict[str, ServiceEntry] = {}
    if backend == "sqlite":
        from bw.backup_sqlite import copy_database, read_positions

        for name in BACKUP_ORDER:
            target = partial / f"{name}.db"
            with databases[name].working():
                copy_database(databases[name].sqlite_path, target, "DELETE")
            entries[name] = _entry(target, None, read_positions(target))
        return entries
    from bw.backup_postgres import dump_schemas

    groups: dict[str, list[ServiceDatabase]] = {}
    for name in BACKUP_ORDER:
        groups.setdefault(databases[name].url, []).append(databases[name])
    for group in groups.values():
        with group[0].working():
            dumped = asyncio.run(dump_schemas(group, partial))
        for database in group:
            path, positions = dumped[database.service]
            entries[database.service] = _entry(path, database.schema, positions)
    return entries


def write_backup(directory: Path) -> Manifest:
    """Back up every service into ``directory`` (which must not exist or be empty)."""
    if directory.exists() and any(directory.iterdir()):
        raise OperatorError(f"{directory} is not empty: give a new directory for the backup")
    databases = {d.service: d for d in all_databases(list(BACKUP_ORDER))}
    backend = _backend(list(databases.values()))
    for database in databases.values():
        _require_migrated(database)
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        entries = _copy_every_service(databases, backend, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # never leave half a backup behind
        raise
    manifest = Manifest(backend=backend, services=entries)
    manifest.write(partial)
    if directory.exists():
        directory.rmdir()
    partial.rename(directory)
    return manifest


def _refuse_while_running(names: list[str]) -> None:
    """Replacing a database under a running service loses writes or corrupts SQLite files."""
    for service in SERVICES:
        settings = service.settings_class()
        host = "127.0.0.1" if settings.host in {"0.0.0.0", "::"} else settings.host
        url = f"http://{host}:{settings.port}/health/live"
        try:
            answered = httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            continue
        if answered:
            raise OperatorError(
                f"the {service.name} service answers at {url}: stop the platform before "
                f"restoring {', '.join(names)} (Ctrl-C on `bw up`)"
            )


def check_restorable(manifest: Manifest, names: list[str]) -> dict[str, ServiceDatabase]:
    """Everything a restore needs, checked before anything is replaced."""
    targets = {name: service_database(name) for name in names}
    for name, target in targets.items():
        entry = manifest.services.get(name)
        if entry is None:
            raise OperatorError(f"the backup holds no {name} database")
        kind = "sqlite" if target.is_sqlite else "postgresql"
        if kind != manifest.backend:
            raise OperatorError(
                f"the backup is of {manifest.backend} but the {target.label} is {kind} "
                f"({target.configured_by}); restore onto the same back end"
            )
        if entry.schema != target.schema:
            raise OperatorError(
                f"the backup's {name} schema is {entry.schema} but this deployment uses "
                f"{target.schema} ({spec(name).env_prefix}DB_SCHEMA)"
            )
        try:
            revisions_between(name, entry.positions.revision)
        except KeyError as exc:
            raise OperatorError(
                f"the backup's {name} database is at revision {entry.positions.revision}, "
                f"made by a newer version ({manifest.platform_version}): restore it with that"
            ) from exc
    return targets


def var_dir() -> Path:
    """Where the platform keeps its files (BW_VAR_DIR, as the settings read it)."""
    return Path(os.environ.get("BW_VAR_DIR") or spec("reporting").settings_class().var_dir)


def _safety_copy(directory: Path) -> Path | None:
    """A backup of what the restore replaces, when there is anything to keep."""
    for database in all_databases():
        state = migration_state(database)
        if not state.exists or state.current is None:
            return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory / "backups" / f"before-restore-{stamp}"
    write_backup(target)
    return target


def restore_backup(
    directory: Path, names: list[str], safety_copy: bool
) -> tuple[Manifest, Path | None]:
    manifest = Manifest.read(directory)
    manifest.check_files(directory)
    targets = check_restorable(manifest, names)
    _refuse_while_running(names)
    kept = _safety_copy(var_dir()) if safety_copy else None
    for name, target in targets.items():
        source = directory / manifest.services[name].file
        ensure_database(target)
        with target.working():
            if target.is_sqlite:
                from bw.backup_sqlite import copy_database

                copy_database(source, target.sqlite_path, "WAL")
            else:
                from bw.backup_postgres import restore_schema

                restore_schema(target, source)
            upgrade(name, target.url, target.schema)
    return manifest, kept


def _summary(manifest: Manifest, title: str) -> Table:
    table = Table(title=title)
    for heading in ("service", "revision", "feed end", "reporting cursors", "size"):
        table.add_column(heading)
    for name, entry in manifest.services.items():
        positions = entry.positions
        cursors = ", ".join(f"{s} {c.last_event_id}" for s, c in sorted(positions.cursors.items()))
        table.add_row(
            name,
            positions.revision or "-",
            str(positions.feed_end.last_event_id),
            cursors or "-",
            f"{entry.bytes:,} B",
        )
    return table


def backup(
    directory: Annotated[Path, typer.Argument(help="A new directory to write the backup to.")],
) -> None:
    """Back up every service's database, consistently, while the platform runs."""
    manifest = write_backup(directory)
    console.print(_summary(manifest, f"{manifest.backend} backup, {manifest.created_at}"))
    console.print(f"[green]backed up[/] every service to {directory}")


def restore(
    directory: Annotated[Path, typer.Argument(help="A directory `bw backup` wrote.")],
    service: Annotated[
        list[ServiceName] | None, typer.Argument(help="Services to restore (default: all).")
    ] = None,
    safety_copy: Annotated[
        bool, typer.Option(help="First back up what the restore replaces, under var/backups.")
    ] = True,
) -> None:
    """Restore services from a backup (platform stopped), migrate them to this version, and
    bring reporting in line with the restored feeds."""
    from bw.resync import resync_reporting
    from services.reporting.sync.worker import FeedUnavailable

    names = [s.value for s in service] if service else list(BACKUP_ORDER)
    manifest, kept = restore_backup(directory, names, safety_copy)
    if kept is not None:
        console.print(f"kept a copy of the replaced databases in {kept}")
    console.print(_summary(manifest, f"restored from the backup of {manifest.created_at}"))
    try:
        with service_database("reporting").working():
            outcomes = asyncio.run(resync_reporting())
    except (OperatorError, FeedUnavailable) as exc:
        # The restore itself is done; reporting checks its feeds again when it starts.
        console.print(f"[yellow]reporting not re-synced now: {exc}[/]")
        console.print("it checks and catches up with the feeds when the platform starts")
        outcomes = []
    for outcome in outcomes:
        colour = "yellow" if outcome.rebuilt else "green"
        console.print(f"[{colour}]{outcome.line}[/]")
    console.print(f"[green]restored[/] {', '.join(names)} from {directory}")
