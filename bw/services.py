"""What `bw` knows about the platform's processes: names, apps, settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.assessment.settings import AssessmentSettings
from services.common.settings import ServiceSettings
from services.reporting.settings import ReportingSettings
from services.training.settings import TrainingSettings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app_factory: str
    settings_class: type[ServiceSettings]
    env_prefix: str


SERVICES: list[ServiceSpec] = [
    ServiceSpec(
        "assessment", "services.assessment.app:create_app", AssessmentSettings, "ASSESSMENT_"
    ),
    ServiceSpec("training", "services.training.app:create_app", TrainingSettings, "TRAINING_"),
    ServiceSpec("reporting", "services.reporting.app:create_app", ReportingSettings, "REPORTING_"),
]

GATEWAY_FACTORY = "gateway.app:create_app"


def spec(name: str) -> ServiceSpec:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
