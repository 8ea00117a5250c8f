"""Incident grouping: the alert storm of one crisis becomes ONE incident that grows, then resolves.

Pure: no Kafka, Faust, ClickHouse, Prometheus or wall clock; the caller passes `now` (stamped as `updated_at`).
`group(state, signals, ...) -> (state, incidents)` is a fold over calls, each from one upstream partition:

* Watermark. A call says every window of its `partition` ending at or before `closed_until` is closed; a
  partition's closed_until never moves back. The watermark is the minimum over all `partitions` of them (None
  while one has not reported). Signals wait in `pending` until `alert.window_end <= watermark`, then are
  processed in (window_start, alert_id) order, so every delivery order and call split processes the same
  sequence. Beyond `max_pending` waiting signals the oldest are processed anyway (bounded state, at the cost
  of that guarantee). A redelivered alert (already pending or grouped) and an alert for a window that was
  already closed before the call are ignored.
* Joining. A signal joins an open incident when its subject is one of the incident's subjects, one of its
  `related` subjects is, or its subject is among the `related` of the incident's alerts. Matching several
  merges them into the one with the earliest (started_at, incident_id); the others resolve with
  `merged_into`. Matching none opens a new incident, id "incident:<subject_type>:<subject>:<window_start>"
  of its first alert, never changed afterwards.
* Resolution. An incident resolves (and leaves the state) once the watermark reaches
  last_alert_at + quiet_minutes. Before each signal is processed, incidents already quiet at its window_end
  resolve first: a later alert then opens a new incident however coarse the watermark's steps were.
* Emission. Per call at most one Incident per changed incident: "open" (revision 1), "updated" (revision+1)
  or "resolved"; opened and resolved in one call emits both. Sorted by (started_at, incident_id, revision).

State per open incident is bounded: exact aggregates (count, times, kinds, subjects, related, headline, best
drivers) plus the `max_alerts` highest-scored alerts, which give alert_ids, the peak and the examples.
Alert windows are assumed to be `bucket_seconds` long (as the spike detector makes them), so window_end order
follows window_start order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.spikes import BRAND_QUERY
from schemas.alert import Alert, TermLift
from schemas.incident import Incident, IncidentStatus, IncidentSubject

SubjectKey = tuple[str, str]  # (subject_type, subject)
HeadlineRank = tuple[int, float, str, str]  # smaller wins: brand queries by observed count, then others by score
STATE_VERSION = 1
_KINDS = frozenset({"volume_spike", "negative_surge"})


@dataclass(frozen=True)
class IncidentConfig:
    bucket_seconds: int = 60  # length of the alerts' windows
    quiet_minutes: int = 10  # resolved when the watermark passes last_alert_at + quiet_minutes
    max_drivers: int = 8
    max_examples: int = 5
    max_alerts: int = 200
    max_pending: int = 10_000  # signals waiting for the watermark; beyond it the oldest are processed anyway

    def __post_init__(self) -> None:
        if self.bucket_seconds < 1 or self.quiet_minutes < 0 or self.max_alerts < 1:
            raise ValueError("bucket_seconds >= 1, quiet_minutes >= 0 and max_alerts >= 1 required")
        if self.max_drivers < 0 or self.max_examples < 0 or self.max_pending < 0:
            raise ValueError("max_drivers, max_examples and max_pending must be >= 0")

    @property
    def quiet(self) -> timedelta:
        return timedelta(minutes=self.quiet_minutes)



@dataclass(frozen=True)
class Signal:
    alert: Alert
    related: frozenset[SubjectKey] = frozenset()  # subjects co-occurring in the alert's minute (from upstream)


@dataclass(frozen=True)
class OpenIncident:
    incident_id: str
    revision: int  # last emitted revision; 0 while opened in the current call and not emitted yet
    alert_count: int
    started_at: datetime
    last_alert_at: datetime
    kinds: frozenset[str]
    subjects: frozenset[SubjectKey]
    related: frozenset[SubjectKey]
    headline: HeadlineRank
    alerts: tuple[Alert, ...]  # the max_alerts best, by _by_score
    drivers: tuple[TermLift, ...]  # the max_drivers best, by _driver_rank


@dataclass(frozen=True)
class IncidentState:
    open: tuple[OpenIncident, ...] = ()  # sorted by incident_id
    pending: tuple[Signal, ...] = ()  # sorted by (window_start, alert_id)
    closed_until: Mapping[int, datetime] = field(default_factory=dict)  # per upstream partition


def empty_state() -> IncidentState:
    return IncidentState()


def watermark(closed_until: Mapping[int, datetime], partitions: int) -> datetime | None:
    """Every window ending at or before it is closed on all partitions; None while one has not reported."""
    times = [closed_until.get(p) for p in range(partitions)]
    return None if any(t is None for t in times) else min(t for t in times if t is not None)


# --------------------------------------------------------------------------- ranks (total orders: determinism)

def _order(signal: Signal) -> tuple[datetime, str]:
    return signal.alert.window_start, signal.alert.alert_id


def _by_score(alert: Alert) -> tuple[float, datetime, str]:
    return -alert.score, alert.window_start, alert.alert_id


def _driver_rank(driver: TermLift) -> tuple[float, int, str, str, float]:
    return -driver.lift, -driver.window_count, driver.term, driver.kind, driver.baseline_rate


def _headline_rank(alert: Alert) -> HeadlineRank:
    if alert.subject_type == BRAND_QUERY:
        return 0, -alert.observed, alert.subject_type, alert.subject
    return 1, -alert.score, alert.subject_type, alert.subject


def _best_drivers(drivers: Iterable[TermLift], limit: int) -> tuple[TermLift, ...]:
    # Truncating after every merge is exact: a term's best entry that belongs to the final top `limit` was in
    # the top `limit` when it arrived, and only better entries of other terms can push an entry out.
    best: dict[tuple[str, str], TermLift] = {}
    for driver in drivers:
        key = (driver.kind, driver.term)
        if key not in best or _driver_rank(driver) < _driver_rank(best[key]):
            best[key] = driver
    return tuple(sorted(best.values(), key=_driver_rank)[:limit])


# --------------------------------------------------------------------------- incidents

def _opened_by(signal: Signal, config: IncidentConfig) -> OpenIncident:
    a = signal.alert
    return OpenIncident(
        incident_id=f"incident:{a.subject_type}:{a.subject}:{a.window_start.astimezone(UTC).isoformat()}",
        revision=0, alert_count=1, started_at=a.window_start, last_alert_at=a.window_end,
        kinds=frozenset({a.kind}), subjects=frozenset({(a.subject_type, a.subject)}), related=signal.related,
        headline=_headline_rank(a), alerts=(a,), drivers=_best_drivers(a.explanation.drivers, config.max_drivers),
    )


def _combine(into: OpenIncident, other: OpenIncident, config: IncidentConfig) -> OpenIncident:
    """`into` absorbs `other` (a merged incident, or a one-alert incident for a joining signal)."""
    return replace(
        into,
        alert_count=into.alert_count + other.alert_count,
        started_at=min(into.started_at, other.started_at),
        last_alert_at=max(into.last_alert_at, other.last_alert_at),
        kinds=into.kinds | other.kinds,
        subjects=into.subjects | other.subjects,
        related=into.related | other.related,
        headline=min(into.headline, other.headline),
        alerts=tuple(sorted(into.alerts + other.alerts, key=_by_score)[:config.max_alerts]),
        drivers=_best_drivers(into.drivers + other.drivers, config.max_drivers),
    )


def _joins(signal: Signal, incident: OpenIncident) -> bool:
    subject = (signal.alert.subject_type, signal.alert.subject)
    return (subject in incident.subjects or subject in incident.related
            or not signal.related.isdisjoint(incident.subjects))


def _snapshot(incident: OpenIncident, status: IncidentStatus, revision: int, *, now: datetime,
              config: IncidentConfig, merged_into: str | None = None) -> Incident:
    peak = incident.alerts[0]
    examples: dict[str, str] = {}
    for alert in sorted(incident.alerts, key=lambda a: (-a.score, a.alert_id)):
        for event_id, text in zip(alert.explanation.example_event_ids, alert.explanation.example_texts,
                                  strict=False):
            if len(examples) < config.max_examples:
                examples.setdefault(event_id, text)
    _, _, headline_type, headline = incident.headline
    return Incident(
        incident_id=incident.incident_id, status=status, revision=revision,
        headline=IncidentSubject.model_validate({"subject_type": headline_type, "subject": headline}),
        kinds=tuple(sorted(incident.kinds)),
        subjects=tuple(IncidentSubject.model_validate({"subject_type": t, "subject": s})
                       for t, s in sorted(incident.subjects)),
        alert_ids=tuple(sorted(a.alert_id for a in incident.alerts)), alert_count=incident.alert_count,
        started_at=incident.started_at, peak_at=peak.window_start, peak_score=peak.score,
        peak_observed=peak.observed, last_alert_at=incident.last_alert_at,
        ended_at=incident.last_alert_at if status == "resolved" else None, merged_into=merged_into,
        drivers=incident.drivers, example_event_ids=tuple(examples), example_texts=tuple(examples.values()),
        sentiment_window=peak.explanation.sentiment_window, sentiment_baseline=peak.explanation.sentiment_baseline,
        updated_at=now,
    )


class _Call:
    """The working set of one `group` call: open incidents by id, which changed, what was emitted."""

    def __init__(self, incidents: Iterable[OpenIncident], *, now: datetime, config: IncidentConfig) -> None:
        self.open = {i.incident_id: i for i in incidents}
        self.changed: set[str] = set()
        self.emitted: list[Incident] = []
        self.now, self.config = now, config

    def add(self, signal: Signal) -> None:
        quiet, end = self.config.quiet, signal.alert.window_end
        self.resolve(lambda i: i.last_alert_at + quiet < end)
        matches = sorted((i for i in self.open.values() if _joins(signal, i)),
                         key=lambda i: (i.started_at, i.incident_id))
        incident = _opened_by(signal, self.config)
        if matches:
            target = matches[0]
            for other in matches[1:]:
                self._end(other, merged_into=target.incident_id)
                target = _combine(target, other, self.config)
            incident = _combine(target, incident, self.config)
        self.open[incident.incident_id] = incident
        self.changed.add(incident.incident_id)

    def resolve(self, quiet: Callable[[OpenIncident], bool]) -> None:
        for incident in [i for i in self.open.values() if quiet(i)]:
            self._end(incident)

    def _end(self, incident: OpenIncident, merged_into: str | None = None) -> None:
        del self.open[incident.incident_id]
        self.changed.discard(incident.incident_id)
        revision = incident.revision
        if revision == 0:  # opened in this call: consumers still get to see it open
            revision = 1
            self.emitted.append(_snapshot(incident, "open", 1, now=self.now, config=self.config))
        self.emitted.append(_snapshot(incident, "resolved", revision + 1, now=self.now, config=self.config,
                                      merged_into=merged_into))

    def finish(self) -> tuple[tuple[OpenIncident, ...], list[Incident]]:
        for incident_id in self.changed:
            incident = self.open[incident_id]
            status: IncidentStatus = "open" if incident.revision == 0 else "updated"
            incident = self.open[incident_id] = replace(incident, revision=incident.revision + 1)
            self.emitted.append(_snapshot(incident, status, incident.revision, now=self.now, config=self.config))
        self.emitted.sort(key=lambda i: (i.started_at, i.incident_id, i.revision))
        return tuple(sorted(self.open.values(), key=lambda i: i.incident_id)), self.emitted


def group(state: IncidentState, signals: Sequence[Signal], *, partition: int, closed_until: datetime | None,
          partitions: int, now: datetime, config: IncidentConfig = IncidentConfig(),
          ) -> tuple[IncidentState, list[Incident]]:
    """Fold one call's signals into the state; returns the new state and the incidents it emits."""
    if partitions < 1 or not 0 <= partition < partitions:
        raise ValueError(f"partition {partition} is not in 0..{partitions - 1}")
    closed_before = watermark(state.closed_until, partitions)
    closed = dict(state.closed_until)
    if closed_until is not None and (partition not in closed or closed_until > closed[partition]):
        closed[partition] = closed_until
    mark = watermark(closed, partitions)

    # 1. Pending: add the new signals, minus redeliveries and windows that were closed already (processing
    #    them now would depend on when they came; a grouped alert's window is always closed).
    known = {s.alert.alert_id for s in state.pending} | {a.alert_id for i in state.open for a in i.alerts}
    pending = list(state.pending)
    for signal in signals:
        alert = signal.alert
        if alert.alert_id in known or (closed_before is not None and alert.window_end <= closed_before):
            continue
        known.add(alert.alert_id)
        pending.append(signal)
    pending.sort(key=_order)
    due = [s for s in pending if mark is not None and s.alert.window_end <= mark]
    waiting = [s for s in pending if not (mark is not None and s.alert.window_end <= mark)]
    excess = len(waiting) - config.max_pending
    if excess > 0:
        due, waiting = sorted(due + waiting[:excess], key=_order), waiting[excess:]

    # 2. Group in event-time order, 3. resolve what the watermark shows quiet (after: pending could join it).
    call = _Call(state.open, now=now, config=config)
    for signal in due:
        call.add(signal)
    if mark is not None:
        quiet, through = config.quiet, mark
        call.resolve(lambda i: i.last_alert_at + quiet <= through)
    incidents, emitted = call.finish()
    return IncidentState(open=incidents, pending=tuple(waiting), closed_until=closed), emitted


