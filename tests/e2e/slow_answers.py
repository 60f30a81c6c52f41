"""The assessment app with every POST's answer held back a moment after the app produced it,
that is after its transaction committed: a kill -9 then often lands between the commit and
the client's receiving the answer, the window an idempotency key must cover."""

from __future__ import annotations

import asyncio
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.assessment.app import create_app as create_assessment

HOLD_SECONDS = (0.02, 0.2)


def create_app() -> ASGIApp:
    app = create_assessment()

    async def answer_slowly(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return

        async def held_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(random.uniform(*HOLD_SECONDS))
            await send(message)

        await app(scope, receive, held_send)

    return answer_slowly
