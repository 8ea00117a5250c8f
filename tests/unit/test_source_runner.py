"""The connector runner (streams/sources/connectors/runner.py): what payloads become, and that a checkpoint never runs
ahead of the broker's acknowledgements."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from schemas.deadletter import DeadLetter
from schemas.deletion import Deletion
from schemas.events import Network, RawEvent
from streams.codec import Limits
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.sources.connectors.base import Fetched
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.runner import SourceRunner, SourceTopics, to_messages
from tests.fakes.kafka import MemoryProducer, in_loop, run_until
from tests.unit.fixture_files import FIXTURES, load_jsonc

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
NOW = datetime(2026, 11, 26, tzinfo=UTC)
FAST = RetryPolicy(0.01, 0.02, jitter=False)


def fixture(name: str) -> bytes:
    return (FIXTURES / "networks" / name).read_bytes()


def test_source_runner_to_messages_routes_posts_deletions_and_unreadable_payloads():
    unit = Fetched([fixture("bluesky_post.json"), fixture("bluesky_delete.json"), b"not json", b'{"hello": 1}'],
                   {"time_us": "1"})
    out = to_messages(unit, source="s", topics=TOPICS, now=NOW, max_message_bytes=1_048_576)
    (post, deletion, garbage, unknown) = out.messages
    assert post[0] == "raw" and RawEvent.model_validate_json(post[2]).event_id == post[1].decode()
    assert deletion[0] == "deletions" and Deletion.model_validate_json(deletion[2]).deletion_id == deletion[1].decode()
    assert garbage == ("raw", None, b"not json") and unknown == ("raw", None, b'{"hello": 1}'), "kept as they came"
    assert (out.posts, out.deletions, out.unreadable) == (1, 1, 2)
    assert out.newest_post == RawEvent.model_validate_json(post[2]).created_at


def test_source_runner_to_messages_splits_pages_and_skips_empty_ones():
    listing = json.dumps(load_jsonc("reddit/info_one_link.jsonc")).encode()
    empty = json.dumps(load_jsonc("reddit/info_empty.jsonc")).encode()
    page = fixture("x_search_page.json")
    out = to_messages(Fetched([listing, empty, page]), source="s", topics=TOPICS, now=NOW,
                      max_message_bytes=1_048_576)
    assert out.unreadable == 0 and out.posts == 1 + len(json.loads(page)["data"])
    assert all(m[1] is not None for m in out.messages)


def test_source_runner_to_messages_oversize_becomes_a_bounded_dead_letter():
    post = json.loads(fixture("bluesky_post.json"))
    post["commit"]["record"]["text"] = "y" * 80_000
    big = json.dumps(post).encode()
    out = to_messages(Fetched([big]), source="bluesky:jetstream", topics=TOPICS, now=NOW, max_message_bytes=70_000,
                      limits=Limits(max_text_chars=100_000))
    ((topic, key, value),) = out.messages
    letter = DeadLetter.model_validate_json(value)
    assert topic == "deadletter" and key.decode() == letter.dead_letter_id
    assert letter.error_code == "record_too_large" and letter.source_topic == "bluesky:jetstream"
    assert letter.original_size == len(big) and letter.original == big  # under 256 KiB: kept whole


class Units:
    """A connector that yields the given units, then waits (a live source with nothing new)."""

    network = Network.BLUESKY
    source_id = "bluesky:units"

    def __init__(self, units: list[Fetched]) -> None:
        self.units, self.resumed_from = units, []

    def describe(self) -> str:
        return "units"

    async def stream(self, resume, events):
        self.resumed_from.append(resume)
        start = int(resume["n"]) + 1 if resume else 0
        for unit in self.units[start:]:
            yield unit
        await asyncio.Event().wait()


def post_unit(n: int) -> Fetched:
    post = json.loads(fixture("bluesky_post.json"))
    post["commit"]["rkey"] = f"rk{n}"
    return Fetched([json.dumps(post).encode()], {"n": str(n)})


class HeldAcks(MemoryProducer):
    """Acknowledges only when the test says so, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[asyncio.Future] = []

    async def enqueue(self, messages):
        self.messages.extend(messages)
        future = asyncio.get_running_loop().create_future()
        self.held.append(future)
        return [future]


@in_loop
async def test_source_runner_checkpoint_waits_for_every_earlier_ack():
    producer, checkpoints = HeldAcks(), MemoryCheckpoints()
    runner = SourceRunner(Units([post_unit(n) for n in range(4)]), producer=producer, checkpoints=checkpoints,
                          topics=TOPICS, metrics=SourceMetrics.create(), policy=FAST, checkpoint_seconds=0.01)
    task = asyncio.create_task(runner.run())
    while len(producer.held) < 4:
        await asyncio.sleep(0.01)
    for n in (3, 2, 1):  # the later units are acknowledged first
        producer.held[n].set_result(None)
    await asyncio.sleep(0.1)
    assert checkpoints.saved == [], "nothing is checkpointed while unit 0 waits for its ack"
    producer.held[0].set_result(None)
    while not checkpoints.saved or checkpoints.saved[-1].cursor != {"n": "3"}:
        await asyncio.sleep(0.01)
    assert checkpoints.saved[-1].posts_total == 4
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@in_loop
async def test_source_runner_a_failed_send_is_sent_again_and_the_restart_resumes_after_the_checkpoint():
    producer, checkpoints = MemoryProducer(fail_sends=1), MemoryCheckpoints()
    units = [post_unit(n) for n in range(5)]
    first = Units(units[:3])
    await run_until(SourceRunner(first, producer=producer, checkpoints=checkpoints, topics=TOPICS,
                                 metrics=SourceMetrics.create(), policy=FAST, checkpoint_seconds=0.01),
                    lambda: bool(checkpoints.saved) and checkpoints.saved[-1].cursor == {"n": "2"})
    assert len(set(producer.keys("raw"))) == 3, "the unit whose send failed was sent again"
    second = Units(units)
    resumed = SourceRunner(second, producer=producer, checkpoints=checkpoints, topics=TOPICS,
                           metrics=SourceMetrics.create(), policy=FAST, checkpoint_seconds=0.01)
    await run_until(resumed, lambda: checkpoints.saved[-1].cursor == {"n": "4"})
    assert second.resumed_from == [{"n": "2"}] and resumed.written_cursor == {"n": "4"}
    assert len(producer.keys("raw")) == len(set(producer.keys("raw"))) == 5
    assert checkpoints.saved[-1].posts_total == 5


