"""A real HTTP source for subprocess tests: `python -m tests.reporting.fake_feed_server --port P
--seed S [--delay SECONDS]` serves a generated programme's feeds under /assessment and /training,
verifying tokens with the AUTH_* settings of its environment."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from fastapi import FastAPI, Request

from services.common.settings import AuthSettings
from tests.reporting.feedgen import FakeSource, fake_source_app, generate_programme


def build_app(seed: int, factories: int, delay: float) -> FastAPI:
    programme = generate_programme(seed=seed, factories=factories, cycles=3)
    app = FastAPI()
    auth = AuthSettings()
    app.mount("/assessment", fake_source_app(FakeSource(programme.assessment), auth))
    app.mount("/training", fake_source_app(FakeSource(programme.training), auth))

    @app.middleware("http")
    async def slow_down(request: Request, call_next):  # type: ignore[no-untyped-def]
        await asyncio.sleep(delay)  # so a test can kill the syncer between and during pages
        return await call_next(request)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--factories", type=int, default=12)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.seed, args.factories, args.delay),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
