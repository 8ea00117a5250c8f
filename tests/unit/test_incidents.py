"""Incident grouping (processors/incidents.py) on hand-built alerts: storms, merges, quiet periods, watermark."""

from __future__ import annotations

import functools
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.incidents import (
    IncidentConfig,
    IncidentState,
    Signal,
    empty_state,
    group,
    state_from_json,
    state_to_json,
)
from processors.spikes import alert_id
from schemas.alert import Alert, AlertExplanation, TermLift
from schemas.incident import Incident, IncidentSubject

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NOW = T0 + timedelta(days=1)
END = T0 + timedelta(hours=3)

NIMBUS = ("topic", "nimbus")
X5 = ("entity", "Nimbus X5")
BUDS = ("entity", "Nimbus Buds 2")
TAG = ("hashtag", "nimbusx5")
ALTAIR = ("entity", "Altair Air")
STORM = frozenset({NIMBUS, X5, BUDS, TAG})
KINDS = ("volume_spike", "negative_surge")
DEFAULT = IncidentConfig()


def make_alert(kind: str, subject: tuple[str, str], minute: int, *, score: float = 5.0, observed: float = 50.0,
               drivers: tuple[TermLift, ...] = (), examples: tuple[str, ...] = (), start: datetime = T0) -> Alert:
    window_start = start + minute * MINUTE
    return Alert(
        alert_id=alert_id(kind, subject[0], subject[1], window_start), kind=kind, subject_type=subject[0],
        subject=subject[1], window_start=window_start, window_end=window_start + MINUTE, observed=observed,
        baseline=10.0, score=score,
        explanation=AlertExplanation(drivers=drivers, sentiment_window=-0.1 * score, sentiment_baseline=0.2,
                                     example_event_ids=examples, example_texts=tuple(f"text of {e}" for e in examples)),
        detected_at=window_start + MINUTE,
    )


def sig(kind: str, subject: tuple[str, str], minute: int, related: frozenset[tuple[str, str]] = frozenset(),
        **kwargs: object) -> Signal:
    return Signal(make_alert(kind, subject, minute, **kwargs), related)


def driver(term: str, lift: float, kind: str = "term", window_count: int = 10) -> TermLift:
    return TermLift(term=term, kind=kind, window_count=window_count, baseline_rate=0.01, lift=lift)


def storm_minute(minute: int) -> list[Signal]:
    """Every storm subject, both kinds. X5's volume spike at minute 3 is the peak; the brand query has the
    highest count. Posts mention several subjects, so examples repeat across the minute's alerts."""
    signals = []
    for subject in sorted(STORM):
        for kind in KINDS:
            score = 12.0 if (subject, kind, minute) == (X5, "volume_spike", 3) else 4.0 + minute / 10
            observed = 400.0 if subject == NIMBUS else 80.0
            drivers = [driver("battery", 2.0 + minute, window_count=10 + minute), driver(TAG[1], 1.5, "hashtag")]
            if kind == "negative_surge":
                drivers.append(driver("recall", 9.5 if (subject, minute) == (X5, 4) else 3.0))
            examples = (f"x:{minute}:{subject[1]}", f"x:{minute}:shared")
            signals.append(sig(kind, subject, minute, STORM, score=score, observed=observed,
                               drivers=tuple(drivers), examples=examples))
    return signals


def tick(state: IncidentState, minute: int, signals: list[Signal] | tuple[Signal, ...] = (), *, partition: int = 0,
         partitions: int = 1, config: IncidentConfig = DEFAULT) -> tuple[IncidentState, list[Incident]]:
    """One call saying every window ending at or before T0 + minute is closed on `partition`."""
    return group(state, signals, partition=partition, closed_until=T0 + minute * MINUTE, partitions=partitions,
                 now=NOW, config=config)


def run_minutes(signals: list[Signal], last_minute: int, config: IncidentConfig = DEFAULT,
                ) -> tuple[IncidentState, list[tuple[int, Incident]]]:
    """Deliver each minute's signals when it closes (one partition); returns the emissions by closing minute."""
    state, out = empty_state(), []
    for minute in range(1, last_minute + 1):
        due = [s for s in signals if s.alert.window_end == T0 + minute * MINUTE]
        state, emitted = tick(state, minute, due, config=config)
        out += [(minute, incident) for incident in emitted]
    return state, out


def subject(pair: tuple[str, str]) -> IncidentSubject:
    return IncidentSubject(subject_type=pair[0], subject=pair[1])


# --------------------------------------------------------------------------- grouping


