"""Two-level minute counts for the spike detector: partials per stored batch, merged per subject, closed by a
watermark over every source partition. Pure: no Kafka, Faust or clock; callers pass `now`.

1. `batch_partials` folds one stored batch of `social.enriched.v1` into one `SubjectPartial` per subject (every
   tracked brand query it matched, and the batch's busiest entities and hashtags): per source partition and
   minute, the post count, negative count, sentiment sum, the most frequent terms and a few examples.
2. `merge` adds a partial to a subject's `OpenMinutes`. Idempotent under redelivery: per (subject, source
   partition) the latest piece stays `pending` with its batch's offset range until a later piece shows that
   batch was committed. A piece starting at or before the pending piece's last offset comes from a redelivery
   (the sink restarts at a committed offset, which is a batch boundary) and replaces it; a piece at or below
   `merged_through` was merged already and is ignored. A subject absent from a redelivered batch had no posts in
   it, so a pending piece it leaves behind is dropped by the next piece that overlaps it.
3. `Clock` holds each source partition's progress; `watermark` is the minimum of their event times (a partition
   reported caught up recently does not hold it back; when all are, it advances with the wall clock from the
   latest event time) minus the allowed lateness. Every minute ending at or before it is closed: `close` sums
   the merged and pending counts into a `processors.spikes.Bucket` for `spikes.fold`.

Examples are the smallest event ids of the minute and term lists are cut by (count desc, term), so the result
does not depend on how posts were split into batches or among workers, only on which posts were stored.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from processors.spikes import BRAND_QUERY, EXAMPLE_TEXT_CHARS, Bucket, Example, SubjectType, TermKind, terms_of
from schemas.counts import (
    ExamplePost,
    MinuteCounts,
    PartitionProgress,
    SourcePiece,
    SubjectPartial,
    TermCount,
)
from schemas.events import EnrichedEvent, SentimentLabel

Term = tuple[TermKind, str]


@dataclass(frozen=True)
class PartialConfig:
    bucket_seconds: int = 60
    subjects_per_batch: int = 200  # entities + hashtags per batch, the busiest (brand queries always)
    terms_per_minute: int = 24  # in a partial
    merged_terms: int = 100  # in a subject's merged minute
    max_examples: int = 3  # of each minute, and as many of its negative posts

    def __post_init__(self) -> None:
        if self.bucket_seconds < 1 or self.subjects_per_batch < 0 or self.terms_per_minute < 1:
            raise ValueError("bucket_seconds >= 1, subjects_per_batch >= 0, terms_per_minute >= 1 required")


def subject_key(subject_type: str, subject: str) -> str:
    return f"{subject_type}:{subject}"


def split_subject_key(key: str) -> tuple[SubjectType, str]:
    kind, _, subject = key.partition(":")
    if kind not in ("topic", "entity", "hashtag") or not subject:
        raise ValueError(f"not a subject key: {key!r}")
    return cast(SubjectType, kind), subject


def minute_start(moment: datetime, bucket_seconds: int = 60) -> datetime:
    ts = int(moment.timestamp())  # an aware datetime's timestamp does not depend on its zone
    return datetime.fromtimestamp(ts - ts % bucket_seconds, tz=UTC)


# --------------------------------------------------------------------------- 1. partials of a batch


@dataclass
class _Minute:
    posts: int = 0
    negative: int = 0
    sentiment_sum: float = 0.0
    terms: Counter[Term] = field(default_factory=Counter)
    examples: list[tuple[str, str, bool]] = field(default_factory=list)


Stored = tuple[int, int, EnrichedEvent]  # (partition, offset, event) of a row the sink wrote


def batch_partials(stored: Sequence[Stored], ranges: Mapping[int, tuple[int, int]], brand_queries: Iterable[str],
                   config: PartialConfig = PartialConfig()) -> list[SubjectPartial]:
    """One partial per subject of the batch. `ranges` is the batch's (first, last) offset per source partition,
    dead-lettered records included: it is what a redelivery of the batch would start from."""
    tracked = frozenset(brand_queries)
    subjects_of: list[list[str]] = []
    busy: Counter[str] = Counter()
    for _, _, event in stored:
        keys = [subject_key(BRAND_QUERY, q) for q in dict.fromkeys(event.topics) if q in tracked]
        others = [subject_key("entity", c) for c in dict.fromkeys(e.canonical for e in event.entities) if c]
        others += [subject_key("hashtag", h) for h in dict.fromkeys(event.hashtags) if h]
        busy.update(others)
        subjects_of.append(keys + others)
    if len(busy) > config.subjects_per_batch:
        kept = {k for k, _ in heapq.nsmallest(config.subjects_per_batch, busy.items(), key=lambda kv: (-kv[1], kv[0]))}
    else:
        kept = set(busy)

    acc: dict[str, dict[int, dict[datetime, _Minute]]] = {}
    starts: dict[int, datetime] = {}
    for (partition, _, event), keys in zip(stored, subjects_of, strict=True):
        keys = [k for k in keys if k in kept or k.startswith("topic:")]
        if not keys:
            continue
        ts = int(event.event.created_at.timestamp())
        ts -= ts % config.bucket_seconds
        start = starts.get(ts)
        if start is None:
            start = starts[ts] = datetime.fromtimestamp(ts, tz=UTC)
        negative = event.sentiment.label is SentimentLabel.NEGATIVE
        terms: list[Term] = [("entity", c) for c in {e.canonical for e in event.entities if e.canonical}]
        terms += [("hashtag", h) for h in set(event.hashtags)]
        terms += [("term", w) for w in terms_of(event.event.text)]
        example = (event.event_id, event.event.text[:EXAMPLE_TEXT_CHARS], negative)
        for key in keys:
            minute = acc.setdefault(key, {}).setdefault(partition, {}).get(start)
            if minute is None:
                minute = acc[key][partition][start] = _Minute()
            minute.posts += 1
            minute.negative += negative
            minute.sentiment_sum += event.sentiment.score
            minute.terms.update(terms)
            minute.examples.append(example)

    partials: list[SubjectPartial] = []
    for key in sorted(acc):
        subject_type, subject = split_subject_key(key)
        pieces = tuple(
            SourcePiece(partition=p, first_offset=ranges[p][0], last_offset=ranges[p][1],
                        minutes=tuple(_minute_counts(start, m, config) for start, m in sorted(by_minute.items())))
            for p, by_minute in sorted(acc[key].items()))
        partial_id = key + "@" + ",".join(f"{x.partition}:{x.first_offset}-{x.last_offset}" for x in pieces)
        partials.append(SubjectPartial(partial_id=partial_id, subject_type=subject_type, subject=subject,
                                       pieces=pieces))
    return partials


def _minute_counts(start: datetime, m: _Minute, config: PartialConfig) -> MinuteCounts:
    top = heapq.nsmallest(config.terms_per_minute, m.terms.items(), key=lambda tc: (-tc[1], tc[0]))
    return MinuteCounts(
        start=start, posts=m.posts, negative=m.negative, sentiment_sum=round(m.sentiment_sum, 6),
        terms=tuple(TermCount(kind=kind, term=term, posts=n) for (kind, term), n in top),
        examples=tuple(ExamplePost(event_id=i, text=t, negative=n)
                       for i, t, n in _pick_examples(m.examples, config.max_examples)))


def _pick_examples(examples: Iterable[tuple[str, str, bool]], limit: int) -> list[tuple[str, str, bool]]:
    """The `limit` smallest event ids, and the `limit` smallest among negative posts: independent of batching."""
    unique = sorted({e[0]: e for e in examples}.values())
    picked = unique[:limit] + [e for e in unique if e[2]][:limit]
    return sorted({e[0]: e for e in picked}.values())


def batch_progress(ranges: Mapping[int, tuple[int, int]], event_times: Mapping[int, datetime | None]
                   ) -> tuple[PartitionProgress, ...]:
    return tuple(PartitionProgress(partition=p, last_offset=last, event_time=event_times.get(p))
                 for p, (_, last) in sorted(ranges.items()))


# --------------------------------------------------------------------------- 2. merging


@dataclass(frozen=True)
class MinuteAgg:
    posts: int = 0
    negative: int = 0
    sentiment_sum: float = 0.0
    terms: Mapping[Term, int] = field(default_factory=dict)
    examples: tuple[tuple[str, str, bool], ...] = ()

    def plus(self, other: MinuteAgg, *, max_terms: int, max_examples: int) -> MinuteAgg:
        terms = Counter(self.terms)
        terms.update(other.terms)
        top = heapq.nsmallest(max_terms, terms.items(), key=lambda tc: (-tc[1], tc[0]))
        return MinuteAgg(self.posts + other.posts, self.negative + other.negative,
                         self.sentiment_sum + other.sentiment_sum, dict(top),
                         tuple(_pick_examples(self.examples + other.examples, max_examples)))


def minute_agg(m: MinuteCounts) -> MinuteAgg:
    return MinuteAgg(m.posts, m.negative, m.sentiment_sum, {(t.kind, t.term): t.posts for t in m.terms},
                     tuple((e.event_id, e.text, e.negative) for e in m.examples))


@dataclass(frozen=True)
class Piece:
    first_offset: int
    last_offset: int
    minutes: Mapping[datetime, MinuteAgg]


@dataclass(frozen=True)
class OpenMinutes:
    """One subject's minutes that are not closed yet."""

    merged: Mapping[datetime, MinuteAgg] = field(default_factory=dict)
    pending: Mapping[int, Piece] = field(default_factory=dict)  # source partition -> its latest piece
    merged_through: Mapping[int, int] = field(default_factory=dict)  # source partition -> last offset merged

    def minutes(self) -> set[datetime]:
        return set(self.merged) | {m for piece in self.pending.values() for m in piece.minutes}

    @property
    def empty(self) -> bool:
        return not self.merged and all(not p.minutes for p in self.pending.values())


