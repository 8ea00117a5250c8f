"""Spike alerts and incidents over all workers on the real stack: the same generated stream, with two unrelated
crisis spikes at the same minutes, through one worker and through two gives the same alerts (ids, observed counts,
top drivers) and the same two incidents, each opened, updated and resolved; the detector's state lives in Faust
changelog topics."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaAdminClient, KafkaConsumer

from schemas import Alert
from schemas.incident import Incident
from streams.sources.generator import Generator, GeneratorConfig, Spike
from tests.support import Pipeline, produce_all

SPIKE_AT, SPIKE_MINUTES, STREAM_MINUTES = 13, 6, 30
WORKER_ENV = {"SOCIALPULSE_WORKER__INCIDENT_QUIET_MINUTES": "3"}


def crisis_stream(now: datetime) -> list[tuple[bytes, bytes]]:
    """A steady seeded stream ending 10 s ago, with negative spikes on Nimbus and on Altair Air at once."""
    start = (now - timedelta(minutes=STREAM_MINUTES)).replace(second=0, microsecond=0)
    at = start + timedelta(minutes=SPIKE_AT)
    spikes = tuple(Spike(at=at, term=term, factor=8, duration=timedelta(minutes=SPIKE_MINUTES), negative=True)
                   for term in ("Nimbus", "Altair Air"))
    out = []
    for post in Generator(GeneratorConfig(start=start, seed=19, rate_per_minute=60, spikes=spikes)):
        if post.event.created_at >= now - timedelta(seconds=10):
            break
        out.append((post.event.event_id.encode(), post.event.model_dump_json().encode()))
    return out


def read_all(topic: str, bootstrap: str, model):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000, group_id=None)
    values = [model.model_validate_json(m.value) for m in consumer]
    consumer.close()
    return values


def run_pipeline(p: Pipeline, records, workers: int) -> tuple[list[Alert], list[Incident]]:
    kafka, db = p.settings.kafka, p.settings.clickhouse.database
    produce_all(kafka.bootstrap_servers, kafka.raw_topic, records)
    for _ in range(workers):
        p.start_worker(extra_env=WORKER_ENV)
    # both incidents resolved: every alert of the spikes has been grouped
    p.wait_for_rows(f"SELECT count() FROM {db}.incidents FINAL WHERE status = 'resolved' AND merged_into = ''", 2,
                    timeout=240)
    time.sleep(3)  # the last revisions reach the topic before the table
    alerts = read_all(kafka.alerts_topic, kafka.bootstrap_servers, Alert)
    incidents = read_all(kafka.incidents_topic, kafka.bootstrap_servers, Incident)
    return alerts, incidents


def counts_partitions_per_member(p: Pipeline) -> list[list[int]]:
    """The partitions of the counts topic each member of Faust's group holds (its agent consumes them)."""
    kafka, group_id = p.settings.kafka, p.settings.worker.app_id
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        deadline = time.monotonic() + 30
        while True:
            group = admin.describe_groups([group_id])[group_id]
            owned = [sorted(q for a in m["member_assignment"]["assigned_partitions"] if a["topic"] == kafka.counts_topic
                            for q in a["partitions"])
                     for m in group["members"] if isinstance(m["member_assignment"], dict)]
            if (len(owned) == 2 and group["group_state"] == "Stable") or time.monotonic() > deadline:
                return owned
            time.sleep(1)
    finally:
        admin.close()


def alert_summary(alerts: list[Alert]) -> list[tuple]:
    """Every alert's id and counts; the top drivers of the brand queries' alerts. detected_at differs between runs,
    and one id may be delivered twice after a rebalance, with the same content. A small subject's drivers can
    differ in the tail: each partial keeps its 24 most frequent terms, so a term seen once per batch may be cut in
    one batching and not in another (docs/DESIGN.md §10)."""
    return sorted({(a.alert_id, a.observed, a.baseline,
                    tuple(d.term for d in a.explanation.drivers[:3]) if a.subject_type == "topic" else ())
                   for a in alerts})


def final_incidents(incidents: list[Incident]) -> dict[str, Incident]:
    latest: dict[str, Incident] = {}
    for i in incidents:
        if i.incident_id not in latest or i.revision > latest[i.incident_id].revision:
            latest[i.incident_id] = i
    return latest


def test_spike_workers_one_and_two_workers_give_the_same_alerts_and_incidents(pipeline, tmp_path):
    records = crisis_stream(datetime.now(UTC))
    alone_alerts, alone_incidents = run_pipeline(pipeline, records, workers=1)
    pipeline.stop_workers()  # two cores: the second run gets them

    (tmp_path / "pair").mkdir()
    pair = Pipeline(uuid.uuid4().hex[:10], tmp_path / "pair")
    pair.setup()
    try:
        pair_alerts, pair_incidents = run_pipeline(pair, records, workers=2)
        assert len(pair.live_workers()) == 2, pair.worker_log(1)
        owned = counts_partitions_per_member(pair)
        assert len(owned) == 2 and all(owned), owned  # each worker merges some subjects
    finally:
        pair.stop_workers()
        pair.drop()

    assert alone_alerts, pipeline.worker_log(0)
    assert alert_summary(alone_alerts) == alert_summary(pair_alerts)
    spike_start = min(a.window_start for a in alone_alerts if a.subject == "nimbus")
    nimbus = next(a for a in alone_alerts if (a.kind, a.subject_type, a.subject) == ("volume_spike", "topic", "nimbus"))
    assert nimbus.window_start == spike_start and nimbus.observed > 4 * nimbus.baseline

    for incidents in (alone_incidents, pair_incidents):
        latest = final_incidents(incidents)
        survivors = {i.incident_id: i for i in latest.values() if i.merged_into is None}
        assert len(survivors) == 2, [i.model_dump() for i in latest.values()]
        headlines = {i.headline.subject: i for i in survivors.values()}
        assert set(headlines) == {"nimbus", "altair_air"}
        for incident in survivors.values():
            assert incident.status == "resolved" and incident.ended_at == incident.last_alert_at
            revisions = sorted((i.revision, i.status) for i in incidents if i.incident_id == incident.incident_id)
            assert revisions[0] == (1, "open") and revisions[-1][1] == "resolved"
            assert set(incident.kinds) == {"volume_spike", "negative_surge"}
            assert incident.alert_count >= 2 and incident.example_event_ids
        crisis = headlines["nimbus"]
        assert any(s.subject_type == "entity" for s in crisis.subjects), crisis.subjects  # the brand's products too
        # the crisis wording of the generator's phone category (streams/sources/catalog.py CRISIS)
        assert {d.term for d in crisis.drivers} & {"overheating", "update", "calienta", "actualización", "hot"}
        assert crisis.sentiment_window < crisis.sentiment_baseline
        # every alert of a headline's subjects belongs to that one incident: no storm of incidents
        grouped = {a for i in survivors.values() for a in i.alert_ids}
        assert {a.alert_id for a in alone_alerts if a.subject in ("nimbus", "altair_air")} <= grouped
    assert sorted(final_incidents(alone_incidents)) == sorted(final_incidents(pair_incidents))

    # the detector's state is in Faust's changelog topics
    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.kafka.bootstrap_servers)
    topics = set(admin.list_topics())
    admin.close()
    app_id = pipeline.settings.worker.app_id
    for table in ("spike-state", "incidents"):
        assert f"{app_id}-{table}-changelog" in topics
    assert f"{app_id}-spike-signals" in topics

