"""The spike detector's state apart from Faust: events → metrics → tracker → alerts, idle watermark, rows vs DDL."""

from __future__ import annotations

import re
from datetime import timedelta

from processors.spikes import SpikeTracker
from schemas import Alert
from streams import codec
from streams.metrics import Metrics
from streams.settings import REPO_ROOT
from streams.stages.alerts import ALERT_COLUMNS, AlertingState, alert_row
from tests.unit.test_spikes import MINUTE, NOW, T0, enriched


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def records(events, partitions=2):
    """(partition, event) as the sink hands them over, after a round trip through the wire format."""
    return [(i % partitions, codec.decode_enriched(codec.encode_model(e))) for i, e in enumerate(events)]


def test_spikes_alerting_state_counts_metrics_and_raises_brand_query_alerts():
    metrics, clock = Metrics.create(), Clock()
    state = AlertingState(SpikeTracker(["nimbus", "vertex"]), metrics, idle_seconds=10, monotonic=clock)
    events, n = [], 0
    for m in range(45):
        per = 20 + (100 if m >= 40 else 0)
        for j in range(per):
            neg = m >= 40 and j % 2 == 0
            events.append(enriched(n, T0 + m * MINUTE + timedelta(seconds=60 * j / per), negative=neg,
                                   hashtags=("nimbusfail",) if m >= 40 else ()))
            n += 1
    alerts = state.observe(records(events), NOW)
    assert ("volume_spike", "topic", "nimbus") in {(a.kind, a.subject_type, a.subject) for a in alerts}
    sample = metrics.registry.get_sample_value
    assert sample("socialpulse_brand_query_mentions_total", {"brand_query": "nimbus", "sentiment": "negative"}) == 300
    assert sample("socialpulse_enriched_events_total", {"network": "x", "language": "en"}) == len(events)
    assert sample("socialpulse_brand_query_spike_score", {"brand_query": "nimbus", "kind": "volume"}) >= 4
    assert sample("socialpulse_brand_query_spike_score", {"brand_query": "vertex", "kind": "volume"}) == 0
    shifted = sample("socialpulse_brand_query_sentiment_shifted_total", {"brand_query": "nimbus"})
    assert abs(shifted / len(events) - 1 - (-0.7 * 300 / len(events))) < 1e-6
    # idle: partitions drop out, then the wall clock moves the watermark and the spike minutes close
    clock.t += 11
    state.on_idle_check(NOW)
    assert state.tracker.watermark() is None
    clock.t += 300
    state.on_idle_check(NOW)
    assert state.tracker.closed_until >= T0 + 49 * MINUTE
    assert sample("socialpulse_brand_query_spike_score", {"brand_query": "nimbus", "kind": "volume"}) == 0
    assert sample("socialpulse_alerting_watermark_seconds") == state.tracker.closed_until.timestamp()


def _ddl_columns(path):
    body = path.read_text().split("\n(\n", 1)[1].split("\n)\nENGINE")[0]
    return [re.match(r"\s*`?([\w.]+)`?\s", line).group(1) for line in body.splitlines()
            if line.strip() and not line.strip().startswith("--") and re.match(r"\s*`?[\w.]+`?\s+\w", line)]


def test_spikes_alert_row_matches_the_clickhouse_ddl():
    columns = _ddl_columns(REPO_ROOT / "schemas" / "migrations" / "0009_alerts.sql")
    assert tuple(columns) == ALERT_COLUMNS
    state = AlertingState(SpikeTracker(["nimbus"]), Metrics.create(), idle_seconds=10)
    events = [enriched(i, T0 + (i // 20) * MINUTE) for i in range(20 * 20)]
    events += [enriched(10_000 + i, T0 + 20 * MINUTE, text="battery exploded") for i in range(120)]
    state.observe(records(events, 1), NOW)
    alerts = state.on_idle_check(NOW) or state.tracker.advance(T0 + 22 * MINUTE, detected_at=NOW)
    alert = next(a for a in alerts if isinstance(a, Alert))
    row = alert_row(alert)
    assert len(row) == len(ALERT_COLUMNS)
    assert row[0] == alert.alert_id and row[9] == [d.term for d in alert.explanation.drivers]
    assert "exploded" in row[9]
