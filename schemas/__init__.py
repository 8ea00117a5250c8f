"""socialpulse contracts: event models, error codes, topic catalogue, ClickHouse migrations.

Imports nothing else of socialpulse; processors/ and streams/ depend on this package.
"""

from schemas.alert import Alert, AlertExplanation
from schemas.deadletter import DeadLetter
from schemas.deletion import Deletion
from schemas.errors import ErrorCode
from schemas.events import (
    Author,
    EmojiMention,
    Engagement,
    EnrichedEvent,
    Entity,
    EventKind,
    Network,
    RawEvent,
    Sentiment,
    SentimentLabel,
)
from schemas.source_checkpoint import SourceCheckpoint
from schemas.topics import TOPICS, TopicSpec

__all__ = [
    "TOPICS",
    "Alert",
    "AlertExplanation",
    "Author",
    "DeadLetter",
    "Deletion",
    "EmojiMention",
    "Engagement",
    "EnrichedEvent",
    "Entity",
    "ErrorCode",
    "EventKind",
    "Network",
    "RawEvent",
    "Sentiment",
    "SentimentLabel",
    "SourceCheckpoint",
    "TopicSpec",
]
