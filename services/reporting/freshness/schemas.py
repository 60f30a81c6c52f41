from datetime import datetime

from pydantic import BaseModel, Field


class FeedFreshness(BaseModel):
    source: str
    status: str = Field(description="ok, catching_up, source_unavailable or never_synced.")
    last_event_id: int
    last_event_position: str = Field(
        description="The cursor in the source's feed: `<txid>.<id>` on PostgreSQL, `<id>` on "
        "SQLite (the `after` of the next read)."
    )
    last_event_at: datetime | None = Field(description="When the last applied event happened.")
    data_as_of: datetime | None = Field(
        description="Every change the source committed before this moment is in the reports."
    )
    lag_seconds: float | None = Field(description="Age of data_as_of now.")
    last_error: str | None
    consecutive_failures: int


class EventFreshness(BaseModel):
    """Whether the reports include one write: the event its answer named in ``Feed-Event``."""

    event: str = Field(description="The event asked about, as `source:position`.")
    applied: bool = Field(
        description="True once reporting has applied this event (and every earlier one of its "
        "source): a report read now includes the write."
    )
    applied_up_to: int | None = Field(
        description="The source's last applied event id (null for reporting's own writes, "
        "which are in the reports when they commit)."
    )


class Freshness(BaseModel):
    data_as_of: datetime | None = Field(description="The oldest of the feeds' data_as_of.")
    feeds: list[FeedFreshness]
    event: EventFreshness | None = Field(
        default=None, description="Present when `event` was asked: whether it is applied."
    )
