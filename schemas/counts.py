"""Counts v1 (`social.counts.v1`): what each worker's sink folded a stored batch into, for the spike detector.

One `CountsBatch` per stored batch and partition of this topic, keyed `progress:<n>` so that it lands on that
partition (streams/runtime/partitioner.py:key_per_partition). It holds the `SubjectPartial`s of the subjects that
hash to the partition (subject key `<subject_type>:<subject>`, Kafka's default partitioner): all of one
subject's minutes meet on one partition. Each partial has, per source partition of `social.enriched.v1`, the
batch's offset range there, which makes merging idempotent (processors/spike_merge.py). The batch's `progress`
says how far each source partition's event time got, so every partition closes minutes by the same watermark
even when none of its subjects is mentioned. A batch too large for one message is split; only the last part
carries the progress.

``subject_type`` "topic" means a brand query, as in Alert v1.
"""

from typing import Literal

from pydantic import AwareDatetime, Field

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
    partial_id: str  # "<subject key>@<partition>:<first>-<last>,…": the same batch gives the same id
    subject_type: SubjectTypeName
    subject: str
    pieces: tuple[SourcePiece, ...]


class PartitionProgress(Contract):
    partition: int = Field(ge=0)  # of social.enriched.v1
    last_offset: int = Field(ge=-1)  # -1: nothing consumed yet
    event_time: AwareDatetime | None  # latest `created_at` stored from it (capped at the sink's clock)
    caught_up: bool = False  # nothing left to consume at sent_at: it does not hold the watermark back


class CountsBatch(Contract):
    schema_version: Literal[1] = 1
    partials: tuple[SubjectPartial, ...] = ()
    progress: tuple[PartitionProgress, ...] = ()
    sent_at: AwareDatetime