def merge(state: OpenMinutes, partial: SubjectPartial, *, closed_until: datetime | None,
          config: PartialConfig = PartialConfig()) -> tuple[OpenMinutes, int]:
    """Add a partial; returns the new state and how many of its posts fell in already closed minutes (late)."""
    merged = dict(state.merged)
    pending = dict(state.pending)
    through = dict(state.merged_through)
    late = 0
    for piece in partial.pieces:
        p = piece.partition
        if piece.last_offset <= through.get(p, -1):
            continue  # merged already (a redelivered counts message)
        previous = pending.get(p)
        if previous is not None and (previous.first_offset, previous.last_offset) == (piece.first_offset,
                                                                                       piece.last_offset):
            continue  # the same batch again
        if previous is not None and previous.last_offset < piece.first_offset:
            # a later batch: the previous one was committed, it can no longer be superseded
            for start, agg in previous.minutes.items():
                merged[start] = merged[start].plus(agg, max_terms=config.merged_terms,
                                                   max_examples=config.max_examples) if start in merged else agg
            through[p] = previous.last_offset
        # else: a redelivery from `piece.first_offset` on — it replaces the pending piece
        minutes: dict[datetime, MinuteAgg] = {}
        for m in piece.minutes:
            if closed_until is not None and m.start < closed_until:
                late += m.posts
                continue
            minutes[m.start] = minute_agg(m)
        pending[p] = Piece(piece.first_offset, piece.last_offset, minutes)
    return OpenMinutes(merged, pending, through), late