@in_loop
async def test_source_runner_metrics_count_acknowledged_posts_and_progress():
    metrics, producer = SourceMetrics.create(), MemoryProducer()
    await run_until(SourceRunner(Units([post_unit(0), Fetched([], {"n": "1"})]), producer=producer,
                                 checkpoints=MemoryCheckpoints(), topics=TOPICS, metrics=metrics, policy=FAST,
                                 now=lambda: NOW),
                    lambda: metrics.registry.get_sample_value(
                        "socialpulse_source_progress_timestamp_seconds",
                        {"source": "bluesky:units", "network": "bluesky"}) is not None
                    and len(producer.messages) == 1)
    labels = {"source": "bluesky:units", "network": "bluesky"}
    assert metrics.registry.get_sample_value("socialpulse_source_posts_total", labels) == 1
    behind = metrics.registry.get_sample_value("socialpulse_source_behind_seconds", labels)
    created = RawEvent.model_validate_json(producer.messages[0][2]).created_at
    assert behind == (NOW - created).total_seconds()


def test_source_runner_every_connector_has_a_fake_server_and_help():
    """`socialpulse listen` offers exactly the networks the end-to-end tests run against their fakes."""
    from streams.cli import build_parser
    from streams.sources.connectors import CONNECTORS, connector_module
    from tests.fakes import NETWORKS, fake_for

    assert tuple(CONNECTORS) == NETWORKS
    for network in NETWORKS:
        module = connector_module(network)
        assert "socialpulse listen " + network in module.DESCRIPTION, f"{network}: the real command is in --help"
        assert fake_for(network, count=3).expected_event_ids()
    build_parser().parse_args(["listen", "bluesky"])  # every subcommand registers


@in_loop
async def test_source_runner_listen_stop_cancels_again_when_a_cancellation_is_swallowed():
    """A client library may swallow a cancel that races with its own timeout; SIGTERM must still stop the source."""
    from streams.cli.listen import _run_until_stopped

    swallowed, finished = [], asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.append(1)  # as aiokafka's fetch or aiohttp's timer can: the first cancel is lost
        try:
            await asyncio.sleep(60)
        finally:
            finished.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, stop.set)
    await asyncio.wait_for(_run_until_stopped(stubborn(), stop, recancel_seconds=0.05), 2)
    assert swallowed == [1] and finished.is_set()


@in_loop
async def test_source_runner_listen_work_that_ends_by_itself_raises_its_error():
    from streams.cli.listen import _run_until_stopped

    async def fails() -> None:
        raise RuntimeError("config")

    with pytest.raises(RuntimeError, match="config"):
        await _run_until_stopped(fails(), asyncio.Event())


class RefusesOne(MemoryProducer):
    """A broker that refuses every send holding one given key, as it does a record it finds invalid."""

    def __init__(self, bad_key: bytes) -> None:
        super().__init__()
        self.bad_key = bad_key

    async def enqueue(self, messages):
        from aiokafka.errors import InvalidMessageError

        future = asyncio.get_running_loop().create_future()
        if any(key == self.bad_key for _, key, _ in messages):
            future.set_exception(InvalidMessageError())
        else:
            self.messages.extend(messages)
            future.set_result(None)
        return [future]


@in_loop
async def test_source_runner_a_record_the_broker_keeps_refusing_becomes_a_dead_letter_and_the_rest_goes_on():
    post = json.loads(fixture("bluesky_post.json"))
    page = []
    for n in range(4):
        post["commit"]["rkey"] = f"rk{n}"
        page.append(json.dumps(post).encode())
    units = [Fetched(page, {"n": "0"}), post_unit(9)]
    bad = f"bluesky:at://{post['did']}/app.bsky.feed.post/rk2".encode()
    producer, checkpoints = RefusesOne(bad), MemoryCheckpoints()
    await run_until(SourceRunner(Units(units), producer=producer, checkpoints=checkpoints, topics=TOPICS,
                                 metrics=SourceMetrics.create(), policy=FAST, checkpoint_seconds=0.01),
                    lambda: bool(checkpoints.saved) and checkpoints.saved[-1].cursor == {"n": "9"})
    assert len(set(producer.keys("raw"))) == 4 and bad.decode() not in producer.keys("raw")
    ((_, _, value),) = producer.on("deadletter")
    letter = DeadLetter.model_validate_json(value)
    assert letter.error_code == "processing_failed" and "CorruptRecordException" in letter.error_message
    assert RawEvent.model_validate_json(letter.original).event_id == bad.decode()
