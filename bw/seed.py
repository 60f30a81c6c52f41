"""`bw seed demo` and `bw seed synthetic`: data for a first look and for benchmarks.

The assessment data come from services/assessment/seeding.py (through the service's own
functions); the demo's factories and published assessments are then handed to the training
service's own seed, so both demos tell one story.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from bw.databases import service_database
from services.assessment import demo_data
from services.assessment.seeding import DemoResult, SyntheticResult, seed_demo, seed_synthetic
from services.training.seed import seed_demo as seed_training

app = typer.Typer(help="Load demo or synthetic data into the assessment service.")
console = Console(stderr=True)


async def seed_training_demo(result: DemoResult, seed: int) -> None:
    """Hand the demo's factories and published assessments to the training service's seed
    (idempotent too, so a rerun completes a half-finished demo)."""
    target = service_database("training")
    database = target.open()
    try:
        with target.working():
            await seed_training(database, result.factories, result.assessments, seed=seed)
    finally:
        await database.dispose()


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = demo_data.DEMO_SEED,
) -> None:
    """Load the demo once: the draft CAT, nine factories, brands, consents, nine assessments."""

    async def run() -> None:
        target = service_database("assessment")
        database = target.open()
        try:
            with target.working():
                result = await seed_demo(database, seed)
        finally:
            await database.dispose()
        what = "seeded" if result.created else "already there:"
        console.print(
            f"[green]{what}[/] assessment demo: catalogue {result.catalog_id}, "
            f"{len(result.factories)} factories, {len(result.assessments)} published assessments"
        )
        await seed_training_demo(result, seed)
        console.print("[green]seeded[/] training demo (idempotent)")

    asyncio.run(run())


@app.command()
def synthetic(
    factories: Annotated[int, typer.Option(min=1, help="How many factories.")] = 2000,
    cycles: Annotated[int, typer.Option(min=1, max=10, help="Assessments per factory.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 7,
    events: Annotated[
        bool, typer.Option(help="Write change-feed events too (reporting reads them).")
    ] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Factories per transaction.")] = 50,
) -> None:
    """A large synthetic data set on a ~250-question CAT, for benchmarks."""

    def progress(done: int, findings: int) -> None:
        console.print(f"  {done}/{factories} factories, {findings} findings", highlight=False)

    async def run() -> SyntheticResult:
        target = service_database("assessment")
        database = target.open()
        try:
            with target.working():
                return await seed_synthetic(
                    database, factories, cycles, seed, events, batch_size, progress
                )
        finally:
            await database.dispose()

    result = asyncio.run(run())
    console.print(
        f"[green]seeded[/] {result.factories} factories, {result.assessments} assessments, "
        f"{result.findings} findings on catalogue {result.catalog_id} in {result.seconds:.1f} s"
    )
