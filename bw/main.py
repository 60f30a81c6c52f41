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
from bw.runner import Platform
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
) -> None:
    """Start the gateway and the three services; stop them all with Ctrl-C."""
    for database in all_databases():
        # Apps on a database behind their code would fail on requests, not at startup.
        state = migration_state(database)
        if state.pending:
            raise OperatorError(f"not starting: {state.line}; run `bw migrate` first")
    ports = {s.name: s.settings_class().port for s in SERVICES}
    ports["gateway"] = gateway_port or GatewaySettings().port
    platform = Platform(host=host, ports=ports)
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
        admin = mint_token(AuthSettings(), role="admin", subject="admin-dev", ttl_seconds=12 * 3600)
        console.print("\n[bold green]Better Work platform is up[/]")
        console.print(f"  gateway      {platform.url('gateway')}")
        console.print(f"  API docs     {platform.url('gateway')}/docs")
        for s in SERVICES:
            console.print(f"  {s.name:<12} {platform.url(s.name)}/docs")
        console.print("\n  admin token (12 h, for the docs page's Authorize button):")
        # On one line whatever the terminal's width, so it copies and pastes whole.
        console.print(f"  {admin}\n", soft_wrap=True, highlight=False)
        console.print("Press Ctrl-C to stop.")
        while not stopping:
            if failed := platform.failed():
                console.print(f"[red]a process exited: {failed}; stopping the platform[/]")
                raise typer.Exit(1)
            time.sleep(0.5)
    finally:
        console.print("stopping ...")
        platform.stop()
        console.print("stopped")


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
