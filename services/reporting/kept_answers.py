"""Report answers kept until the read model changes, per process.

A rates answer or an annual report is a function of its arguments (the scope, the audience,
which carries the date that decides which years have ended, the level or the format) and of
the read model. Only the sync changes the read model, and it moves the source's feed cursor
row in the same transaction (a page applied, a rebuild that forgets a source). So an answer is
kept with the cursor rows it was computed under, and every request reads those rows again, one
small statement in its own view (never a clock): an unchanged state reuses the answer, any
other state computes it anew. The computation itself reads at least that state, never an
older one, so a kept answer is never older than what its request could see. This is the rule
the catalogue labels already follow (compliance/labels.py), over every source.

Under load, a report costs up to 35 ms of CPU while the feed moves a few times a second:
computing it once per state instead of once per request was a quarter of the platform's CPU
in ``bench_load`` (issue 12). Requests that ask for an answer being computed wait for it
rather than compute it again.

A row written by hand into the read model moves no cursor; answers are kept at most
:data:`MAX_AGE_SECONDS`, so such a fix shows within that time (or at once after a restart).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import FeedCursor

T = TypeVar("T")

CAPACITY = 64  # answers kept per database; a report's scopes and audiences are few
MAX_AGE_SECONDS = 60.0

READ_MODEL_STATE = select(
    col(FeedCursor.source),
    col(FeedCursor.last_event_id),
    col(FeedCursor.last_event_txid),
    col(FeedCursor.updated_at),
).order_by(col(FeedCursor.source))
"""Where every source's sync stands; it moves with every change to the read model."""

State = tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class _Kept:
    state: State
    value: Any
    computed_at: float


class KeptAnswers:
    """The answers kept for one database, least recently used first out."""

    def __init__(self, capacity: int = CAPACITY, max_age: float = MAX_AGE_SECONDS) -> None:
        self.capacity = capacity
        self.max_age = max_age
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._computing: dict[tuple[Hashable, State], asyncio.Future[Any]] = {}

    async def get(self, state: State, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        if (
            kept is not None
            and kept.state == state
            and time.monotonic() - kept.computed_at < self.max_age
        ):
            self._kept.move_to_end(key)
            return kept.value  # type: ignore[no-any-return]
        computing = self._computing.get((key, state))
        if computing is not None:
            try:
                return await asyncio.shield(computing)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not computing.cancelled() or (current is not None and current.cancelling()):
                    raise
                # The request computing it failed or went away: compute it here.
        return await self._compute(state, key, compute)

    async def _compute(self, state: State, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._computing[key, state] = future
        try:
            value = await compute()
        except BaseException:
            future.cancel()  # whoever waits computes it for themselves
            raise
        finally:
            if self._computing.get((key, state)) is future:
                del self._computing[key, state]
        future.set_result(value)
        self._kept[key] = _Kept(state, value, time.monotonic())
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
        return value


# Keyed by the session's engine (a test database, a replica's pool): one process may serve
# several databases, whose cursors may well hold the same values.
_per_database: WeakKeyDictionary[Any, KeptAnswers] = WeakKeyDictionary()


def forget_kept_answers() -> None:
    """Drop every kept answer of this process, e.g. to measure what computing one costs."""
    _per_database.clear()


async def read_model_state(session: AsyncSession) -> State:
    return tuple(tuple(row) for row in (await session.execute(READ_MODEL_STATE)).all())


def answers_of(session: AsyncSession) -> KeptAnswers:
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)  # a keyed request's session is bound to a connection
    answers = _per_database.get(engine)
    if answers is None:
        answers = _per_database[engine] = KeptAnswers()
    return answers


async def kept_or_computed(
    session: AsyncSession, key: Hashable, compute: Callable[[], Awaitable[T]]
) -> T:
    """The answer for ``key`` kept under the read model's state as ``session`` sees it now,
    else ``compute()`` (which must read that state or a later one) kept for the next."""
    state = await read_model_state(session)
    return await answers_of(session).get(state, key, compute)
