"""Alert v1: a spike in volume or negativity around a brand query, entity or hashtag, with its explanation.

``subject_type`` "topic" means a brand query (config/brand_queries.yaml): the value Alert v1 was published
with, kept because renaming it would break consumers; a new name needs a new topic version.
"""

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.base import Contract


class TermLift(Contract):
    term: str
    kind: Literal["entity", "hashtag", "term"]
    window_count: int = Field(ge=0)
    baseline_rate: float = Field(ge=0.0)
    lift: float


class AlertExplanation(Contract):
    drivers: tuple[TermLift, ...] = ()
    sentiment_window: float = 0.0  # mean signed score in the spike window
    sentiment_baseline: float = 0.0
    example_event_ids: tuple[str, ...] = ()
    example_texts: tuple[str, ...] = ()


class Alert(Contract):
    schema_version: Literal[1] = 1
    alert_id: str  # "<kind>:<subject_type>:<subject>:<window_start iso>" — stable across redelivery
    kind: Literal["volume_spike", "negative_surge"]
    subject_type: Literal["topic", "entity", "hashtag"]
    subject: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    observed: float
    baseline: float
    score: float
    explanation: AlertExplanation
    detected_at: AwareDatetime
