from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINING_", extra="ignore")

    service_name: str = "training"
    port: int = 8002
    # Where factory, assessment and finding ids are checked (TRAINING_ASSESSMENT_URL).
    assessment_url: str = "http://127.0.0.1:8001"
    max_attendance_rows: int = 5_000
