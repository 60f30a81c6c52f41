from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


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

    def feed_urls(self) -> dict[str, str]:
        return {"assessment": self.assessment_url, "training": self.training_url}
