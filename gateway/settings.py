from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public path prefixes and the service that owns each; `/internal/*` is never routed.
DEFAULT_ROUTES: dict[str, str] = {
    "/v1/factories": "assessment",
    "/v1/brands": "assessment",
    "/v1/catalogs": "assessment",
    "/v1/assessments": "assessment",
    "/v1/courses": "training",
    "/v1/training-sessions": "training",
    "/v1/advisory-visits": "training",
    "/v1/committees": "training",
    "/v1/improvement-plans": "training",
    "/v1/seminars": "training",
    "/v1/reports": "reporting",
    "/v1/audit/assessment": "assessment",
    "/v1/audit/training": "training",
    "/v1/audit/reporting": "reporting",
}


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    assessment_url: str = "http://127.0.0.1:8001"
    training_url: str = "http://127.0.0.1:8002"
    reporting_url: str = "http://127.0.0.1:8003"
    routes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 15.0
    # Longer budgets for slow routes (longest matching prefix wins), e.g. rendering a PDF.
    route_timeouts: dict[str, float] = Field(default_factory=lambda: {"/v1/reports": 120.0})
    # Requests without a body are retried this many times when the connection fails.
    retries: int = 1
    retry_backoff_seconds: float = 0.05
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 5.0
    openapi_cache_seconds: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    log_level: str = "INFO"

    def timeout_for(self, path: str) -> float:
        matches = [p for p in self.route_timeouts if path == p or path.startswith(p + "/")]
        return self.route_timeouts[max(matches, key=len)] if matches else self.read_timeout_seconds

    def service_urls(self) -> dict[str, str]:
        return {
            "assessment": self.assessment_url,
            "training": self.training_url,
            "reporting": self.reporting_url,
        }
