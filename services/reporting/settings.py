from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, development_mode


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    service_name: str = "reporting"
    port: int = 8003
    assessment_url: str = "http://127.0.0.1:8001"
    training_url: str = "http://127.0.0.1:8002"
    sync_enabled: bool = Field(True, description="Run the sync worker inside the app process.")
    sync_interval_seconds: float = Field(2.0, gt=0, description="Pause once caught up.")
    sync_page_size: int = Field(500, ge=1, le=1000)
    sync_max_backoff_seconds: float = Field(60.0, gt=0)
    min_cell_size: int = Field(
        5, ge=1, description="Fewest factories behind a figure shown to public callers."
    )

    leader_lease_seconds: float = Field(
        5.0, gt=0, description="Once across replicas: a dead leader is replaced within this."
    )
    webhooks_enabled: bool = Field(True, description="Run the webhook deliverer in this process.")
    webhook_allow_private_urls: bool = Field(
        False, description="Allow http and private/loopback receivers (tests, development)."
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(
        30.0, gt=0, description="An in-flight delivery is retried after this if its sender died."
    )
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_concurrency: int = Field(8, ge=1, le=64, description="Subscriptions sent to at once.")
    webhook_retry_base_seconds: float = Field(5.0, gt=0)
    webhook_retry_max_seconds: float = Field(3600.0, gt=0)
    webhook_disable_after_failures: int = Field(15, ge=1)
    webhook_disable_after_seconds: float = Field(
        3 * 86400.0, ge=0, description="Failing this long (and that often) disables a webhook."
    )
    webhook_secret_grace_seconds: float = Field(
        86400.0, ge=0, description="How long a rotated-out secret keeps signing alongside."
    )

    @model_validator(mode="after")
    def _lease_outlives_a_request(self) -> ReportingSettings:
        """A lease shorter than a request would let a second sender start while the first is
        still waiting for its answer."""
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_timeout_seconds")
        return self

    def allow_private_webhook_urls(self) -> bool:
        return self.webhook_allow_private_urls or development_mode()

    def feed_urls(self) -> dict[str, str]:
        return {"assessment": self.assessment_url, "training": self.training_url}
