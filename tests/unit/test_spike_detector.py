"""Counts stage → social.counts.v1 messages → the spike detector over in-memory tables (dicts stand in for the
Faust tables): the two-level aggregation without Kafka. The same stream gives the same alerts whatever the number
of workers, the batching, a redelivery or a restart from the tables."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from types import SimpleNamespace

from schemas import Alert
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import RetryPolicy
from streams.runtime.partitioner import partition_of
from streams.settings import REPO_ROOT
from streams.stages.alerts import ALERT_COLUMNS, SpikeDetector, alert_row
from streams.stages.counts import CountsStage
from streams.stages.incidents import INCIDENT_COLUMNS
from tests.unit.test_spikes import MINUTE, NOW, T0, enriched

PARTITIONS = 2
POLICY = RetryPolicy(first_delay=0.01, max_delay=0.01, jitter=False)
CRISIS = {"hashtags": ("nimbusfail",), "entities": ("Nimbus", "London"), "negative": True,
          "text": "Nimbus X5 battery exploded in London, recall now"}


def stream(minutes=45, per_minute=20, spike_from=40, spike_posts=80):
    """(source partition, event) in event-time order: a steady brand query, then a negative crisis spike."""
    out, n = [], 0
    for m in range(minutes):
        posts = [{}] * per_minute + ([CRISIS] * spike_posts if m >= spike_from else [])
        for j, kwargs in enumerate(posts):
            at = T0 + m * MINUTE + timedelta(seconds=60 * j / len(posts))
            out.append((n % PARTITIONS, enriched(n, at, **kwargs)))
            n += 1
    return out


def records_of(events):
    """Kafka records of the enriched topic: offsets per partition in arrival order."""
    offsets = [0] * PARTITIONS
    out = []
    for partition, event in events:
        out.append(SimpleNamespace(topic="enriched", partition=partition, offset=offsets[partition], key=None,
                                   value=codec.encode_model(event)))
        offsets[partition] += 1
    return out


class Sent(list):
    async def __call__(self, messages):
        self.extend(messages)


async def no_earlier(rows):
    return set()


def counts_stage(send, find_earlier=no_earlier, monotonic=lambda: 0.0):
    return CountsStage(["nimbus", "vertex"], "counts", "enriched", PARTITIONS, send, find_earlier, POLICY,
                       Metrics.create(), lambda: NOW, monotonic=monotonic)


async def sink(stage, records, batch):
    """What the ClickHouse sink hands the counts stage, `batch` records at a time."""
    for i in range(0, len(records), batch):
        part = records[i:i + batch]
        stored = [(r.partition, r.offset, codec.read_enriched(r.value)) for r in part]
        await stage.after_stored(part, stored)


class Detector:
    """A detector over dict tables, fed messages as Kafka would deliver them (per partition in order)."""

    def __init__(self, tables=None):
        self.table = {} if tables is None else tables
        self.alerts: list[Alert] = []
        self.signals = []
        self.metrics = Metrics.create()

        async def emit(alerts):
            self.alerts += alerts

        async def signal(message):
            self.signals.append(message)

        self.detector = SpikeDetector(["nimbus", "vertex"], PARTITIONS, self.table, emit_alerts=emit,
                                      send_signals=signal, metrics=self.metrics, clock=lambda: NOW)

    async def deliver(self, messages):
        for _, key, value in messages:
            await self.detector.on_message(value, partition_of(key, PARTITIONS))


def run(coro):
    return asyncio.run(coro)


def summary(alerts):
    return sorted((a.alert_id, a.observed, a.baseline, tuple(d.term for d in a.explanation.drivers[:3]),
                   a.explanation.example_event_ids) for a in alerts)


async def one_worker(events, batch=97):
    sent, detector = Sent(), Detector()
    await sink(counts_stage(sent), records_of(events), batch)
    await detector.deliver(sent)
    return detector


def test_spike_detector_finds_the_brand_query_spike_with_its_explanation():
    detector = run(one_worker(stream()))
    brand = [a for a in detector.alerts if a.subject_type == "topic"]
    assert {(a.kind, a.subject) for a in brand} == {("volume_spike", "nimbus"), ("negative_surge", "nimbus")}
    vol = next(a for a in brand if a.kind == "volume_spike")
    assert vol.window_start == T0 + 40 * MINUTE and vol.window_end == T0 + 41 * MINUTE
    assert vol.observed == 100 and vol.baseline == 20
    assert {"nimbusfail", "london", "exploded"} <= {d.term for d in vol.explanation.drivers}
    assert len(vol.explanation.example_event_ids) == 3
    # the new hashtag had zeros back to the partition's first minute, so its burst alerts too
    assert ("volume_spike", "hashtag", "nimbusfail") in {(a.kind, a.subject_type, a.subject) for a in detector.alerts}
    # the minute closed by the watermark; the last minutes stay open until the sinks report progress past them
    assert all(a.window_end <= T0 + 45 * MINUTE for a in detector.alerts)
    # each alert travels to the incident grouper with the subjects it co-occurs with
    related = {(r.subject_type, r.subject) for s in detector.signals for x in s.signals if x.alert == vol
               for r in x.related}
    assert ("hashtag", "nimbusfail") in related and ("entity", "nimbus") in related


def test_spike_detector_gives_the_same_alerts_with_one_or_two_workers_and_any_batching():
    events = stream()
    alone = run(one_worker(events, batch=500))

    async def two_workers():
        # worker A's sink owns source partition 0, worker B's partition 1; their messages interleave at the detector
        sent_a, sent_b, detector = Sent(), Sent(), Detector()
        records = records_of(events)
        await sink(counts_stage(sent_a), [r for r in records if r.partition == 0], 61)
        await sink(counts_stage(sent_b), [r for r in records if r.partition == 1], 150)
        merged = []
        while sent_a or sent_b:
            merged += [sent_a.pop(0) for _ in range(min(3, len(sent_a)))]
            merged += [sent_b.pop(0) for _ in range(min(5, len(sent_b)))]
        await detector.deliver(merged)
        return detector

    pair = run(two_workers())
    assert alone.alerts and summary(alone.alerts) == summary(pair.alerts)


def test_spike_detector_redelivered_batches_do_not_change_any_count():
    events = stream()
    clean = run(one_worker(events, batch=100))

    async def with_redeliveries():
        sent, detector = Sent(), Detector()
        stage = counts_stage(sent)
        records = records_of(events)
        await sink(stage, records[:1000], 100)
        # the sink crashed before committing its last batch: the new owner restarts at its first offset with
        # different boundaries (one record more, then the rest in other sizes), and a counts message is delivered
        # twice by the detector's own redelivery
        redelivered = Sent()
        await sink(counts_stage(redelivered), records[900:1001], 101)
        await sink(counts_stage(redelivered), records[1001:], 77)
        messages = list(sent) + [sent[-3]] + list(redelivered)
        await detector.deliver(messages)
        return detector

    again = run(with_redeliveries())
    assert summary(again.alerts) == summary(clean.alerts)


def test_spike_detector_restarted_from_its_tables_alerts_as_if_never_stopped():
    events = stream()
    clean = run(one_worker(events))

    async def restarted():
        sent = Sent()
        await sink(counts_stage(sent), records_of(events), 97)
        first = Detector()
        half = len(sent) * 2 // 3  # while the spike's baseline builds
        await first.deliver(sent[:half])
        second = Detector(first.table)  # a new process: nothing in memory, the tables recovered
        await second.deliver(sent[half:])
        return first.alerts + second.alerts

    assert summary(run(restarted())) == summary(clean.alerts)


def test_spike_detector_waits_for_every_source_partition_then_lets_caught_up_ones_pass():
    events = [e for e in stream(minutes=3) if e[0] == 0]  # only source partition 0 has posts

    async def scenario():
        sent, detector, clock = Sent(), Detector(), [0.0]
        stage = counts_stage(sent, monotonic=lambda: clock[0])
        await sink(stage, records_of(events), 50)
        await detector.deliver(sent)
        held = list(detector.signals)
        sent.clear()

        async def lags():
            return {("enriched", 0): 0, ("enriched", 1): 0}

        upstream = [False]

        async def raw_topic_consumed():
            return upstream[0]

        clock[0] = 20.0  # the sink has nothing left, but the enrich stage has: no claim, however long
        await stage.on_idle(lags, raw_topic_consumed)
        upstream[0] = True
        clock[0] = 25.0  # from here on nothing is left anywhere
        await stage.on_idle(lags, raw_topic_consumed)
        clock[0] = 34.0  # quiet for 9 s only
        await stage.on_idle(lags, raw_topic_consumed)
        early = list(sent)
        clock[0] = 35.0
        await stage.on_idle(lags, raw_topic_consumed)
        await detector.deliver(sent)
        return held, early, detector.signals

    held, early, signals = run(scenario())
    assert held == []  # partition 1 never reported: nothing closes
    assert early == []
    assert signals and signals[-1].closed_until >= T0 + 2 * MINUTE


def test_counts_stage_leaves_out_copies_stored_before_at_an_earlier_offset():
    events = stream(minutes=1, per_minute=10)
    records = records_of(events)
    copy = SimpleNamespace(topic="enriched", partition=records[0].partition, offset=99, key=None,
                           value=records[0].value)

    async def scenario():
        sent = Sent()

        async def earlier(rows):
            return {(e, o) for e, p, o, _ in rows if o == 99}

        stage = counts_stage(sent, earlier)
        await sink(stage, records + [copy], 100)
        return sent

    sent = run(scenario())
    batches = [(partition_of(k, PARTITIONS), codec.decode_counts(v)) for _, k, v in sent]
    assert sorted(q for q, _ in batches) == [0, 1]  # one per partition of the counts topic, with the progress
    assert all(b.progress for _, b in batches)
    nimbus = next(p for _, b in batches for p in b.partials if p.subject == "nimbus")
    assert sum(m.posts for piece in nimbus.pieces for m in piece.minutes) == 10
    for q, batch in batches:  # each subject's partial went to the partition its key hashes to
        assert all(partition_of(f"{p.subject_type}:{p.subject}".encode(), PARTITIONS) == q for p in batch.partials)


def test_counts_stage_splits_a_batch_too_large_for_one_message():
    events = stream(minutes=3, per_minute=40, spike_from=0, spike_posts=20)

    async def scenario():
        sent = Sent()
        stage = counts_stage(sent)
        stage.part_bytes = 2_000
        await sink(stage, records_of(events), 1000)
        return sent

    sent = run(scenario())
    batches = [codec.decode_counts(v) for _, _, v in sent]
    assert len(batches) > PARTITIONS
    assert sum(1 for b in batches if b.progress) == PARTITIONS  # only the last part of each carries it
    detector, alone = Detector(), run(one_worker(events, batch=1000))
    run(detector.deliver(sent))
    assert any(k.startswith("series:") for k in alone.table)  # minutes were closed and folded
    assert detector.table == alone.table  # the same state as from unsplit messages


def _ddl_columns(path):
    body = path.read_text().split("\n(\n", 1)[1].split("\n)\nENGINE")[0]
    return [re.match(r"\s*`?([\w.]+)`?\s", line).group(1) for line in body.splitlines()
            if line.strip() and not line.strip().startswith("--") and re.match(r"\s*`?[\w.]+`?\s+\w", line)]


def test_spike_detector_alert_and_incident_rows_match_the_clickhouse_ddl():
    assert tuple(_ddl_columns(REPO_ROOT / "schemas/migrations/0009_alerts.sql")) == ALERT_COLUMNS
    assert tuple(_ddl_columns(REPO_ROOT / "schemas/migrations/0012_incidents.sql")) == INCIDENT_COLUMNS
    alert = next(a for a in run(one_worker(stream())).alerts if a.subject_type == "topic")
    row = alert_row(alert)
    assert len(row) == len(ALERT_COLUMNS) and row[0] == alert.alert_id
    assert row[9] == [d.term for d in alert.explanation.drivers]


def test_spike_agents_skip_a_message_the_handler_fails_on_and_count_it():
    from streams.app import _guarded

    metrics = Metrics.create()

    async def broken():
        raise ValueError("state it cannot read")

    run(_guarded("alerting", metrics, broken()))  # does not raise: the agent loop goes on
    assert metrics.registry.get_sample_value(
        "socialpulse_dead_letters_total", {"code": "processing_failed", "stage": "alerting"}) == 1


def test_spike_detector_skips_an_unreadable_counts_message():
    detector = Detector()
    run(detector.detector.on_message(b'{"schema_version": 1, "sent_at": "not a time"}', 0))
    assert detector.table == {} and detector.alerts == []
    assert detector.metrics.registry.get_sample_value(
        "socialpulse_dead_letters_total", {"code": "invalid_value", "stage": "alerting"}) == 1


def test_counts_stage_counts_posts_per_source_and_brand_query_once_per_batch():
    events = stream(minutes=2, per_minute=10, spike_from=1, spike_posts=5)

    async def scenario():
        stage = counts_stage(Sent())
        await sink(stage, records_of(events), 7)
        return stage.metrics

    metrics = run(scenario())
    sample = metrics.registry.get_sample_value
    assert sample("socialpulse_enriched_events_total", {"network": "x", "language": "en"}) == 25
    assert sample("socialpulse_brand_query_mentions_total", {"brand_query": "nimbus", "sentiment": "negative"}) == 5
    assert sample("socialpulse_brand_query_mentions_total", {"brand_query": "nimbus", "sentiment": "neutral"}) == 20
    assert sample("socialpulse_events_in_total", {"agent": "counts"}) == 25
