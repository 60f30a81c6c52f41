"""`bw`: the platform's command line. Run `bw --help`."""

from __future__ import annotations

import signal
import time
from typing import Annotated

import typer
from rich.console import Console

from bw import backup as backup_cli
from bw import catalog as catalog_cli
from bw import doctor as doctor_cli
from bw import report as report_cli
from bw import seed as seed_cli
from bw import sync as sync_cli
from bw import training as training_cli
from bw.databases import all_databases
from bw.errors import OperatorError, OperatorGroup
from bw.migrations import ServiceName, migrate, migration_state
from bw.runner import GaveUp, Platform
from bw.services import SERVICES
from gateway.settings import GatewaySettings
from services.common.auth import Role, mint_token
from services.common.migrate import upgrade
from services.common.settings import AuthSettings

app = typer.Typer(
    help="Run, migrate and operate the Better Work platform.",
    no_args_is_help=True,
    cls=OperatorGroup,
)
console = Console(stderr=True)


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """Run, migrate and operate the Better Work platform."""


@app.command()
def revision(
    service: ServiceName,
    message: Annotated[str, typer.Option("-m", "--message", help="What the change is.")],
) -> None:
    """Autogenerate a migration from the service's models (against a scratch SQLite database)."""
    import tempfile
    from pathlib import Path

    from alembic import command

    from services.common.migrate import alembic_config

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        upgrade(service.value, url, None)
        command.revision(
            alembic_config(service.value, url, None), message=message, autogenerate=True
        )


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="Role the token carries.")] = Role.ADMIN,
    subject: Annotated[str | None, typer.Option(help="Subject (user or system id).")] = None,
    factory_id: str | None = None,
    brand_id: str | None = None,
    country: str | None = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30m, 1h, 7d.")] = "1h",
) -> None:
    """Mint a development token signed with the configured HS256 secret."""
    typer.echo(
        mint_token(
            AuthSettings(),
            role=role.value,
            subject=subject,
            ttl_seconds=parse_duration(ttl),
            factory_id=factory_id,
            brand_id=brand_id,
            country=country,
        )
    )


def parse_duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except (ValueError, IndexError) as exc:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 1h or 7d") from exc


@app.command()
def up(
    host: str = "127.0.0.1",
    gateway_port: Annotated[int | None, typer.Option(help="Default: GATEWAY_PORT or 8000.")] = None,
    replicas: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Processes per service (PostgreSQL only): the first on the service's port, "
            "the others on successive ports after the highest configured one.",
        ),
    ] = 1,
) -> None:
    """Start the gateway and the three services, restart any that crashes; stop them all with
    Ctrl-C."""
    databases = all_databases()
    if replicas > 1 and (on_sqlite := [d.service for d in databases if d.is_sqlite]):
        # Replicas of a service must see one another's writes, outbox and idempotency keys.
        raise OperatorError(
            f"--replicas {replicas} needs a database every replica shares, and "
            f"{', '.join(on_sqlite)} is on SQLite (one file per process); set DATABASE_URL="
            "postgresql+asyncpg://... or run with --replicas 1"
        )
    for database in databases:
        # Apps on a database behind their code would fail on requests, not at startup.
        state = migration_state(database)
        if state.pending:
            raise OperatorError(f"not starting: {state.line}; run `bw migrate` first")
    ports = {s.name: s.settings_class().port for s in SERVICES}
    ports["gateway"] = gateway_port or GatewaySettings().port
    platform = Platform(
        host=host,
        ports=ports,
        replicas=replicas,
        log=lambda message: console.print(f"[yellow]{message}[/]", highlight=False),
    )
    taken = [*platform.replica_ports().values(), ports["gateway"]]
    if len(set(taken)) != len(taken):
        raise OperatorError(f"two processes would share a port ({sorted(taken)}); change the ports")
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    platform.start()
    try:
        try:
            platform.wait_ready()
        except (RuntimeError, TimeoutError) as exc:
            raise OperatorError(
                f"the platform did not start: {exc} (its own messages are above; "
                "a port in use or a database not migrated are the usual causes)"
            ) from exc
        _print_up(platform)
        while not stopping:
            try:
                platform.supervise()
            except GaveUp as exc:
                console.print(f"[red]{exc}; stopping the platform[/]")
                raise typer.Exit(1) from exc
            time.sleep(0.2)
    finally:
        console.print("stopping ...")
        platform.stop()
        console.print("stopped")


def _print_up(platform: Platform) -> None:
    admin = mint_token(AuthSettings(), role="admin", subject="admin-dev", ttl_seconds=12 * 3600)
    console.print("\n[bold green]Better Work platform is up[/]")
    console.print(f"  gateway      {platform.url('gateway')}")
    console.print(f"  API docs     {platform.url('gateway')}/docs")
    for s in SERVICES:
        for name in platform.replica_names(s.name):
            pid = platform.processes[name].pid
            console.print(f"  {name:<12} {platform.url(name)}/docs  (pid {pid})", highlight=False)
    console.print("\n  admin token (12 h, for the docs page's Authorize button):")
    # On one line whatever the terminal's width, so it copies and pastes whole.
    console.print(f"  {admin}\n", soft_wrap=True, highlight=False)
    console.print("A process that crashes is started again. Press Ctrl-C to stop.")


app.add_typer(catalog_cli.app, name="catalog")
app.add_typer(report_cli.app, name="report")
app.add_typer(seed_cli.app, name="seed")
app.add_typer(training_cli.app, name="training")
app.command("sync")(sync_cli.sync)
app.command("migrate")(migrate)
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)
app.command("doctor")(doctor_cli.doctor)

if __name__ == "__main__":
    app()