def close(state: OpenMinutes, start: datetime, config: PartialConfig = PartialConfig()
          ) -> tuple[OpenMinutes, MinuteAgg | None]:
    """Take minute `start` out of the state: its merged and pending counts summed (None if it had none)."""
    total: MinuteAgg | None = state.merged.get(start)
    pending: dict[int, Piece] = {}
    for p, piece in state.pending.items():
        agg = piece.minutes.get(start)
        if agg is not None:
            total = agg if total is None else total.plus(agg, max_terms=config.merged_terms,
                                                         max_examples=config.max_examples)
            piece = Piece(piece.first_offset, piece.last_offset, {m: a for m, a in piece.minutes.items() if m != start})
        pending[p] = piece
    merged = {m: a for m, a in state.merged.items() if m != start}
    return OpenMinutes(merged, pending, dict(state.merged_through)), total


def bucket_of(subject_type: SubjectType, subject: str, start: datetime, agg: MinuteAgg | None) -> Bucket:
    if agg is None:
        return Bucket(subject_type=subject_type, subject=subject, start=start)
    examples = tuple(Example(i, t) for i, t, _ in agg.examples)
    negatives = tuple(Example(i, t) for i, t, n in agg.examples if n)
    return Bucket(subject_type=subject_type, subject=subject, start=start, count=agg.posts, negative=agg.negative,
                  sentiment_sum=agg.sentiment_sum, terms=dict(agg.terms), examples=examples,
                  negative_examples=negatives)


def related_subjects(bucket: Bucket, *, min_share: float = 0.3, min_posts: int = 2) -> frozenset[tuple[str, str]]:
    """Entities and hashtags in at least `min_share` of the minute's posts: the subjects this one co-occurs with."""
    floor = max(min_posts, min_share * bucket.count)
    return frozenset((kind, term) for (kind, term), n in bucket.terms.items()
                     if kind in ("entity", "hashtag") and n >= floor)


# --------------------------------------------------------------------------- 3. the watermark


@dataclass(frozen=True)
class SourceProgress:
    last_offset: int = -1
    event_time: datetime | None = None
    caught_up_at: datetime | None = None  # when its sink last said nothing was left to consume


@dataclass(frozen=True)
class Clock:
    """One counts partition's view of the source partitions, and how far it has closed minutes."""

    sources: Mapping[int, SourceProgress] = field(default_factory=dict)
    closed_until: datetime | None = None  # every minute before it is closed
    first_start: datetime | None = None  # the first minute seen: new subjects have zeros back to it
    advanced_at: datetime | None = None  # wall time the latest event time last moved


