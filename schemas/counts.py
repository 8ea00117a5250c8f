"""Counts v1 (`social.counts.v1`): what each worker's sink folded a stored batch into, for the spike detector.

Two kinds of entries, keyed so that all of one subject's minutes meet on one partition:
- `SubjectPartial` (key `<subject_type>:<subject>`): one subject's partial one-minute aggregates from one batch,
  per source partition of `social.enriched.v1` with the batch's offset range there (the range makes merging
  idempotent: a redelivered batch supersedes what it was counted as before, processors/spike_merge.py).
- `Progress` (key `progress:<n>`, one per partition of this topic: streams/runtime/partitioner.py:key_per_partition):
  how far each source partition's event time got, so every partition of this topic closes minutes by the same
  watermark even for subjects nobody mentions.

``subject_type`` "topic" means a brand query, as in Alert v1.
"""

from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, RootModel

from schemas.base import Contract

PROGRESS_KEY_PREFIX = "progress:"  # + the first n whose key Kafka's default partitioner sends to the partition
SubjectTypeName = Literal["topic", "entity", "hashtag"]


class TermCount(Contract):
    kind: Literal["entity", "hashtag", "term"]
    term: str
    posts: int = Field(ge=1)  # posts of the minute containing the term


class ExamplePost(Contract):
    event_id: str
    text: str
    negative: bool


class MinuteCounts(Contract):
    start: AwareDatetime  # the minute's start (event time, `created_at`)
    posts: int = Field(ge=1)
    negative: int = Field(ge=0)
    sentiment_sum: float
    terms: tuple[TermCount, ...] = ()  # the most frequent, bounded
    examples: tuple[ExamplePost, ...] = ()  # the smallest event ids of the minute (and of its negative posts)


class SourcePiece(Contract):
    partition: int = Field(ge=0)  # of social.enriched.v1
    first_offset: int = Field(ge=0)  # the batch's offset range in that partition
    last_offset: int = Field(ge=0)
    minutes: tuple[MinuteCounts, ...]


class SubjectPartial(Contract):
    schema_version: Literal[1] = 1
    kind: Literal["partial"] = "partial"
    partial_id: str  # "<subject key>@<partition>:<first>-<last>,…": the same batch gives the same id
    subject_type: SubjectTypeName
    subject: str
    pieces: tuple[SourcePiece, ...]


class PartitionProgress(Contract):
    partition: int = Field(ge=0)  # of social.enriched.v1
    last_offset: int = Field(ge=-1)  # -1: nothing consumed yet
    event_time: AwareDatetime | None  # latest `created_at` stored from it (capped at the sink's clock)
    caught_up: bool = False  # nothing left to consume at sent_at: it does not hold the watermark back


class Progress(Contract):
    schema_version: Literal[1] = 1
    kind: Literal["progress"] = "progress"
    progress: tuple[PartitionProgress, ...]
    sent_at: AwareDatetime


class CountsEntry(RootModel[Annotated[SubjectPartial | Progress, Field(discriminator="kind")]]):
    """A social.counts.v1 value: a SubjectPartial or a Progress, told apart by `kind`."""

    model_config = ConfigDict(frozen=True)