def test_incidents_storm_is_one_incident_that_opens_grows_and_resolves_once():
    signals = [s for minute in range(6) for s in storm_minute(minute)]
    state, out = run_minutes(signals, last_minute=20)

    assert {i.incident_id for _, i in out} == {f"incident:entity:Nimbus Buds 2:{T0.isoformat()}"}
    assert [(m, i.status, i.revision) for m, i in out] == [
        (1, "open", 1), (2, "updated", 2), (3, "updated", 3), (4, "updated", 4), (5, "updated", 5),
        (6, "updated", 6), (16, "resolved", 7)]  # last window ends at minute 6, + 10 quiet minutes
    final = out[-1][1]
    assert final.headline == subject(NIMBUS)  # the brand query, though an entity holds the peak
    assert final.kinds == ("negative_surge", "volume_spike")
    assert final.subjects == tuple(subject(s) for s in sorted(STORM))
    assert final.alert_count == len(final.alert_ids) == 48
    assert (final.started_at, final.last_alert_at, final.ended_at) == (T0, T0 + 6 * MINUTE, T0 + 6 * MINUTE)
    assert (final.peak_at, final.peak_score, final.peak_observed) == (T0 + 3 * MINUTE, 12.0, 80.0)
    assert final.sentiment_window == pytest.approx(-1.2)
    assert [(d.term, d.lift) for d in final.drivers] == [("recall", 9.5), ("battery", 7.0), ("nimbusx5", 1.5)]
    # The peak alert first, then by (score, alert_id); "x:5:shared" is in every minute-5 alert but listed once.
    assert final.example_event_ids == ("x:3:Nimbus X5", "x:3:shared", "x:5:Nimbus Buds 2", "x:5:shared",
                                       "x:5:Nimbus X5")
    assert final.example_texts == tuple(f"text of {e}" for e in final.example_event_ids)
    assert state == IncidentState(closed_until={0: T0 + 20 * MINUTE})  # resolved incidents leave the state


def test_incidents_unrelated_spikes_at_the_same_minutes_stay_apart():
    signals = [sig("volume_spike", NIMBUS, m) for m in range(3)] + [sig("volume_spike", ALTAIR, m) for m in range(3)]
    _, out = run_minutes(signals, last_minute=15)
    resolved = [i for _, i in out if i.status == "resolved"]
    assert [(i.headline, i.subjects, i.alert_count) for i in resolved] == [
        (subject(ALTAIR), (subject(ALTAIR),), 3), (subject(NIMBUS), (subject(NIMBUS),), 3)]


def test_incidents_subject_alerting_after_resolution_opens_a_new_incident():
    signals = [sig("volume_spike", NIMBUS, 0), sig("volume_spike", NIMBUS, 20)]
    _, out = run_minutes(signals, last_minute=40)
    assert [(m, i.incident_id, i.status) for m, i in out] == [
        (1, f"incident:topic:nimbus:{T0.isoformat()}", "open"),
        (11, f"incident:topic:nimbus:{T0.isoformat()}", "resolved"),
        (21, f"incident:topic:nimbus:{(T0 + 20 * MINUTE).isoformat()}", "open"),
        (31, f"incident:topic:nimbus:{(T0 + 20 * MINUTE).isoformat()}", "resolved")]


@pytest.mark.parametrize(("minute", "incidents"), [(10, 1), (11, 2)])
def test_incidents_quiet_boundary_does_not_depend_on_call_boundaries(minute, incidents):
    # The first incident is quiet from T0 + 11 (last window end T0 + 1, + 10): an alert whose window ends at
    # T0 + 11 still joins, one ending at T0 + 12 opens a new incident, also when both arrive in one late call.
    signals = [sig("volume_spike", NIMBUS, 0), sig("volume_spike", NIMBUS, minute)]
    _, fine = run_minutes(signals, last_minute=40)
    state, coarse = tick(empty_state(), 40, signals)
    assert len({i.incident_id for _, i in fine}) == len({i.incident_id for i in coarse}) == incidents
    assert [i.status for i in coarse] == ["open", "resolved"] * incidents  # opened and resolved in one call
    assert [i.revision for i in coarse] == [1, 2] * incidents
    assert [i for _, i in fine if i.status == "resolved"][-1].alert_count == 3 - incidents
    assert state.open == ()


