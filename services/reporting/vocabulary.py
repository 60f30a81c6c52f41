"""Reporting's own classifications of what the feeds send."""

from enum import StrEnum


class SizeBand(StrEnum):
    """Factory size by total workforce, the bands the annual report's profile uses."""

    SMALL = "small"  # fewer than 250 workers
    MEDIUM = "medium"  # 250 to 499
    LARGE = "large"  # 500 to 999
    VERY_LARGE = "very_large"  # 1,000 or more


SIZE_BAND_LABELS = {
    SizeBand.SMALL: "Fewer than 250 workers",
    SizeBand.MEDIUM: "250-499 workers",
    SizeBand.LARGE: "500-999 workers",
    SizeBand.VERY_LARGE: "1,000 workers or more",
}


def size_band_for(workforce_total: int | None) -> SizeBand | None:
    if workforce_total is None:
        return None
    if workforce_total < 250:
        return SizeBand.SMALL
    if workforce_total < 500:
        return SizeBand.MEDIUM
    if workforce_total < 1000:
        return SizeBand.LARGE
    return SizeBand.VERY_LARGE


# An assessment in one of these states no longer counts, even if it had been published.
WITHDRAWN_STATUSES = ("withdrawn", "cancelled", "retracted")

FEED_SOURCES = ("assessment", "training")
