"""The contract between a network's connector (its protocol) and the runner that produces what it reads.

A connector knows one network's protocol: how to connect, what to ask for, how to resume from a cursor, when to back
off. It yields `Fetched` units in the order it read them; the runner (streams/sources/connectors/runner.py) turns
their payloads into Kafka messages (posts to the raw topic, deletions to the deletions topic, anything unreadable
to the raw topic as it is, for the worker to dead-letter) and writes a unit's cursor to the checkpoint topic only
after every message of that unit and of every unit before it was acknowledged. So a connector never waits for
Kafka and never writes a checkpoint itself; when the runner has too many messages in flight it simply stops
pulling from the connector's iterator, which is the back-pressure (a WebSocket then stops being read, an HTTP
poller stops polling).

Reconnecting, rate limits and quotas are the connector's business (streams/sources/connectors/http.py helps);
it reports them through `SourceEvents` so they reach the metrics. A connector never raises for a network fault:
it backs off and goes on for as long as it runs. It raises `ConnectorConfigError` for what cannot get better by
waiting (bad credentials, a stream or channel that does not exist): the command then exits with that message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from schemas.events import Network

# A connector's resume point, string to string so that it round-trips through JSON unchanged:
# {"time_us": "1725911162329308"}, {"since_id": "109..."}, {"pageToken": "...", "publishedAfter": "..."}.
Cursor = Mapping[str, str]


@dataclass(frozen=True)
class Fetched:
    """What a connector read, in order, and where to resume once all of it (and all before it) is stored.

    Each payload is one JSON document as the network sent it: a WebSocket frame, one line of a streaming HTTP
    response, a status of a REST timeline, or a page the runner splits (X pages, Reddit listings, YouTube list
    responses; `processors.normalizers.explode`). Bytes as received: the runner decodes them, so a malformed frame
    is kept byte for byte in its dead letter."""

    payloads: Sequence[bytes]
    cursor: Cursor | None = None  # None: this unit moves no resume point (the previous one holds)


class SourceEvents(Protocol):
    """What a connector reports besides payloads; the runner counts them in the source's metrics."""

    def connected(self) -> None:
        """A connection (or a poll cycle) is established and reading."""

    def reconnecting(self, reason: str, delay: float) -> None:
        """The connection was lost or refused; the next attempt is in `delay` seconds. `reason` is a short,
        bounded word (`closed`, `network`, `http_5xx`, `rate_limited`, ...): it becomes a metric label."""

    def quota_used(self, units: int) -> None:
        """API quota units spent (YouTube counts them per request)."""


class Connector(Protocol):
    network: Network
    source_id: str  # stable name of this source: the checkpoint key and the `source` label of its metrics

    def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        """Read forever (until cancelled), starting after `resume` (None: the network's "now")."""
        ...

    def describe(self) -> str:
        """One line for the log: what is listened to, never a credential."""
        ...


class ConnectorConfigError(Exception):
    """A fault that waiting cannot cure (refused credentials, an unknown stream or channel): the connector stops."""


@dataclass
class RecordedEvents:
    """SourceEvents that remember what they were told: for tests, and for running a connector without the runner."""

    connections: int = 0
    delays: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    quota: int = 0

    def connected(self) -> None:
        self.connections += 1

    def reconnecting(self, reason: str, delay: float) -> None:
        self.reasons.append(reason)
        self.delays.append(delay)

    def quota_used(self, units: int) -> None:
        self.quota += units
