from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FactoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.")
    region: str | None = Field(default=None, max_length=120)


class FactoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    country: str
    region: str | None
    created_at: datetime
    updated_at: datetime