def test_incidents_bridge_alert_merges_two_open_incidents_into_the_earlier():
    state, first = tick(empty_state(), 1, [sig("volume_spike", NIMBUS, 0)])
    state, second = tick(state, 2, [sig("volume_spike", ALTAIR, 1)])
    bridge = sig("volume_spike", ("hashtag", "phonewars"), 2, frozenset({NIMBUS, ALTAIR}))
    state, out = tick(state, 3, [bridge])

    nimbus_id, altair_id = first[0].incident_id, second[0].incident_id
    assert [(i.incident_id, i.status, i.revision, i.merged_into) for i in out] == [
        (nimbus_id, "updated", 2, None), (altair_id, "resolved", 2, nimbus_id)]
    merged, absorbed = out
    assert merged.subjects == (subject(ALTAIR), subject(("hashtag", "phonewars")), subject(NIMBUS))
    assert merged.alert_count == 3 and merged.headline == subject(NIMBUS)
    assert absorbed.ended_at == T0 + 2 * MINUTE and absorbed.alert_count == 1
    assert [i.incident_id for i in state.open] == [nimbus_id]


def test_incidents_subject_in_related_of_an_incident_joins_it():
    # The hashtag co-occurred with the brand query in minute 0; its own alert carries no relation.
    state, _ = tick(empty_state(), 1, [sig("volume_spike", NIMBUS, 0, frozenset({TAG}))])
    state, out = tick(state, 2, [sig("volume_spike", TAG, 1)])
    assert [(i.status, i.alert_count) for i in out] == [("updated", 2)]


@pytest.mark.parametrize(("tag_score", "headline"), [(5.0, X5), (7.0, TAG)])
def test_incidents_headline_without_brand_query_is_the_top_scored_subject(tag_score, headline):
    signals = [sig("volume_spike", X5, 0, frozenset({TAG}), score=5.0), sig("volume_spike", TAG, 0, score=tag_score)]
    _, out = tick(empty_state(), 1, signals)
    assert out[0].headline == subject(headline)  # ties: lexicographic (entity < hashtag)


def test_incidents_max_alerts_keeps_the_best_and_counts_all():
    rng = random.Random(7)
    scores = [float(s) for s in range(1, 11)]
    rng.shuffle(scores)
    signals = [sig("volume_spike", NIMBUS, m, score=score) for m, score in enumerate(scores)]
    _, out = tick(empty_state(), 11, signals, config=IncidentConfig(max_alerts=3))
    best = sorted(signals, key=lambda s: -s.alert.score)[:3]
    assert out[0].alert_count == 10
    assert out[0].alert_ids == tuple(sorted(s.alert.alert_id for s in best))
    assert out[0].peak_score == 10.0


# --------------------------------------------------------------------------- watermark and delivery


def test_incidents_wait_for_every_partition_and_ignore_redelivery():
    signals = storm_minute(0)
    state, out = tick(empty_state(), 1, signals, partition=0, partitions=2)
    assert out == [] and len(state.pending) == 8 and state.open == ()
    state, out = tick(state, 1, signals, partition=0, partitions=2)  # redelivered while pending
    assert out == [] and len(state.pending) == 8

    state, out = tick(state, 1, partition=1, partitions=2)
    assert [(i.status, i.alert_count) for i in out] == [("open", 8)] and state.pending == ()
    for partition in (0, 1):  # redelivered after grouping, on either partition
        state, out = tick(state, 1, signals, partition=partition, partitions=2)
        assert out == [] and state.pending == () and state.open[0].alert_count == 8


def test_incidents_closed_until_never_moves_back():
    state, _ = tick(empty_state(), 5, partition=0, partitions=2)
    state, _ = tick(state, 3, partition=0, partitions=2)
    state, _ = group(state, [], partition=0, closed_until=None, partitions=2, now=NOW)
    assert state.closed_until == {0: T0 + 5 * MINUTE}


def test_incidents_beyond_max_pending_the_oldest_are_processed():
    signals = [sig("volume_spike", NIMBUS, m) for m in range(5)]
    state, out = tick(empty_state(), 5, signals[::-1], partitions=2, config=IncidentConfig(max_pending=2))
    assert [(i.status, i.alert_count, i.last_alert_at) for i in out] == [("open", 3, T0 + 3 * MINUTE)]
    assert [s.alert for s in state.pending] == [s.alert for s in signals[3:]]


def test_incidents_state_round_trips_through_json_exactly():
    plus2 = timezone(timedelta(hours=2))
    state, _ = tick(empty_state(), 4, [s for m in range(3) for s in storm_minute(m)], partition=0, partitions=2)
    state, _ = tick(state, 2, [sig("volume_spike", ALTAIR, 3, start=T0.astimezone(plus2))], partition=1,
                    partitions=2)
    assert state.open and state.pending  # a real mid-storm state: open incident and waiting signals

    restored = state_from_json(json.loads(json.dumps(state_to_json(state))))
    assert restored == state
    later = storm_minute(3)
    assert tick(restored, 5, later, partition=1, partitions=2) == tick(state, 5, later, partition=1, partitions=2)
    with pytest.raises(ValueError, match="version"):
        state_from_json({**state_to_json(state), "version": 99})


