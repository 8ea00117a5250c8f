"""The Mastodon connector against the fake instance (tests/fakes/mastodon.py), through the runner or its stream()."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from processors.normalizers import detect_and_normalize
from schemas.deadletter import DeadLetter
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import Settings, SourcesSettings
from streams.sources.connectors import mastodon
from streams.sources.connectors.base import ConnectorConfigError, RecordedEvents
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.http import Backoffs
from streams.sources.connectors.mastodon import MastodonConnector, mastodon_rate_limit_reset
from streams.sources.connectors.runner import SourceRunner, SourceTopics
from tests.fakes.kafka import MemoryProducer, in_loop, run_until
from tests.fakes.mastodon import TOKEN, FakeMastodon

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
FAST = RetryPolicy(0.01, 0.05, jitter=False)
BACKOFFS = Backoffs(network=FAST, server=FAST, rate_limited=FAST)


@pytest.fixture
def fake():
    with FakeMastodon(count=40).running() as server:
        yield server


class Sleeps:
    """An injected sleep: records each delay, waits at most 10 ms of it (and runs `hook` first, if any)."""

    def __init__(self, hook=None) -> None:
        self.delays: list[float] = []
        self.hook = hook

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.hook is not None:
            self.hook(delay)
        await asyncio.sleep(min(delay, 0.01))


def connector(server: FakeMastodon, token: str | None = TOKEN, **kwargs) -> MastodonConnector:
    kwargs.setdefault("stream", server.stream)
    kwargs.setdefault("tag", server.tag)
    kwargs.setdefault("list_id", server.list_id)
    return MastodonConnector(kwargs.pop("instance", server.base_url), token=SecretStr(token) if token else None,
                             backoffs=BACKOFFS, **kwargs)


def runner(conn: MastodonConnector, producer: MemoryProducer, checkpoints: MemoryCheckpoints) -> SourceRunner:
    return SourceRunner(conn, producer=producer, checkpoints=checkpoints, topics=TOPICS, metrics=SourceMetrics.create(),
                        policy=FAST, checkpoint_seconds=0.05)


def stored(producer: MemoryProducer) -> set[str]:
    return set(producer.keys("raw"))


def before_all(server: FakeMastodon) -> dict[str, str]:
    """A resume cursor just before the first served status: backfill reads everything."""
    return {"since_id": str(int(server.statuses[0]["id"]) - 1)}


async def read(conn: MastodonConnector, resume, events, done, timeout: float = 5.0) -> list:
    """stream() directly: the units, until done(units)."""
    units: list = []

    async def go() -> None:
        async for fetched in conn.stream(resume, events):
            units.append(fetched)
            if done(units):
                return

    await asyncio.wait_for(go(), timeout)
    return units


def event_ids(units) -> set[str]:
    now = datetime.now(UTC)
    out = set()
    for unit in units:
        for payload in unit.payloads:
            try:
                out.add(detect_and_normalize(json.loads(payload), now=now).event_id)
            except Exception:  # noqa: BLE001 - deletions, malformed frames
                pass
    return out


@in_loop
async def test_connector_mastodon_every_post_once_deletions_on_their_topic(fake):
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    conn = connector(fake)
    want = fake.expected_event_ids()
    await run_until(runner(conn, producer, checkpoints),
                    lambda: stored(producer) >= want and len(producer.on("deletions")) == len(fake.deleted))
    keys = producer.keys("raw")
    assert len(keys) == len(set(keys)) == len(want) and set(keys) == want
    assert set(producer.keys("deletions")) == fake.expected_deletion_ids()
    assert conn.instance == f"127.0.0.1:{fake.port}" and conn.source_id == f"mastodon:{conn.instance}:public:local"
    (handshake,) = fake.ws_connections
    assert handshake["query"] == {"stream": "public:local"}, "no access_token in the query string"
    assert handshake["authorization"] == f"Bearer {TOKEN}"
    assert fake.timeline_requests == [], "no checkpoint: the stream starts at the present, no backfill"
    last = checkpoints.saved[-1]
    assert last.cursor == {"since_id": fake.statuses[-1]["id"]} and last.posts_total == len(want)


@in_loop
async def test_connector_mastodon_resumes_from_its_checkpoint_with_no_gap():
    with FakeMastodon(count=60, pace=0.01).running() as fake:
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        await run_until(runner(connector(fake), producer, checkpoints), lambda: len(stored(producer)) >= 20)
        saved = checkpoints.saved[-1]
        assert 20 <= saved.posts_total < len(fake.expected_event_ids())
        await asyncio.sleep(0.1)  # statuses keep being published while nothing listens
        second = MemoryProducer()
        await run_until(runner(connector(fake), second, checkpoints),
                        lambda: stored(producer) | stored(second) >= fake.expected_event_ids())
        assert fake.timeline_requests[0]["query"]["min_id"] == saved.cursor["since_id"], "backfills from the cursor"
        assert stored(producer) | stored(second) == fake.expected_event_ids()
        assert len(stored(second)) < len(fake.expected_event_ids()), "the restart did not start from the beginning"


@in_loop
async def test_connector_mastodon_backfill_pages_forward_with_min_id_then_streams():
    with FakeMastodon(count=100, deletions_every=0).running() as fake:
        fake.start_publishing()
        assert len(fake.published) == 100
        events, seen = RecordedEvents(), len(fake.requests)
        units = await read(connector(fake), before_all(fake), events,
                           lambda u: len(fake.ws_connections) == 1 and len(fake.timeline_requests) == 4)
        first = [r for r in fake.timeline_requests if r["path"] == "/api/v1/timelines/public"]
        assert all(r["query"]["local"] == "true" and r["query"]["limit"] == "40" for r in first)
        # pages of 40, then 20 (short: caught up before connecting), then an empty page after connecting
        assert [r["query"]["min_id"] for r in first[:4]] == [
            before_all(fake)["since_id"], fake.statuses[39]["id"], fake.statuses[79]["id"], fake.statuses[99]["id"]]
        for request, following in zip(first, first[1:], strict=False):
            assert f"min_id={following['query']['min_id']}>; rel=\"prev\"" in request["link"], "the Link's cursor"
        assert first[3]["link"] is None
        paths = [r.path.rsplit("/", 1)[-1] for r in fake.requests[seen:] if "instance" not in r.path]
        assert paths == ["public", "public", "public", "streaming", "public"], "the socket opens before the last page"
        ids = [json.loads(p)["id"] for u in units for p in u.payloads]
        assert ids == [s["id"] for s in fake.statuses], "each status once, in id order"
        cursors = [int(u.cursor["since_id"]) for u in units if u.cursor]
        assert cursors == sorted(cursors) and cursors[-1] == int(fake.statuses[-1]["id"])
        assert events.connections == 1 and events.reasons == []


@in_loop
async def test_connector_mastodon_dropped_connection_reconnects_and_backfills_the_gap():
    with FakeMastodon(count=40, pace=0.005).running() as fake:
        fake.drop_after = 12
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        conn = connector(fake)
        events = RecordedEvents()
        stream = conn.stream

        def recording(resume, _events):  # the runner's events go to metrics; record them here as well
            return stream(resume, events)

        conn.stream = recording
        await run_until(runner(conn, producer, checkpoints), lambda: stored(producer) >= fake.expected_event_ids())
        assert stored(producer) == fake.expected_event_ids()
        assert len(fake.ws_connections) == 2 and events.reasons == ["closed"], events.reasons
        assert events.delays == [0.01]
        # the 12 frames before the drop: 10 statuses, a delete, a status
        assert fake.timeline_requests[0]["query"]["min_id"] == fake.statuses[10]["id"], "backfilled from there"


@in_loop
async def test_connector_mastodon_waits_out_429_and_503_as_retry_after_says(fake):
    fake.start_publishing()
    fake.refuse_rest, fake.refuse_ws, fake.retry_after = [429, 503], [503, 429], 3
    events, sleeps = RecordedEvents(), Sleeps()
    conn = connector(fake, sleep=sleeps)
    units = await read(conn, before_all(fake), events,
                       lambda u: any(c["answer"] == 101 for c in fake.ws_connections))
    assert event_ids(units) == fake.expected_event_ids()
    assert events.reasons == ["rate_limited", "http_5xx", "http_5xx", "rate_limited"]
    assert events.delays == [3.0, 3.0, 3.0, 3.0] and sleeps.delays == [3.0, 3.0, 3.0, 3.0]
    assert [c["answer"] for c in fake.ws_connections[-3:]] == [503, 429, 101]


@in_loop
async def test_connector_mastodon_429_without_retry_after_waits_for_x_ratelimit_reset(fake):
    fake.start_publishing()
    reset = datetime(2030, 1, 1, 12, 0, 0, 304384, tzinfo=UTC)
    fake.refuse_rest, fake.retry_after, fake.reset_at = [429], None, reset
    events, sleeps = RecordedEvents(), Sleeps()
    conn = connector(fake, sleep=sleeps, clock=lambda: reset.timestamp() - 7.0)
    await read(conn, before_all(fake), events, lambda u: event_ids(u) >= fake.expected_event_ids())
    assert events.reasons == ["rate_limited"] and events.delays == [pytest.approx(7.0)]


@in_loop
async def test_connector_mastodon_spent_budget_waits_for_the_reset_before_asking_again(fake):
    fake.start_publishing()
    reset = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    fake.rate_limit, fake.reset_at = 1, reset
    fake.reset_budget()
    events, sleeps = RecordedEvents(), Sleeps(hook=lambda delay: fake.reset_budget())  # the wait ends the window
    conn = connector(fake, sleep=sleeps, clock=lambda: reset.timestamp() - 12.5)
    units = await read(conn, before_all(fake), events, lambda u: len(fake.ws_connections) == 1 and len(u) >= 3)
    assert event_ids(units) == fake.expected_event_ids()
    assert len(fake.timeline_requests) == 3, "a full page, an empty one, the socket, an empty one"
    assert events.reasons == ["rate_limited", "rate_limited"] and events.delays == [pytest.approx(12.5)] * 2
    assert all(r["status"] == 200 for r in fake.timeline_requests), "the client waited instead of being refused"


@in_loop
async def test_connector_mastodon_malformed_and_oversize_frames_cost_no_post(fake):
    fake.malformed_at, fake.oversize_at = {3}, {8}
    producer = MemoryProducer()
    await run_until(runner(connector(fake), producer, MemoryCheckpoints()),
                    lambda: stored(producer) >= fake.expected_event_ids() and producer.on("deadletter"))
    unkeyed = [m[2] for m in producer.on("raw") if m[1] is None]
    assert unkeyed == [b'{"stream": ["public:local"], "event": "update", "payload": "{'], "kept byte for byte"
    (letter,) = producer.on("deadletter")
    dead = DeadLetter.model_validate_json(letter[2])
    assert dead.error_code == "record_too_large" and dead.original_size > 1_200_000 and dead.truncated
    assert stored(producer) == fake.expected_event_ids()


@in_loop
async def test_connector_mastodon_malformed_timeline_body_is_dead_lettered_and_asked_again(fake):
    fake.start_publishing()
    fake.rest_malformed = 1
    producer = MemoryProducer()
    checkpoints = MemoryCheckpoints()
    conn = connector(fake)
    from schemas.source_checkpoint import SourceCheckpoint

    await checkpoints.save(SourceCheckpoint(source=conn.source_id, network=conn.network, cursor=before_all(fake),
                                            written_at=datetime.now(UTC), posts_total=0))
    await run_until(runner(conn, producer, checkpoints), lambda: stored(producer) >= fake.expected_event_ids())
    assert [m[2] for m in producer.on("raw") if m[1] is None] == [b"<html>502 Bad Gateway</html>"]
    assert stored(producer) == fake.expected_event_ids()


@pytest.mark.parametrize("resume", [None, "checkpoint"])
@in_loop
async def test_connector_mastodon_refused_token_is_a_config_error_naming_the_variable(fake, resume):
    conn = connector(fake, token="not-the-token")
    with pytest.raises(ConnectorConfigError, match="SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN"):
        await read(conn, before_all(fake) if resume else None, RecordedEvents(), lambda u: False)
    assert "not-the-token" not in conn.describe()


@in_loop
async def test_connector_mastodon_without_token_polls_the_timeline_where_streaming_needs_one(fake):
    fake.start_publishing()
    events, sleeps = RecordedEvents(), Sleeps()
    conn = connector(fake, token=None, poll_seconds=2.5, sleep=sleeps)
    units = await read(conn, before_all(fake), events, lambda u: len(sleeps.delays) >= 2)
    assert event_ids(units) == fake.expected_event_ids()
    assert [c["answer"] for c in fake.ws_connections] == [401] and events.reasons == []
    assert set(sleeps.delays) == {2.5}, "one poll every --poll-seconds"
    assert all(r["authorization"] is None for r in fake.timeline_requests)
    assert events.connections == 1


@in_loop
async def test_connector_mastodon_without_token_and_no_public_preview_is_a_config_error(fake):
    fake.public_preview = False
    conn = connector(fake, token=None)
    with pytest.raises(ConnectorConfigError, match="set SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN"):
        await read(conn, None, RecordedEvents(), lambda u: False)


@pytest.mark.parametrize(("stream", "feeds", "token", "error"), [
    ("public:local", {"live_feeds": {"local": "authenticated", "remote": "public"}}, None, "logged-in users only"),
    ("public", {"live_feeds": {"local": "disabled", "remote": "disabled"}}, TOKEN, "has disabled the feed"),
    ("hashtag", {"hashtag_feeds": {"local": "authenticated", "remote": "authenticated"}}, None, "set SOCIALPULSE"),
    ("public:local", {"live_feeds": {"local": "authenticated", "remote": "disabled"}}, TOKEN, None),
    ("public", {"live_feeds": {"local": "public", "remote": "disabled"}}, None, None),
])
@in_loop
async def test_connector_mastodon_feed_the_instance_does_not_show_is_a_config_error(stream, feeds, token, error):
    with FakeMastodon(count=3, stream=stream).running() as fake:
        fake.timelines_access, fake.require_token_for_streaming = feeds, False
        conn = connector(fake, token=token)
        if error is None:
            await read(conn, None, RecordedEvents(), lambda u: bool(u))
            return
        with pytest.raises(ConnectorConfigError, match=error):
            await read(conn, None, RecordedEvents(), lambda u: False)
        assert fake.ws_connections == []


@in_loop
async def test_connector_mastodon_refused_subscription_is_a_config_error():
    with FakeMastodon(count=5, stream="list", list_id="12249").running() as fake:
        conn = connector(fake, list_id="777")
        with pytest.raises(ConnectorConfigError, match="Not authorized to stream this list"):
            await read(conn, None, RecordedEvents(), lambda u: False)
        with pytest.raises(ConnectorConfigError, match="list 777 does not exist"):
            await read(conn, {"since_id": "1"}, RecordedEvents(), lambda u: False)


@in_loop
async def test_connector_mastodon_hashtag_stream_and_its_timeline():
    with FakeMastodon(count=20, stream="hashtag", tag="coffee").running() as fake:
        producer = MemoryProducer()
        conn = connector(fake, tag="#Coffee")
        assert conn.source_id == f"mastodon:127.0.0.1:{fake.port}:hashtag:coffee"
        checkpoints = MemoryCheckpoints()
        await run_until(runner(conn, producer, checkpoints), lambda: stored(producer) >= fake.expected_event_ids())
        assert fake.ws_connections[0]["query"] == {"stream": "hashtag", "tag": "Coffee"}
        await read(conn, checkpoints.saved[-1].cursor, RecordedEvents(), lambda u: len(fake.ws_connections) > 1)
        assert fake.timeline_requests[0]["path"] == "/api/v1/timelines/tag/Coffee"
        assert "local" not in fake.timeline_requests[0]["query"]


@in_loop
async def test_connector_mastodon_idle_socket_is_closed_and_reopened(fake):
    fake.ping_seconds = None  # a socket that says nothing, not even pings
    events = RecordedEvents()
    conn = connector(fake, idle_timeout=0.3)
    await read(conn, None, events, lambda u: len(fake.ws_connections) >= 2 and event_ids(u), timeout=5)
    assert events.reasons[0] == "idle"


@pytest.mark.parametrize(("api", "expected_host"), [("v2", "127.0.0.1"), ("v1", "127.0.0.1"), ("none", "localhost")])
@in_loop
async def test_connector_mastodon_finds_the_streaming_host_from_the_instance_endpoint(fake, api, expected_host):
    fake.instance_api, fake.streaming_url = api, fake.ws_url  # the instance names 127.0.0.1; we ask at localhost
    conn = connector(fake, instance=f"http://localhost:{fake.port}")
    await read(conn, None, RecordedEvents(), lambda u: bool(u))
    assert fake.ws_connections[-1]["host"] == f"{expected_host}:{fake.port}"
    assert conn.instance == f"localhost:{fake.port}"


@in_loop
async def test_connector_mastodon_never_logs_or_describes_the_token(fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.drop_after, fake.refuse_ws, fake.refuse_rest, fake.retry_after = 5, [503], [503], None
    producer = MemoryProducer()
    conn = connector(fake)
    await run_until(runner(conn, producer, MemoryCheckpoints()), lambda: stored(producer) >= fake.expected_event_ids())
    assert "reconnecting" in caplog.text and "retrying" in caplog.text, "the refusals and the drop were logged"
    assert TOKEN not in caplog.text and TOKEN not in conn.describe() and TOKEN not in conn.source_id
    assert "with an access token" in conn.describe()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    mastodon.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.source_id = None
    return args


def test_connector_mastodon_from_args_checks_the_options():
    sources = SourcesSettings()
    conn = mastodon.from_args(parse("--instance", "mastodon.social", "--stream", "public:local"), sources)
    assert (conn.base, conn.instance, conn.source_id) == (
        "https://mastodon.social", "mastodon.social", "mastodon:mastodon.social:public:local")
    assert "without a token" in conn.describe()
    with pytest.raises(ConnectorConfigError, match="SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN"):
        mastodon.from_args(parse("--instance", "https://mastodon.social", "--stream", "list", "--list-id", "5"),
                           sources)
    listed = mastodon.from_args(parse("--instance", "https://mastodon.social", "--stream", "list", "--list-id", "5"),
                                SourcesSettings(mastodon_access_token=SecretStr("s3cret")))
    assert listed.source_id == "mastodon:mastodon.social:list:5" and "s3cret" not in listed.describe()
    for argv in (["--stream", "hashtag"], ["--tag", "x"], ["--stream", "public", "--list-id", "3"]):
        with pytest.raises(ConnectorConfigError):
            mastodon.from_args(parse("--instance", "https://mastodon.social", *argv), sources)
    with pytest.raises(ConnectorConfigError, match="--instance"):
        mastodon.from_args(parse("--instance", "https://mastodon.social/@Gargron"), sources)


@pytest.mark.parametrize(("value", "seconds"), [
    ("2022-11-21T21:00:00.304384Z", 0.304384 + 10), ("2022-11-21T21:00:00+00:00", 10.0), ("2022-11-21T21:00:00", 10.0),
    ("2022-11-21T20:00:00Z", 0.0), ("soon", None), ("", None)])
def test_connector_mastodon_rate_limit_reset_reads_the_iso_time(value, seconds):
    now = datetime(2022, 11, 21, 20, 59, 50, tzinfo=UTC).timestamp()
    got = mastodon_rate_limit_reset({"x-ratelimit-reset": value}, now)
    assert got == (pytest.approx(seconds) if seconds is not None else None)


@in_loop
async def test_connector_mastodon_listen_args_and_env_of_the_fake_make_a_working_connector(monkeypatch):
    """What the end-to-end tests use: `socialpulse listen mastodon <listen_args()>` with env() delivers every post."""
    with FakeMastodon(count=30).running() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        parser = argparse.ArgumentParser()
        mastodon.add_arguments(parser)
        args = parser.parse_args(fake.listen_args())
        args.source_id = None
        conn = mastodon.from_args(args, Settings().sources)
        conn.backoffs = BACKOFFS
        producer = MemoryProducer()
        await run_until(runner(conn, producer, MemoryCheckpoints()),
                        lambda: stored(producer) >= fake.expected_event_ids()
                        and set(producer.keys("deletions")) >= fake.expected_deletion_ids())
        assert stored(producer) == fake.expected_event_ids()
        assert set(producer.keys("deletions")) == fake.expected_deletion_ids()
        assert fake.ws_connections[0]["authorization"] == f"Bearer {TOKEN}"


@in_loop
async def test_connector_mastodon_back_pressure_stops_reading_the_socket_while_acks_wait(fake):
    """With acks withheld, the runner takes no more than max_in_flight messages from the connector."""

    class Stalled(MemoryProducer):
        async def enqueue(self, messages):
            self.messages.extend(messages)
            return [asyncio.get_running_loop().create_future()]  # never acknowledged

    producer = Stalled()
    r = SourceRunner(connector(fake), producer=producer, checkpoints=MemoryCheckpoints(), topics=TOPICS,
                     metrics=SourceMetrics.create(), policy=FAST, max_in_flight=5)
    task = asyncio.create_task(r.run())
    await asyncio.sleep(0.5)
    assert len(producer.messages) == 5 and fake.frames_sent > 5, "reading paused at the bound; frames wait unread"
    task.cancel()
    await asyncio.wait([task], timeout=0.5)  # settling waits for acks that never come: the stop is a second cancel
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
