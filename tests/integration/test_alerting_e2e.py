"""End to end alerting on the real stack: generator spike → Kafka → real worker (spaCy enrich + alerting agent)
→ Alert on the test's alerts topic + ClickHouse; a real Prometheus (started by deploy/local/stack.sh in its own
home and port) scrapes the worker's /metrics with the project's rules rendered with short windows, and its
HTTP API must show VolumeSpike firing."""

from __future__ import annotations

import importlib.util
import json
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, KafkaProducer

from schemas import Alert
from streams.settings import REPO_ROOT
from streams.sources.generator import Generator, GeneratorConfig, Spike
from tests.support import free_port, stack

BRAND_QUERIES_YAML = """
brand_queries:
  - name: nimbus
    kind: brand
    query: 'nimbus OR #nimbus OR #nimbusx5 OR @nimbusmobile'
    entity: {label: ORG, aliases: [Nimbus]}
  - name: vertex
    kind: competitor
    query: 'vertex OR #vertex OR #vertexpro OR @vertextech'
    entity: {label: ORG, aliases: [Vertex]}
"""
BASELINE_MINUTES, SPIKE_MINUTES = 14, 7


def render_rules(**overrides: str) -> str:
    spec = importlib.util.spec_from_file_location("render_rules", REPO_ROOT / "deploy/prometheus/render_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(overrides)


def generated_events(now: datetime) -> list[bytes]:
    start = now - timedelta(minutes=BASELINE_MINUTES + SPIKE_MINUTES)
    spike = Spike(at=start + timedelta(minutes=BASELINE_MINUTES), term="Nimbus", factor=8,
                  duration=timedelta(minutes=SPIKE_MINUTES + 1), negative=True)
    gen = Generator(GeneratorConfig(start=start, seed=11, rate_per_minute=60, spikes=(spike,)))
    out = []
    for post in gen:
        if post.event.created_at >= now - timedelta(seconds=5):
            break
        out.append(post.event)
    return [(e.event_id.encode(), e.model_dump_json().encode()) for e in out]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def test_alerting_e2e_volume_spike_fires_in_prometheus_and_alert_reaches_the_topic(pipeline, tmp_path):
    started = time.monotonic()
    settings = pipeline.settings
    kafka, db = settings.kafka, settings.clickhouse.database
    brand_queries_path = tmp_path / "brand_queries.yaml"
    brand_queries_path.write_text(BRAND_QUERIES_YAML)

    records = generated_events(datetime.now(UTC))
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=20)
    for key, value in records:
        producer.send(kafka.raw_topic, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()
    pipeline.start_worker(extra_env={"SOCIALPULSE_NLP__BRAND_QUERIES_PATH": str(brand_queries_path)})
    web_port = pipeline.web_ports[0]

    # A real Prometheus through the project's script, isolated: its own home (data, pid, lock) and port.
    prom_port = free_port()
    prom_home = tmp_path / "prom-home"
    rules = tmp_path / "socialpulse.rules.yml"
    rules.write_text(render_rules(SPIKE_FOR="4s", SPIKE_RANGE="1m", NEGATIVE_FOR="4s", NEGATIVE_RANGE="1m"))
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "socialpulse", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{web_port}"]}]}],
    }))
    prom_env = {"SOCIALPULSE_HOME": str(prom_home), "SOCIALPULSE_PROMETHEUS_PORT": str(prom_port),
                "PROMETHEUS_CONFIG": str(config), "SOCIALPULSE_STACK_TIMEOUT": "60"}
    stack("up", "prometheus", env=prom_env)
    try:
        api = f"http://127.0.0.1:{prom_port}/api/v1"
        firing, alert, last = None, None, None
        consumer = KafkaConsumer(kafka.alerts_topic, bootstrap_servers=kafka.bootstrap_servers,
                                 auto_offset_reset="earliest", consumer_timeout_ms=1000, group_id=None)
        deadline = time.monotonic() + 170
        while time.monotonic() < deadline and (firing is None or alert is None):
            if pipeline.workers[0].poll() is not None:
                pytest.fail(f"worker exited:\n{pipeline.worker_log(0)}")
            if alert is None:
                for message in consumer:
                    candidate = Alert.model_validate_json(message.value)
                    assert message.key.decode() == candidate.alert_id
                    if (candidate.kind, candidate.subject_type, candidate.subject) == ("volume_spike", "topic",
                                                                                       "nimbus"):
                        alert = candidate
                        break
            if firing is None:
                last = get_json(f"{api}/alerts")["data"]["alerts"]
                firing = next((a for a in last if a["labels"]["alertname"] == "VolumeSpike"
                               and a["labels"].get("brand_query") == "nimbus" and a["state"] == "firing"), None)
            time.sleep(1)
        consumer.close()
        targets = get_json(f"{api}/targets")["data"]["activeTargets"]
        assert firing is not None, f"VolumeSpike not firing; alerts={last} targets={targets}\n" \
                                   f"{pipeline.worker_log(0)}"
        assert alert is not None, f"no volume_spike alert for nimbus on {kafka.alerts_topic}\n{pipeline.worker_log(0)}"
        # the same scrape carries consumer lag per owned partition (both stages) and events per stage
        lag = get_json(f"{api}/query?query=socialpulse_consumer_lag")["data"]["result"]
        assert {(r["metric"]["topic"], r["metric"]["partition"]) for r in lag} >= {
            (kafka.raw_topic, "0"), (kafka.raw_topic, "1"), (kafka.enriched_topic, "0")}
        per_agent = urllib.parse.quote("sum by (agent) (socialpulse_events_in_total)")
        received = get_json(f"{api}/query?query={per_agent}")["data"]["result"]
        per_stage = {r["metric"]["agent"]: float(r["value"][1]) for r in received}
        assert min(per_stage.get(a, 0) for a in ("enrich", "clickhouse_sink", "counts")) >= len(records)
    finally:
        stack("down", "prometheus", env=prom_env)

    print("\nALERT", alert.model_dump_json(indent=2))
    print("PROMETHEUS", json.dumps(firing))
    assert float(firing["value"]) >= 4
    assert alert.score >= 4 and alert.observed > 2 * alert.baseline
    assert alert.window_start >= datetime.now(UTC) - timedelta(minutes=SPIKE_MINUTES + 3)
    x = alert.explanation
    assert x.drivers and all(d.lift > 1 for d in x.drivers)
    assert x.example_event_ids and len(x.example_event_ids) == len(x.example_texts)
    assert all("nimbus" in t.casefold() for t in x.example_texts)
    assert x.sentiment_window < x.sentiment_baseline  # the generated spike uses crisis wording
    rows = pipeline.wait_for_rows(
        f"SELECT count() FROM {db}.alerts FINAL WHERE alert_id = '{alert.alert_id}'", 1, timeout=30)
    assert rows == 1
    assert time.monotonic() - started < 180
