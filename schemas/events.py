"""RawEvent v1 (what producers write to social.raw.v1) and EnrichedEvent v1 (social.enriched.v1)."""

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from schemas.base import Contract


class Network(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    REDDIT = "reddit"
    YOUTUBE = "youtube"


class EventKind(StrEnum):
    POST = "post"
    REPLY = "reply"
    REPOST = "repost"
    COMMENT = "comment"
    MENTION = "mention"


class Author(Contract):
    id: str = Field(min_length=1, max_length=256)
    handle: str = Field(default="", max_length=256)
    name: str = Field(default="", max_length=512)
    followers: int | None = Field(default=None, ge=0)


class Engagement(Contract):
    likes: int = Field(default=0, ge=0)
    reposts: int = Field(default=0, ge=0)
    replies: int = Field(default=0, ge=0)
    quotes: int = Field(default=0, ge=0)


class RawEvent(Contract):
    """One social post, normalised from any network. `event_id` = "<network>:<native_id>"."""

    schema_version: Literal[1] = 1
    event_id: str = Field(min_length=3, max_length=300)
    network: Network
    native_id: str = Field(min_length=1, max_length=256)
    kind: EventKind
    author: Author
    text: str
    lang_hint: str | None = Field(default=None, max_length=16)
    created_at: AwareDatetime
    url: str | None = Field(default=None, max_length=2048)
    thread_id: str | None = Field(default=None, max_length=256)
    reply_to_id: str | None = Field(default=None, max_length=256)
    engagement: Engagement = Engagement()
    ingested_at: AwareDatetime

    @model_validator(mode="after")
    def _event_id_is_network_and_native_id(self) -> "RawEvent":
        self.check_event_id(self.network, self.native_id, self.event_id)
        return self

    @staticmethod
    def check_event_id(network: Network, native_id: str, event_id: str) -> None:
        """The validator's check, shared with the msgspec mirror (schemas/fast.py)."""
        expected = f"{network.value}:{native_id}"  # make_event_id, without the enum lookup (hot path)
        if event_id != expected:
            raise ValueError(f"event_id must be {expected!r}, got {event_id!r}")


def make_event_id(network: Network | str, native_id: str) -> str:
    return f"{Network(network).value}:{native_id}"


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Sentiment(Contract):
    label: SentimentLabel
    # signed polarity in [-1, 1]: negative < 0 < positive
    score: float = Field(ge=-1.0, le=1.0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


# The labels an Entity carries: gazetteer entries use them as they are, NER model labels are mapped onto them
# (processors/languages.py).
ENTITY_LABELS = frozenset({"PERSON", "ORG", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "GROUP", "MISC"})


class Entity(Contract):
    """A named entity span; offsets are Python str indices into RawEvent.text."""

    text: str
    label: str  # one of ENTITY_LABELS
    canonical: str  # normalised form used for grouping (casefolded, tracked-alias resolved)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    source: Literal["gazetteer", "model"] = "model"


class EmojiMention(Contract):
    char: str
    name: str
    start: int = Field(ge=0)


class EnrichedEvent(Contract):
    """A RawEvent plus what the enricher found. Published on social.enriched.v1 keyed by event_id.

    ``topics`` holds the names of the brand queries the post matched (config/brand_queries.yaml). It keeps the
    name it was published with, from before brand queries were named so: renaming a field of a published
    contract breaks its consumers and needs a new topic version (social.enriched.v2).
    """

    schema_version: Literal[1] = 1
    event: RawEvent
    language: str  # ISO 639-1, or "und" when unknown
    language_confidence: float = Field(ge=0.0, le=1.0)
    sentiment: Sentiment
    entities: tuple[Entity, ...] = ()
    hashtags: tuple[str, ...] = ()  # lower-cased, without "#"
    mentions: tuple[str, ...] = ()  # lower-cased, without "@"
    urls: tuple[str, ...] = ()
    cashtags: tuple[str, ...] = ()  # upper-cased, without "$"
    emojis: tuple[EmojiMention, ...] = ()
    topics: tuple[str, ...] = ()  # names of the brand queries the post matched (legacy field name, see above)
    enricher_version: str
    enriched_at: AwareDatetime

    @property
    def event_id(self) -> str:
        return self.event.event_id