def advance_clock(clock: Clock, progress: Sequence[PartitionProgress], *, sent_at: datetime) -> Clock:
    sources = dict(clock.sources)
    advanced_at = clock.advanced_at
    latest_before = _latest(clock)
    for entry in progress:
        old = sources.get(entry.partition, SourceProgress())
        event_time = old.event_time
        if entry.event_time is not None and (event_time is None or entry.event_time > event_time):
            event_time = entry.event_time
        sources[entry.partition] = SourceProgress(
            last_offset=max(old.last_offset, entry.last_offset), event_time=event_time,
            caught_up_at=sent_at if entry.caught_up else None)
    updated = replace(clock, sources=sources)
    latest = _latest(updated)
    if latest is not None and (latest_before is None or latest > latest_before or advanced_at is None):
        advanced_at = sent_at
    first = clock.first_start
    times = [s.event_time for s in sources.values() if s.event_time is not None]
    if first is None and times:
        first = minute_start(min(times))
    return replace(updated, advanced_at=advanced_at, first_start=first)


def _latest(clock: Clock) -> datetime | None:
    times = [s.event_time for s in clock.sources.values() if s.event_time is not None]
    return max(times) if times else None


def watermark(clock: Clock, *, partitions: int, now: datetime, allowed_lateness: timedelta,
              caught_up_valid: timedelta) -> datetime | None:
    """Minimum event time over the `partitions` source partitions, minus the lateness; None while one of them
    has not reported. A partition caught up within `caught_up_valid` does not count; with all caught up, the
    latest event time plus the wall time since it last moved (capped at `now`)."""
    holding: list[datetime] = []
    for p in range(partitions):
        source = clock.sources.get(p)
        if source is None:
            return None
        if source.caught_up_at is not None and now - source.caught_up_at <= caught_up_valid:
            continue
        if source.event_time is None:
            return None
        holding.append(source.event_time)
    if holding:
        return min(holding) - allowed_lateness
    latest = _latest(clock)
    if latest is None or clock.advanced_at is None:
        return None
    return min(latest + max(now - clock.advanced_at, timedelta(0)), now) - allowed_lateness


def minutes_to_close(clock: Clock, mark: datetime | None, open_minutes: Iterable[datetime],
                     bucket_seconds: int = 60) -> list[datetime]:
    """Minutes with data that end at or before `mark`, oldest first."""
    if mark is None:
        return []
    through = minute_start(mark, bucket_seconds)
    return sorted(m for m in set(open_minutes) if m < through)


# --------------------------------------------------------------------------- state as JSON (Faust table values)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _agg_json(agg: MinuteAgg) -> dict[str, Any]:
    return {"posts": agg.posts, "negative": agg.negative, "sentiment_sum": agg.sentiment_sum,
            "terms": [[k, t, n] for (k, t), n in agg.terms.items()], "examples": [list(e) for e in agg.examples]}


def _agg_from(data: Mapping[str, Any]) -> MinuteAgg:
    return MinuteAgg(data["posts"], data["negative"], data["sentiment_sum"],
                     {(k, t): n for k, t, n in data["terms"]}, tuple((i, t, n) for i, t, n in data["examples"]))


def open_to_json(state: OpenMinutes) -> dict[str, Any]:
    return {
        "merged": {_iso(m): _agg_json(a) for m, a in state.merged.items()},
        "pending": {str(p): {"first": x.first_offset, "last": x.last_offset,
                             "minutes": {_iso(m): _agg_json(a) for m, a in x.minutes.items()}}
                    for p, x in state.pending.items()},
        "merged_through": {str(p): o for p, o in state.merged_through.items()},
    }


def open_from_json(data: Mapping[str, Any]) -> OpenMinutes:
    return OpenMinutes(
        merged={datetime.fromisoformat(m): _agg_from(a) for m, a in data["merged"].items()},
        pending={int(p): Piece(x["first"], x["last"], {datetime.fromisoformat(m): _agg_from(a)
                                                     for m, a in x["minutes"].items()})
                 for p, x in data["pending"].items()},
        merged_through={int(p): o for p, o in data["merged_through"].items()},
    )


def clock_to_json(clock: Clock) -> dict[str, Any]:
    return {"sources": {str(p): [s.last_offset, _iso(s.event_time), _iso(s.caught_up_at)]
                        for p, s in clock.sources.items()},
            "closed_until": _iso(clock.closed_until), "first_start": _iso(clock.first_start),
            "advanced_at": _iso(clock.advanced_at)}


def clock_from_json(data: Mapping[str, Any]) -> Clock:
    return Clock(sources={int(p): SourceProgress(o, _dt(e), _dt(c)) for p, (o, e, c) in data["sources"].items()},
                 closed_until=_dt(data["closed_until"]), first_start=_dt(data["first_start"]),
                 advanced_at=_dt(data["advanced_at"]))
