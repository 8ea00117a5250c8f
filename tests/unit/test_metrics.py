"""The metrics registry (names, bounded labels), the /metrics page of a real app, and the consumer-lag refresh."""

from __future__ import annotations

import asyncio

from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from streams.app import Wiring, create_app
from streams.codec import Limits
from streams.metrics import LANGUAGE_LABELS, Metrics, language_label, network_label, update_consumer_lag
from streams.settings import Settings, WorkerSettings
from streams.sinks.clickhouse.writer import InMemoryWriter
from streams.stages.enrich import InProcessEnricher

EXPECTED = {
    # name (as exposed, without _total/_bucket suffixes): label names
    "socialpulse_events_in": {"agent"},
    "socialpulse_events_out": {"agent"},
    "socialpulse_dead_letters": {"code", "stage"},
    "socialpulse_batch_retries": {"agent"},
    "socialpulse_clickhouse_rows": {"table"},
    "socialpulse_clickhouse_insert_errors": set(),
    "socialpulse_consumer_lag": {"topic", "partition"},
    "socialpulse_enriched_events": {"network", "language"},
    "socialpulse_brand_query_mentions": {"brand_query", "sentiment"},
    "socialpulse_brand_query_sentiment_shifted": {"brand_query"},
    "socialpulse_brand_query_spike_score": {"brand_query", "kind"},
    "socialpulse_alerts": {"kind", "subject_type"},
    "socialpulse_alerting_late_events": set(),
    "socialpulse_alerting_subjects": set(),
    "socialpulse_alerting_watermark_seconds": {"partition"},
    "socialpulse_counts_messages": set(),
    "socialpulse_counts_bytes": set(),
    "socialpulse_counts_duplicates": set(),
    "socialpulse_incidents": {"status"},
    "socialpulse_incident_open": {"incident", "headline", "kinds"},
}
# One series per open incident, removed when it resolves (streams/stages/incidents.py caps them): the Prometheus
# alert fires once per incident. The only labels naming a subject.
OPEN_INCIDENT_LABELS = {"incident", "headline", "kinds"}
BOUNDED_LABELS = {"agent", "code", "stage", "table", "topic", "partition", "network", "language", "sentiment",
                  "brand_query", "kind", "subject_type", "status"}


def _families(registry):
    return {m.name: m for m in registry.collect()}


def test_metrics_registry_has_every_metric_with_bounded_labels():
    metrics = Metrics.create()
    families = _families(metrics.registry)
    for name in EXPECTED:
        assert name in families, name
    collectors = {c._name: c for c in metrics.registry._collector_to_names}  # label names even without samples
    for name, labels in EXPECTED.items():
        family = families[name]
        family_labels = set(collectors[name]._labelnames)
        assert family_labels == labels, (name, family_labels)
        assert family_labels <= BOUNDED_LABELS or (name == "socialpulse_incident_open"
                                                   and family_labels == OPEN_INCIDENT_LABELS)
        assert family.documentation


def test_metrics_registries_are_independent():
    a, b = Metrics.create(), Metrics.create()
    a.alerts.labels(kind="volume_spike", subject_type="topic").inc()
    assert b.registry.get_sample_value("socialpulse_alerts_total",
                                       {"kind": "volume_spike", "subject_type": "topic"}) is None


def test_metrics_language_and_network_labels_are_bounded():
    assert language_label("es") == "es"
    assert language_label("tlh") == "other" and language_label("") == "other"
    assert "und" in LANGUAGE_LABELS and len(LANGUAGE_LABELS) < 16
    assert network_label("x") == "x" and network_label("myspace") == "other"


def _app(metrics: Metrics):
    wiring = Wiring(writer_factory=InMemoryWriter, enricher_factory=lambda: InProcessEnricher(None, Limits()),
                    metrics=metrics)
    return create_app(Settings(worker=WorkerSettings(app_id="sp-unit-metrics")), wiring)


def test_metrics_page_renders_our_registry_and_faust_monitor_without_duplicates():
    metrics = Metrics.create()
    app = _app(metrics)
    metrics.events_in.labels(agent="enrich").inc(3)
    view = app.web.views["/metrics"]
    response = asyncio.run(view.get(None))
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = response.body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["socialpulse_events_in"].samples[0].value == 3
    # Faust's own monitor shares the registry under a fixed prefix (never the app id)
    faust_names = [n for n in families if n.startswith("faust_")]
    assert "faust_messages_received" in faust_names and "faust_total_rebalances" in faust_names
    assert not [n for n in families if n.startswith(app.conf.id.replace("-", "_") + "_")]
    # a brand query's score is exported only by the worker that owns its partition of the counts topic, from
    # the assignment on (tests/unit/test_spike_detector.py): none before
    assert not families["socialpulse_brand_query_spike_score"].samples
    names = [line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")]
    type_lines = [line for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(type_lines) == len(set(type_lines))  # no metric registered twice
    assert names


def test_metrics_consumer_lag_from_end_and_committed_offsets():
    metrics = Metrics.create()
    raw0, raw1, enr0 = TP("raw", 0), TP("raw", 1), TP("enriched", 0)

    class FakeConsumer:
        _committed_offset = {raw0: 90, raw1: None}

        def assignment(self):
            return {raw0, raw1, enr0}

        async def highwaters(self, *tps):
            return {raw0: 100, raw1: 40, enr0: 7}

        async def earliest_offsets(self, *tps):
            assert set(tps) == {raw1, enr0}  # nothing committed yet: lag counts from the earliest offset
            return {raw1: 10, enr0: 0}

    lags = asyncio.run(update_consumer_lag(FakeConsumer(), metrics))
    assert lags == {("raw", 0): 10, ("raw", 1): 30, ("enriched", 0): 7}
    assert metrics.registry.get_sample_value("socialpulse_consumer_lag", {"topic": "raw", "partition": "1"}) == 30

    class Revoked(FakeConsumer):
        def assignment(self):
            return set()

    asyncio.run(update_consumer_lag(Revoked(), metrics))
    assert metrics.registry.get_sample_value("socialpulse_consumer_lag", {"topic": "raw", "partition": "1"}) is None
