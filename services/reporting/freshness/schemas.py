from datetime import datetime

from pydantic import BaseModel, Field


class FeedFreshness(BaseModel):
    source: str
    status: str = Field(description="ok, catching_up, source_unavailable or never_synced.")
    last_event_id: int
    last_event_at: datetime | None = Field(description="When the last applied event happened.")
    data_as_of: datetime | None = Field(
        description="Every change the source committed before this moment is in the reports."
    )
    lag_seconds: float | None = Field(description="Age of data_as_of now.")
    last_error: str | None
    consecutive_failures: int


class Freshness(BaseModel):
    data_as_of: datetime | None = Field(description="The oldest of the feeds' data_as_of.")
    feeds: list[FeedFreshness]
