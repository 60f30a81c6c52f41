"""Small, hand-made programmes for reporting tests: a few named factories and events, each
placed in time, so a test can say exactly which figure a reader should see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tests.reporting.feedgen import (
    FakeSource,
    FeedLog,
    assessment_payload,
    catalog_payload,
    catalog_questions,
    factory_payload,
)


@dataclass
class ProgrammeBuilder:
    """Both change feeds of a small programme, written event by event."""

    assessment: FeedLog = field(default_factory=FeedLog)
    training: FeedLog = field(default_factory=FeedLog)

    def catalog(self, ident: str = "cat_1", **fields: Any) -> dict[str, Any]:
        """A published catalogue (feedgen's CAT) with ``fields`` overridden, e.g. a title."""
        payload = catalog_payload(ident, points_per_cluster=1, questions_per_point=2) | fields
        return self.assessment.add("catalog.published", payload)

    def factory(
        self, ident: str, *, registered: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A factory registered at ``registered`` (the feed's clock if not given)."""
        if registered is not None:
            self.assessment.clock = registered
        return self.assessment.add("factory.created", factory_payload(ident, **fields))

    def assessed(
        self, factory_id: str, catalog: dict[str, Any], day: date, *, findings: bool = True
    ) -> dict[str, Any]:
        """A published assessment; non-compliant on every question if ``findings``."""
        codes = {q["code"] for q in catalog_questions(catalog)} if findings else set()
        payload = assessment_payload(
            f"asm_{factory_id}_{day.isoformat()}",
            factory_id,
            catalog,
            visit_end=day,
            non_compliant=codes,
        )
        return self.assessment.add("assessment.published", payload)

    def advisory_visit(self, factory_id: str, day: date) -> dict[str, Any]:
        return self.training.add(
            "advisory_visit.created",
            {
                "id": f"adv_{factory_id}_{day.isoformat()}",
                "factory_id": factory_id,
                "visit_date": day.isoformat(),
                "advisors": ["ea_1"],
                "topics": ["osh"],
                "compliance_point_codes": [],
            },
        )

    def sources(self) -> dict[str, FakeSource]:
        return {"assessment": FakeSource(self.assessment), "training": FakeSource(self.training)}


def at(year: int, month: int = 6, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
