"""Incident v1: one growing story made of many spike alerts (processors/incidents.py groups them).

An incident is emitted once per change: "open" (revision 1), "updated" (it grew), "resolved" (quiet period
passed, or merged into another incident: then `merged_into` names the survivor). Consumers keep the highest
revision per `incident_id`.
"""

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.alert import TermLift
from schemas.base import Contract

IncidentStatus = Literal["open", "updated", "resolved"]


class IncidentSubject(Contract):
    subject_type: Literal["topic", "entity", "hashtag"]  # the values of Alert.subject_type ("topic" = brand query)
    subject: str


class Incident(Contract):
    schema_version: Literal[1] = 1
    incident_id: str  # "incident:<subject_type>:<subject>:<window_start iso UTC>" of its first alert — stable
    status: IncidentStatus
    revision: int = Field(ge=1)  # 1 when opened, +1 per emission
    headline: IncidentSubject  # the brand query with the highest observed count, else the top-scored subject
    kinds: tuple[Literal["volume_spike", "negative_surge"], ...]  # sorted, distinct
    subjects: tuple[IncidentSubject, ...]  # sorted by (subject_type, subject), distinct
    alert_ids: tuple[str, ...]  # sorted, distinct; the highest-scored ones when over the cap
    alert_count: int = Field(ge=1)  # every alert grouped, also those beyond the alert_ids cap
    started_at: AwareDatetime  # earliest alert window_start
    peak_at: AwareDatetime  # window_start of the highest-scored alert (ties: earliest)
    peak_score: float
    peak_observed: float
    last_alert_at: AwareDatetime  # latest alert window_end
    ended_at: AwareDatetime | None = None  # = last_alert_at once resolved
    merged_into: str | None = None  # resolved because another incident absorbed it
    drivers: tuple[TermLift, ...] = ()
    example_event_ids: tuple[str, ...] = ()
    example_texts: tuple[str, ...] = ()  # aligned with example_event_ids
    sentiment_window: float = 0.0  # of the highest-scored alert
    sentiment_baseline: float = 0.0
    updated_at: AwareDatetime  # the `now` of the grouping call that emitted this revision
