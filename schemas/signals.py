"""The spike detector's signals to the incident grouper, on the worker's internal one-partition topic
`<app id>-spike-signals` (Faust creates and owns it; not a published contract)."""

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.alert import Alert
from schemas.base import Contract


class RelatedSubject(Contract):
    subject_type: Literal["topic", "entity", "hashtag"]
    subject: str


class AlertSignal(Contract):
    alert: Alert
    related: tuple[RelatedSubject, ...] = ()  # entities and hashtags in a large share of the minute's posts


class SpikeSignals(Contract):
    partition: int = Field(ge=0)  # of social.counts.v1
    closed_until: AwareDatetime  # that partition has closed every minute before it
    signals: tuple[AlertSignal, ...] = ()
