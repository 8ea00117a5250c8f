"""The topic catalogue: every Kafka topic socialpulse reads or writes, with its key and value contract."""

from dataclasses import dataclass

from pydantic import BaseModel

from schemas.alert import Alert
from schemas.counts import CountsBatch
from schemas.deadletter import DeadLetter
from schemas.deletion import Deletion
from schemas.events import EnrichedEvent, RawEvent
from schemas.incident import Incident
from schemas.source_checkpoint import SourceCheckpoint


@dataclass(frozen=True)
class TopicSpec:
    name: str
    version: int
    key: str  # which field is the message key
    value_model: type[BaseModel]
    description: str


RAW = TopicSpec("social.raw.v1", 1, "event_id", RawEvent, "Normalised raw posts from every network.")
ENRICHED = TopicSpec(
    "social.enriched.v1", 1, "event_id", EnrichedEvent, "Posts with language, entities, sentiment, brand-query matches."
)
DEADLETTER = TopicSpec(
    "social.deadletter.v1", 1, "dead_letter_id", DeadLetter, "Records that failed, with original bytes."
)
COUNTS = TopicSpec("social.counts.v1", 1, "partition", CountsBatch,
                   "Partial minute counts per subject of each stored batch, and each source partition's progress.")
ALERTS = TopicSpec("social.alerts.v1", 1, "alert_id", Alert, "Spike alerts with explanations.")
INCIDENTS = TopicSpec("social.incidents.v1", 1, "incident_id", Incident,
                      "Alerts grouped into incidents: open, updated, resolved revisions.")
DELETIONS = TopicSpec("social.deletions.v1", 1, "deletion_id", Deletion,
                      "Posts the networks say were deleted (or must no longer be shown); consumers honour them.")
SOURCES = TopicSpec("social.sources.v1", 1, "source", SourceCheckpoint,
                    "Connector checkpoints (compacted): where each live source resumes.")

TOPICS: dict[str, TopicSpec] = {spec.name: spec for spec in (RAW, ENRICHED, DEADLETTER, COUNTS, ALERTS, INCIDENTS,
                                                              DELETIONS, SOURCES)}
