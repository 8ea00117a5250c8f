"""Shared model configuration: frozen, no unknown fields, tz-aware datetimes."""

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Base of every wire model. Frozen so an event cannot change after validation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
