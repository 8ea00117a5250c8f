"""Stage `counts`: every batch the ClickHouse sink stored → partial minute counts on social.counts.v1.

    sink.handle(records) ──► rows in <db>.events ──► counts.after_stored(records, stored)
        ├─ posts already stored at an earlier offset of their partition (an enrich redelivery) are left out
        ├─ one SubjectPartial per subject (processors/spike_merge.py)
        └─ per partition of social.counts.v1, one CountsBatch: the partials of the subjects that hash to it, and
           each source partition's last offset and event time
    then the sink commits the batch.

`on_idle` (a worker timer) sends progress marking the sink's caught-up partitions, so quiet partitions do not
hold the detector's watermark back. The partials are merged and the spikes detected by the Faust agent of
streams/stages/alerts.py. Infrastructure faults block (and so hold the sink's commit); a record fault after the
policy's attempts is logged and the batch's counts are lost from the detector, never from the events table.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from processors.spike_merge import PartialConfig, Stored, batch_partials, batch_progress, subject_key
from schemas import EnrichedEvent
from schemas.counts import PROGRESS_KEY_PREFIX, CountsBatch, PartitionProgress, SubjectPartial
from streams import codec
from streams.metrics import Metrics, language_label, network_label
from streams.runtime.failure_policy import RetryPolicy, describe, until_done
from streams.runtime.partitioner import key_per_partition, partition_of
from streams.runtime.records import KafkaRecord

log = logging.getLogger(__name__)

STAGE = "counts"
Send = Callable[[Sequence[tuple[str, bytes | None, bytes]]], Awaitable[None]]
# (event_id, partition, offset, created_at) of stored rows → (event_id, offset) of those whose post was stored
# before at a smaller offset of the same partition
FindEarlier = Callable[[Sequence[tuple[str, int, int, datetime]]], Awaitable[set[tuple[str, int]]]]
Lags = Callable[[], Awaitable[dict[tuple[str, int], int]]]


async def no_earlier_copies(rows: Sequence[tuple[str, int, int, datetime]]) -> set[tuple[str, int]]:
    """A FindEarlier for stage tests without ClickHouse."""
    return set()


@dataclass
class CountsStage:
    brand_queries: Sequence[str]
    topic: str
    source_topic: str
    partitions: int  # of the counts topic
    send: Send
    find_earlier: FindEarlier
    policy: RetryPolicy
    metrics: Metrics
    clock: Callable[[], datetime]
    config: PartialConfig = PartialConfig()
    idle_seconds: float = 10.0  # a partition must have had no record this long to be reported caught up
    part_bytes: int = 512 * 1024  # partials per message, well under the topic's message limit
    monotonic: Callable[[], float] = time.monotonic
    event_times: dict[int, datetime] = field(default_factory=dict)  # per source partition, the latest stored

    def __post_init__(self) -> None:
        self._progress_keys = key_per_partition(PROGRESS_KEY_PREFIX, self.partitions)
        self._last_record: dict[int, float] = {}  # source partition -> monotonic time of its last batch
        self._quiet_since: dict[int, float] = {}  # owned source partition -> since when it and upstream had no lag

    async def after_stored(self, records: Sequence[KafkaRecord], stored: Sequence[Stored]) -> None:
        if not records:
            return
        now = self.clock()
        arrived = self.monotonic()
        ranges: dict[int, tuple[int, int]] = {}
        for r in records:
            self._last_record[r.partition] = arrived
            first, last = ranges.get(r.partition, (r.offset, r.offset))
            ranges[r.partition] = (min(first, r.offset), max(last, r.offset))
        try:
            messages = await until_done(lambda: self._messages(stored, ranges, now), policy=self.policy,
                                        what=STAGE, on_retry=self.metrics.retry_counter(STAGE))
            await until_done(lambda: self.send(messages), policy=self.policy, what=STAGE,
                             on_retry=self.metrics.retry_counter(STAGE))
        except Exception as exc:  # noqa: BLE001 - derived data: the events are stored; only the detector misses them
            log.error("counts: a batch of %d events not counted for spike detection: %s", len(stored), describe(exc))
            return
        self.metrics.events_in.labels(agent=STAGE).inc(len(stored))
        counts = _BatchCounts()
        tracked = frozenset(self.brand_queries)
        for _, _, event in stored:
            counts.add(event, tracked)
        counts.publish(self.metrics)
        self.metrics.counts_messages.inc(len(messages))
        self.metrics.counts_bytes.inc(sum(len(v) for _, _, v in messages))

    async def _messages(self, stored: Sequence[Stored], ranges: dict[int, tuple[int, int]], now: datetime
                        ) -> list[tuple[str, bytes | None, bytes]]:
        earlier = await self.find_earlier([(e.event_id, p, o, e.event.created_at) for p, o, e in stored])
        fresh = [s for s in stored if (s[2].event_id, s[1]) not in earlier] if earlier else list(stored)
        seen: dict[str, int] = {}  # the first copy of an event within the batch counts
        for _, o, e in fresh:
            seen[e.event_id] = min(o, seen.get(e.event_id, o))
        fresh = [s for s in fresh if seen[s[2].event_id] == s[1]]
        if len(fresh) != len(stored):
            self.metrics.counts_duplicates.inc(len(stored) - len(fresh))
        for p, _, e in fresh:
            created = min(e.event.created_at, now)
            if p not in self.event_times or created > self.event_times[p]:
                self.event_times[p] = created
        by_partition: dict[int, list[SubjectPartial]] = {}
        for partial in batch_partials(fresh, ranges, self.brand_queries, self.config):
            key = subject_key(partial.subject_type, partial.subject).encode()
            by_partition.setdefault(partition_of(key, self.partitions), []).append(partial)
        progress = batch_progress(ranges, self.event_times)
        return [message for q in range(self.partitions)
                for message in self._batches(q, by_partition.get(q, []), progress, now)]

    def _batches(self, partition: int, partials: list[SubjectPartial], progress: tuple[PartitionProgress, ...],
                 now: datetime) -> list[tuple[str, bytes | None, bytes]]:
        """One message for the partition, or several when the partials would not fit in one (each part is merged
        on its own; the last carries the progress, so minutes close after every part arrived)."""
        key = self._progress_keys[partition]
        sizes = [len(codec.encode_model(x)) for x in partials]
        parts: list[list[SubjectPartial]] = [[]]
        used = 0
        for partial, size in zip(partials, sizes, strict=True):
            if parts[-1] and used + size > self.part_bytes:
                parts.append([])
                used = 0
            parts[-1].append(partial)
            used += size
        out: list[tuple[str, bytes | None, bytes]] = [
            (self.topic, key, codec.encode_model(CountsBatch(partials=tuple(part), sent_at=now)))
               for part in parts[:-1]]
        out.append((self.topic, key, codec.encode_model(CountsBatch(partials=tuple(parts[-1]), progress=progress,
                                                                    sent_at=now))))
        return out

    async def on_idle(self, lags: Lags, upstream_idle: Callable[[], Awaitable[bool]]) -> None:
        """Tell the detector which of the sink's partitions have been caught up for `idle_seconds`: no lag, no
        record, and nothing left upstream (`upstream_idle`: the enrich stage has consumed the whole raw topic). A
        sink partition with no lag only shows that the enrich stage has not produced more yet: after a rebalance,
        or while it enriches a backlog, more may come for minutes the watermark would otherwise have closed."""
        try:
            owned = await lags()
            upstream = await upstream_idle()
        except Exception as exc:  # noqa: BLE001 - the next tick asks again
            log.debug("counts: lags unavailable: %s", describe(exc))
            return
        now = self.monotonic()
        for (topic, p), lag in owned.items():
            if topic != self.source_topic:
                continue
            if lag or not upstream:
                self._quiet_since.pop(p, None)
            else:
                self._quiet_since.setdefault(p, now)
        for p in [p for p in self._quiet_since if (self.source_topic, p) not in owned]:
            del self._quiet_since[p]  # revoked: quiet counts again from its next assignment
        idle = sorted(p for p, since in self._quiet_since.items()
                      if now - max(since, self._last_record.get(p, since)) >= self.idle_seconds)
        if not idle:
            return
        entries = tuple(PartitionProgress(partition=p, last_offset=-1, event_time=self.event_times.get(p),
                                          caught_up=True) for p in idle)
        value = codec.encode_model(CountsBatch(progress=entries, sent_at=self.clock()))
        try:
            await until_done(lambda: self.send([(self.topic, key, value) for key in self._progress_keys]),
                             policy=self.policy, what=STAGE)
        except Exception as exc:  # noqa: BLE001 - the next tick sends it again
            log.warning("counts: caught-up progress not sent: %s", describe(exc))


class _BatchCounts:
    """Per-source and per-brand-query counters summed over a batch: one `labels()` lookup per series, not per
    event (per event they cost ~10 µs on the event loop)."""

    def __init__(self) -> None:
        self.by_source: Counter[tuple[str, str]] = Counter()
        self.mentions: Counter[tuple[str, str]] = Counter()
        self.sentiment_sum: dict[str, float] = defaultdict(float)

    def add(self, event: EnrichedEvent, tracked: frozenset[str]) -> None:
        self.by_source[(event.event.network.value, event.language)] += 1
        for query in dict.fromkeys(event.topics):
            if query in tracked:
                self.mentions[(query, event.sentiment.label.value)] += 1
                self.sentiment_sum[query] += event.sentiment.score + 1.0

    def publish(self, m: Metrics) -> None:
        for (network, language), n in self.by_source.items():
            m.events_by_source.labels(network=network_label(network), language=language_label(language)).inc(n)
        for (query, sentiment), n in self.mentions.items():
            m.brand_query_mentions.labels(brand_query=query, sentiment=sentiment).inc(n)
        for query, total in self.sentiment_sum.items():
            m.brand_query_sentiment_sum.labels(brand_query=query).inc(total)
