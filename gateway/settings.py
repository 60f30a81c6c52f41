"""The gateway's settings, all from ``GATEWAY_*`` environment variables (``REDIS_URL`` aside)."""

import json
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.client_address import parse_networks
from services.common.http_client import split_urls
from services.common.settings import development_mode

# Under BW_ENV=development a frontend's dev server (Next.js/CRA on 3000, Vite on 5173) may call
# the API from the browser with no setting; anywhere else only GATEWAY_CORS_ORIGINS counts.
DEVELOPMENT_ORIGINS = [
    f"http://{host}:{port}" for port in (3000, 5173) for host in ("localhost", "127.0.0.1")
]

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
    "/v1/webhooks": "reporting",
    "/v1/audit/assessment": "assessment",
    "/v1/audit/training": "training",
    "/v1/audit/reporting": "reporting",
}


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    # Each takes one URL or a comma-separated list of replica URLs the gateway balances over.
    assessment_url: str = "http://127.0.0.1:8001"
    training_url: str = "http://127.0.0.1:8002"
    reporting_url: str = "http://127.0.0.1:8003"
    routes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 15.0
    # Longer budgets for slow routes (longest matching prefix wins), e.g. rendering a PDF.
    route_timeouts: dict[str, float] = Field(default_factory=lambda: {"/v1/reports": 120.0})
    # Reads and keyed writes are retried this many times when the connection fails (with
    # several replicas: at least once on each, never twice on one).
    retries: int = 1
    # Requests sent at once to each replica of a service; more wait at the gateway, first come
    # first served, at most queue_timeout_seconds (then 503). 0: no limit. See replicas.py.
    upstream_max_concurrency: int = 8
    queue_timeout_seconds: float = 30.0
    retry_backoff_seconds: float = 0.05
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 5.0
    openapi_cache_seconds: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    # Replicated services only: how often each replica is asked, and what counts as healthy.
    health_check_path: str = "/health/ready"
    health_check_interval_seconds: float = 2.0
    health_check_timeout_seconds: float = 1.0
    # Browser origins allowed to call the API (comma-separated or a JSON list); empty means the
    # development ones under BW_ENV=development and none elsewhere.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Rate-limit buckets shared by every gateway replica; unset: kept in this process.
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL")
    )
    redis_key_prefix: str = "bw:ratelimit:"
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    # Proxies (CIDRs) whose X-Forwarded-For is believed, e.g. "10.0.0.0/8,192.168.1.5"; empty:
    # the socket peer is the client, whatever it claims.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    # FastAPI's native OpenTelemetry spans and metrics for the gateway's requests, exported to
    # whatever providers the process installs; off, it costs nothing per request.
    telemetry: bool = False

    @field_validator("assessment_url", "training_url", "reporting_url")
    @classmethod
    def _check_replica_urls(cls, value: str) -> str:
        split_urls(value)  # a bad URL stops the gateway at startup
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    def allowed_origins(self) -> list[str]:
        if self.cors_origins:
            return self.cors_origins
        return list(DEVELOPMENT_ORIGINS) if development_mode() else []

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_and_check_cidrs(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().startswith("["):
            value = json.loads(value)  # the JSON list form other list settings take
        elif isinstance(value, str):
            value = [part for part in value.replace(";", ",").split(",") if part.strip()]
        parse_networks(value)  # a bad CIDR stops the gateway at startup, not at a request
        return [part.strip() for part in value]

    def timeout_for(self, path: str) -> float:
        matches = [p for p in self.route_timeouts if path == p or path.startswith(p + "/")]
        return self.route_timeouts[max(matches, key=len)] if matches else self.read_timeout_seconds

    def service_urls(self) -> dict[str, str]:
        """Each service's setting as given: one URL, or several separated by commas."""
        return {
            "assessment": self.assessment_url,
            "training": self.training_url,
            "reporting": self.reporting_url,
        }

    def replica_urls(self) -> dict[str, list[str]]:
        """Each service's replica URLs (a list of one for a single URL)."""
        return {
            "assessment": split_urls(self.assessment_url),
            "training": split_urls(self.training_url),
            "reporting": split_urls(self.reporting_url),
        }