def test_incidents_id_is_in_utc():
    plus2 = timezone(timedelta(hours=2))
    _, out = tick(empty_state(), 1, [sig("volume_spike", NIMBUS, 0, start=T0.astimezone(plus2))])
    assert out[0].incident_id == f"incident:topic:nimbus:{T0.isoformat()}"


# --------------------------------------------------------------------------- order independence


def scenario() -> list[Signal]:
    """A storm, an unrelated product that a later hashtag bridges into it, then both again after quiet."""
    signals = [s for minute in range(6) for s in storm_minute(minute)]
    signals += [sig("volume_spike", ALTAIR, m, score=6.0, examples=(f"a:{m}",)) for m in range(3, 6)]
    signals.append(sig("negative_surge", ("hashtag", "phonewars"), 8, frozenset({X5, ALTAIR})))
    signals += [sig("volume_spike", NIMBUS, m, frozenset({TAG})) for m in (30, 31)]
    signals += [sig("negative_surge", TAG, 31), sig("volume_spike", ALTAIR, 31)]
    return signals


def deliveries(rng: random.Random, signals: list[Signal], partitions: int,
               ) -> list[tuple[int, list[Signal], datetime | None]]:
    """Signals spread over partitions, more or less shuffled, in random chunks, with redeliveries; each call's
    closed_until stays below every window its partition has still to send (and sometimes does not advance)."""
    assigned: list[list[Signal]] = [[] for _ in range(partitions)]
    for s in signals:
        assigned[rng.randrange(partitions)].append(s)
    # From in order (fine watermark steps) to fully shuffled (coarse steps, everything pending at once).
    jitter, chunk_size = rng.choice([0.0, 3.0, 1000.0]), rng.choice([1, 4, 12])
    queues = []
    for partition, items in enumerate(assigned):
        items.sort(key=lambda s: (s.alert.window_start - T0) / MINUTE + rng.uniform(0, jitter))
        queue: list[tuple[int, list[Signal], datetime | None]] = []
        closed, i = None, 0
        while i < len(items):
            chunk = items[i:i + rng.randint(1, chunk_size)]
            i += len(chunk)
            if rng.random() < 0.7:
                closed = min((s.alert.window_start for s in items[i:]), default=END)
            queue.append((partition, chunk, closed))
            if rng.random() < 0.2:
                queue.append(rng.choice(queue))  # redelivery of an earlier call, with its stale closed_until
        queue.append((partition, [], END))
        queues.append(queue)
    calls = []
    while any(queues):
        calls.append(rng.choice([q for q in queues if q]).pop(0))
    return calls


def final_incidents(calls: list[tuple[int, list[Signal], datetime | None]], partitions: int) -> dict[str, object]:
    state, history = empty_state(), {}
    for n, (partition, chunk, closed) in enumerate(calls):
        state, emitted = group(state, chunk, partition=partition, closed_until=closed, partitions=partitions,
                               now=NOW + n * MINUTE)
        for incident in emitted:
            history.setdefault(incident.incident_id, []).append(incident)
    assert state.open == () and state.pending == ()
    result = {}
    for incident_id, revisions in history.items():
        statuses = [i.status for i in revisions]
        assert statuses[0] == "open" and statuses[-1] == "resolved" and set(statuses[1:-1]) <= {"updated"}
        assert [i.revision for i in revisions] == list(range(1, len(revisions) + 1))
        result[incident_id] = revisions[-1].model_dump(exclude={"revision", "updated_at"})
    return result


@functools.cache
def reference() -> dict[str, object]:
    return final_incidents([(0, scenario(), END)], partitions=1)  # everything in one call, in order


def test_incidents_scenario_reference_is_what_we_expect():
    storm_id = f"incident:entity:Nimbus Buds 2:{T0.isoformat()}"
    altair_id = f"incident:entity:Altair Air:{(T0 + 3 * MINUTE).isoformat()}"
    assert {k: (v["merged_into"], v["alert_count"]) for k, v in reference().items()} == {
        storm_id: (None, 52), altair_id: (storm_id, 3),
        f"incident:entity:Altair Air:{(T0 + 31 * MINUTE).isoformat()}": (None, 1),
        f"incident:topic:nimbus:{(T0 + 30 * MINUTE).isoformat()}": (None, 3)}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), partitions=st.integers(1, 4))
def test_incidents_any_delivery_order_and_split_gives_the_same_incidents(seed, partitions):
    calls = deliveries(random.Random(seed), scenario(), partitions)
    assert final_incidents(calls, partitions) == reference()