# --------------------------------------------------------------------------- serialisation (Faust table value)

def state_to_json(state: IncidentState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "closed_until": {str(p): t.isoformat() for p, t in sorted(state.closed_until.items())},
        "pending": [{"alert": s.alert.model_dump(mode="json"), "related": sorted(map(list, s.related))}
                    for s in state.pending],
        "open": [{
            "incident_id": i.incident_id, "revision": i.revision, "alert_count": i.alert_count,
            "started_at": i.started_at.isoformat(), "last_alert_at": i.last_alert_at.isoformat(),
            "kinds": sorted(i.kinds), "subjects": sorted(map(list, i.subjects)),
            "related": sorted(map(list, i.related)), "headline": list(i.headline),
            "alerts": [a.model_dump(mode="json") for a in i.alerts],
            "drivers": [d.model_dump(mode="json") for d in i.drivers],
        } for i in state.open],
    }


def state_from_json(data: Mapping[str, Any]) -> IncidentState:
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"incident state version {data.get('version')!r}, expected {STATE_VERSION}")
    return IncidentState(
        open=tuple(OpenIncident(
            incident_id=str(i["incident_id"]), revision=int(i["revision"]), alert_count=int(i["alert_count"]),
            started_at=_aware(i["started_at"]), last_alert_at=_aware(i["last_alert_at"]),
            kinds=frozenset(_kind(k) for k in i["kinds"]), subjects=_subjects(i["subjects"]),
            related=_keys(i["related"]), headline=_headline(i["headline"]),
            alerts=tuple(Alert.model_validate(a) for a in i["alerts"]),
            drivers=tuple(TermLift.model_validate(d) for d in i["drivers"]),
        ) for i in data["open"]),
        pending=tuple(Signal(Alert.model_validate(s["alert"]), _keys(s["related"])) for s in data["pending"]),
        closed_until={int(p): _aware(t) for p, t in data["closed_until"].items()},
    )


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime in incident state: {text!r}")
    return moment


def _kind(kind: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"unknown alert kind in incident state: {kind!r}")
    return kind


def _keys(items: Iterable[Sequence[str]]) -> frozenset[SubjectKey]:
    return frozenset((str(t), str(s)) for t, s in items)


def _subjects(items: Iterable[Sequence[str]]) -> frozenset[SubjectKey]:
    subjects = [IncidentSubject.model_validate({"subject_type": t, "subject": s}) for t, s in items]
    return frozenset((s.subject_type, s.subject) for s in subjects)


def _headline(item: Sequence[Any]) -> HeadlineRank:
    rank, value, subject_type, subject = item
    checked = IncidentSubject.model_validate({"subject_type": subject_type, "subject": subject})
    return int(rank), float(value), checked.subject_type, checked.subject
