"""The Jetstream connector against the fake Jetstream (tests/fakes/bluesky.py), through the real runner."""

from __future__ import annotations

import asyncio
import json

import pytest

from schemas.deadletter import DeadLetter
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.sources.connectors.base import RecordedEvents
from streams.sources.connectors.bluesky import JetstreamConnector
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.runner import SourceRunner, SourceTopics
from tests.fakes.bluesky import FakeJetstream
from tests.fakes.kafka import MemoryProducer, in_loop, run_until

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
FAST = RetryPolicy(0.01, 0.05, jitter=False)


@pytest.fixture
def jetstream():
    with FakeJetstream(count=40).running() as server:
        yield server


def connector(server: FakeJetstream, **kwargs) -> JetstreamConnector:
    return JetstreamConnector([f"{server.ws_url}/subscribe"], source_id="bluesky:test", backoff=FAST,
                              rewind_seconds=2, **kwargs)


def runner(server, producer, checkpoints, **kwargs) -> SourceRunner:
    return SourceRunner(connector(server, **kwargs.pop("connector", {})), producer=producer, checkpoints=checkpoints,
                        topics=TOPICS, metrics=SourceMetrics.create(), policy=FAST, checkpoint_seconds=0.05, **kwargs)


def stored(producer: MemoryProducer) -> set[str]:
    return set(producer.keys("raw"))


@in_loop
async def test_connector_bluesky_every_post_once_deletions_on_their_topic(jetstream):
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    want = jetstream.expected_event_ids()
    await run_until(runner(jetstream, producer, checkpoints),
                    lambda: len(producer.on("deletions")) == len(jetstream.expected_deletion_ids()) and
                    stored(producer) >= want)
    keys = producer.keys("raw")
    assert len(keys) == len(set(keys)) == len(want) and set(keys) == want
    assert set(producer.keys("deletions")) == jetstream.expected_deletion_ids()
    assert all(m[1] is not None for m in producer.on("raw")), "identity/account events are not forwarded"
    assert jetstream.connections[0]["wanted"] == ["app.bsky.feed.post"] and jetstream.connections[0]["cursor"] is None
    last = checkpoints.saved[-1]
    assert int(last.cursor["time_us"]) == max(e["time_us"] for e in jetstream.events)
    assert last.posts_total == len(want)


@in_loop
async def test_connector_bluesky_resumes_from_its_checkpoint_with_no_gap(jetstream):
    jetstream.pace = 0.01
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    await run_until(runner(jetstream, producer, checkpoints), lambda: len(stored(producer)) >= 15)
    saved = checkpoints.saved[-1]
    assert 15 <= saved.posts_total < len(jetstream.expected_event_ids())
    second = MemoryProducer()
    await run_until(runner(jetstream, second, checkpoints),
                    lambda: stored(producer) | stored(second) >= jetstream.expected_event_ids())
    resumed_at = jetstream.connections[-1]["cursor"]
    assert resumed_at == int(saved.cursor["time_us"]) - 2_000_000, "resumes at the checkpoint, rewound 2 s"
    assert stored(producer) | stored(second) == jetstream.expected_event_ids()
    assert len(stored(second)) < len(jetstream.expected_event_ids()), "the restart did not start from the beginning"


@in_loop
async def test_connector_bluesky_reconnects_after_a_drop_and_a_refusal_and_loses_nothing(jetstream):
    jetstream.drop_after, jetstream.refuse_next = 12, 2
    events = RecordedEvents()
    conn = connector(jetstream)
    got: list[bytes] = []

    async def read() -> None:
        async for fetched in conn.stream(None, events):
            got.extend(fetched.payloads)
            if {json.loads(p)["commit"]["rkey"] for p in got if b'"create"' in p} >= {
                    e["commit"]["rkey"] for e in jetstream.events if e["kind"] == "commit"
                    and e["commit"]["operation"] == "create"}:
                return

    await asyncio.wait_for(read(), 10)
    assert len(jetstream.connections) == 2, "dropped once; two refusals cost no accepted connection"
    assert jetstream.connections[1]["cursor"] is not None
    assert events.reasons == ["http_5xx", "http_5xx", "closed"]
    assert events.delays == [0.01, 0.02, 0.01], "backoff grows while refused, starts afresh after a working connection"


@in_loop
async def test_connector_bluesky_malformed_and_oversize_frames_cost_no_post(jetstream):
    jetstream.malformed_at, jetstream.oversize_at = {3}, {8}
    producer = MemoryProducer()
    await run_until(runner(jetstream, producer, MemoryCheckpoints()),
                    lambda: stored(producer) >= jetstream.expected_event_ids())
    unkeyed = [m for m in producer.on("raw") if m[1] is None]
    assert [m[2] for m in unkeyed] == [b'{"did": "did:plc:broken", "time_us": '], "kept byte for byte"
    (letter,) = producer.on("deadletter")
    dead = DeadLetter.model_validate_json(letter[2])
    assert dead.error_code == "record_too_large" and dead.original_size > 1_200_000 and dead.truncated
    assert stored(producer) == jetstream.expected_event_ids()


@in_loop
async def test_connector_bluesky_back_pressure_stops_reading_while_acks_wait(jetstream):
    """With acks withheld, the runner takes no more than max_in_flight messages from the connector."""

    class Stalled(MemoryProducer):
        async def enqueue(self, messages):
            self.messages.extend(messages)
            return [asyncio.get_running_loop().create_future()]  # never acknowledged

    producer = Stalled()
    r = runner(jetstream, producer, MemoryCheckpoints(), max_in_flight=5)
    task = asyncio.create_task(r.run())
    await asyncio.sleep(1.0)
    assert len(producer.messages) == 5, "reading paused at the bound"
    task.cancel()
    await asyncio.wait([task], timeout=0.5)  # settling waits for acks that never come: the stop is a second cancel
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@in_loop
async def test_connector_bluesky_compress_negotiates_permessage_deflate(jetstream):
    producer = MemoryProducer()
    await run_until(runner(jetstream, producer, MemoryCheckpoints(), connector={"compress": True}),
                    lambda: stored(producer) >= jetstream.expected_event_ids())
    assert jetstream.connections[-1]["deflate"] is True
    assert stored(producer) == jetstream.expected_event_ids()


@in_loop
async def test_connector_bluesky_uncompressed_by_default(jetstream):
    producer = MemoryProducer()
    await run_until(runner(jetstream, producer, MemoryCheckpoints()), lambda: len(stored(producer)) > 0)
    assert jetstream.connections[-1]["deflate"] is False
