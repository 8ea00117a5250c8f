"""The YouTube commentThreads connector against the fake Data API (tests/fakes/youtube.py), through the real runner."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time

import pytest

from processors.normalizers import detect_and_normalize, explode
from schemas.deadletter import DeadLetter
from schemas.events import RawEvent
from streams.cli.listen import register
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors import youtube
from streams.sources.connectors.base import ConnectorConfigError, RecordedEvents
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.http import Backoffs
from streams.sources.connectors.runner import SourceRunner, SourceTopics
from streams.sources.connectors.youtube import PACIFIC, Target, YouTubeConnector
from tests.fakes.kafka import MemoryProducer, in_loop, run_until
from tests.fakes.youtube import FakeYouTube, errors

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
FAST = RetryPolicy(0.01, 0.05, jitter=False)


@pytest.fixture
def fake():
    with FakeYouTube(count=60, manual=True).running() as server:
        yield server


def targets(server: FakeYouTube, *extra: Target) -> list[Target]:
    return [*(Target("video", v) for v in (*server.videos, *server.disabled)), *extra]


def connector(server: FakeYouTube, *, on: list[Target] | None = None, **kwargs) -> YouTubeConnector:
    kwargs = {"poll_seconds": 0.02, "lookback_minutes": 600, "backoffs": Backoffs().scaled(1000),
              "daily_quota": 1_000_000, **kwargs}
    return YouTubeConnector(on or targets(server), api_key=server.api_key, source_id="youtube:test",
                            api_base=server.api_base, **kwargs)


def runner(conn: YouTubeConnector, producer: MemoryProducer, checkpoints: MemoryCheckpoints) -> SourceRunner:
    return SourceRunner(conn, producer=producer, checkpoints=checkpoints, topics=TOPICS, metrics=SourceMetrics.create(),
                        policy=FAST, checkpoint_seconds=0.05)


def stored(producer: MemoryProducer) -> set[str]:
    return set(producer.keys("raw"))


def ids_of(payloads: list[bytes]) -> list[str]:
    """The event ids of the posts among `payloads` (pages split as the runner splits them; non-JSON skipped)."""
    now = datetime.now(UTC)
    out = []
    for payload in payloads:
        try:
            page = json.loads(payload)
        except ValueError:
            continue
        out += [detect_and_normalize(item, now=now).event_id for item in explode(page)]
    return out


async def read_until(conn: YouTubeConnector, done, *, resume=None, events=None, timeout: float = 10.0) -> list[bytes]:
    """`stream()` without the runner, until `done(payloads)`."""
    got: list[bytes] = []

    async def read() -> None:
        async for fetched in conn.stream(resume, events if events is not None else RecordedEvents()):
            got.extend(fetched.payloads)
            if done(got):
                return

    await asyncio.wait_for(read(), timeout)
    return got


class Sleeps:
    """An injected sleep: records each delay, waits a moment only, and moves a virtual clock by the delay."""

    def __init__(self, start: float | None = None, on_long=None) -> None:
        self.delays: list[float] = []
        self.offset, self.start, self.on_long = 0.0, start, on_long

    def clock(self) -> float:
        assert self.start is not None
        return self.start + self.offset

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.offset += delay
        if self.on_long is not None and delay > 60:
            self.on_long(delay)
        await asyncio.sleep(0.001)


def newest_published(server: FakeYouTube, video: str) -> str:
    return max(t["snippet"]["topLevelComment"]["snippet"]["publishedAt"] for t in server.threads
               if t["snippet"]["videoId"] == video)


@in_loop
async def test_connector_youtube_every_post_once_new_threads_found_by_polling():
    with FakeYouTube(count=80, pace=0.01).running() as server:  # threads keep appearing while it polls
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        want = server.expected_event_ids()
        await run_until(runner(connector(server), producer, checkpoints), lambda: stored(producer) >= want)
        keys = producer.keys("raw")
        assert len(keys) == len(set(keys)) == len(want) and set(keys) == want, "each post once, none lost"
        assert any(RawEvent.model_validate_json(m[2]).reply_to_id for m in producer.on("raw")), "replies come too"
        assert all(m[1] is not None for m in producer.on("raw"))
        first = server.calls[0]
        assert first == {"part": "snippet,replies", "videoId": "dQw4w9WgXcQ", "order": "time", "maxResults": "100",
                         "textFormat": "plainText", "key_ok": True}
        assert sum(c.get("videoId") == "noComments1" for c in server.calls) == 1, "the disabled video is skipped"
        cursor = checkpoints.saved[-1].cursor
        for video in server.videos:
            assert cursor[f"video:{video}"] == newest_published(server, video)
            assert cursor[f"video:{video}:seen"]
        assert cursor["quota_day"] == datetime.now(PACIFIC).date().isoformat()
        assert 0 < int(cursor["quota_used"]) <= len(server.calls)


@in_loop
async def test_connector_youtube_resumes_mid_pages_from_its_checkpoint_with_no_gap():
    with FakeYouTube(count=100, manual=True, page_cap=10).running() as server:
        server.latency = 0.03
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        await run_until(runner(connector(server), producer, checkpoints), lambda: len(stored(producer)) >= 15)
        assert len(stored(producer)) < len(server.expected_event_ids()), "stopped in the middle of the pages"
        server.latency = 0.0
        server.release(1000)
        second = MemoryProducer()
        await run_until(runner(connector(server), second, checkpoints),
                        lambda: stored(producer) | stored(second) >= server.expected_event_ids())
        assert stored(producer) | stored(second) == server.expected_event_ids()


@in_loop
async def test_connector_youtube_resumes_after_a_poll_with_only_what_is_new(fake):
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    first_run = connector(fake)
    visible = {e for e in fake.expected_event_ids() if _position(fake, e) < fake.visible()}
    await run_until(runner(first_run, producer, checkpoints), lambda: stored(producer) >= visible)
    quota_then = int(checkpoints.saved[-1].cursor["quota_used"])
    fake.release(100)
    calls_before = len(fake.calls)
    second = MemoryProducer()
    await run_until(runner(connector(fake), second, checkpoints),
                    lambda: stored(producer) | stored(second) >= fake.expected_event_ids())
    assert stored(second) == fake.expected_event_ids() - stored(producer), "no gap, and nothing read twice"
    assert all("pageToken" not in c for c in fake.calls[calls_before:calls_before + 2])
    assert int(checkpoints.saved[-1].cursor["quota_used"]) > quota_then > 0, "the quota count survived the restart"


def _position(server: FakeYouTube, event_id: str) -> int:
    native = event_id.removeprefix("youtube:").split(".")[0]
    return next(n for n, t in enumerate(server.threads) if t["id"] == native)


@in_loop
async def test_connector_youtube_reconnects_after_a_dropped_connection_and_loses_nothing():
    with FakeYouTube(count=40, manual=True, initial=1000, page_cap=10).running() as server:
        events = RecordedEvents()
        want = server.expected_event_ids()

        def done(payloads: list[bytes]) -> bool:
            if len(server.calls) == 1:
                server.drop_next = 3  # the second page is cut after its third thread
            return set(ids_of(payloads)) >= want

        got = await read_until(connector(server), done, events=events)
        assert sorted(ids_of(got)) == sorted(want), "the cut page is asked again: nothing lost, nothing twice"
        assert events.reasons == ["network"] and events.connections == 2, "connected, lost, connected again"
        assert server.calls[1] == server.calls[2] and "pageToken" in server.calls[1]


@in_loop
async def test_connector_youtube_waits_out_429_and_503_as_retry_after_says(fake):
    fake.fail_next = [(429, 7), (503, 3), (403, None)]
    events, sleeps = RecordedEvents(), Sleeps()
    want = {e for e in fake.expected_event_ids() if _position(fake, e) < fake.visible()}
    await read_until(connector(fake, sleep=sleeps), lambda p: set(ids_of(p)) >= want, events=events)
    assert events.reasons[:3] == ["rate_limited", "http_5xx", "rate_limited"]
    assert events.delays[:2] == [7.0, 3.0] and sleeps.delays[:2] == [7.0, 3.0], "Retry-After, as told"
    assert 0 < events.delays[2] <= 0.06, "403 rateLimitExceeded: the (scaled) rate-limit backoff"
    assert events.quota == len(fake.calls), "every answered call cost its unit, the refused ones too"


@in_loop
async def test_connector_youtube_quota_exceeded_sleeps_until_pacific_midnight():
    with FakeYouTube(count=60, manual=True, initial=1000, page_cap=5, daily_quota=3).running() as server:
        ten_am = datetime.combine(datetime.now(PACIFIC).date(), wall_time(10), tzinfo=PACIFIC)
        sleeps = Sleeps(start=ten_am.timestamp(), on_long=lambda _: setattr(server, "daily_quota", 1_000_000))
        events = RecordedEvents()
        want = server.expected_event_ids()
        conn = connector(server, sleep=sleeps, clock=sleeps.clock, lookback_minutes=24 * 60)
        got = await read_until(conn, lambda p: set(ids_of(p)) >= want, events=events)
        assert set(ids_of(got)) == want
        midnight = datetime.combine(ten_am.date() + timedelta(days=1), wall_time(0), tzinfo=PACIFIC)
        assert events.reasons[0] == "quota"
        assert events.delays[0] == midnight.timestamp() - ten_am.timestamp() == 14 * 3600, "until the reset"
        assert [c.get("pageToken") is not None for c in server.calls][:4] == [False, True, True, True]
        assert server.calls[4]["pageToken"] == server.calls[3]["pageToken"], \
            "the page refused for the quota is asked again after the reset"


@in_loop
async def test_connector_youtube_stops_calling_before_the_budget_and_the_count_survives_a_restart(fake):
    fake.page_cap = 5
    events = RecordedEvents()
    at_long_sleep: list[tuple[int, int, list[str]]] = []
    sleeps = Sleeps(start=datetime.combine(datetime.now(PACIFIC).date(), wall_time(12), tzinfo=PACIFIC).timestamp(),
                    on_long=lambda _: at_long_sleep.append((len(fake.calls), events.quota, list(events.reasons))))
    conn = connector(fake, sleep=sleeps, clock=sleeps.clock, daily_quota=5, quota_reserve=2, lookback_minutes=1440)
    await read_until(conn, lambda _: bool(at_long_sleep), events=events)
    assert at_long_sleep == [(3, 3, ["quota"])], "3 units of budget (5 - 2 reserved): no 4th call before the reset"

    at_long_sleep.clear()
    calls_then = len(fake.calls)
    restarted = connector(fake, sleep=sleeps, clock=sleeps.clock, daily_quota=5, quota_reserve=2)
    today = datetime.fromtimestamp(sleeps.clock(), PACIFIC).date().isoformat()
    events = RecordedEvents()
    await read_until(restarted, lambda _: bool(at_long_sleep), resume={"quota_day": today, "quota_used": "3"},
                     events=events)
    assert at_long_sleep[0][0] == calls_then, "restored from the cursor: the restart waits without calling"


@in_loop
async def test_connector_youtube_skips_disabled_and_missing_targets_and_keeps_the_others(fake, caplog):
    caplog.set_level(logging.WARNING)
    on = [Target("video", "noComments1"), Target("video", "doesNotExst"), Target("channel", "UCnobody0000000000000000"),
          Target("channel", "UC_x5XG1OV2P6uZZ5FSM9Ttw")]
    want = {e for e in fake.expected_event_ids() if _position(fake, e) < fake.visible()}
    got = await read_until(connector(fake, on=on), lambda p: set(ids_of(p)) >= want)
    assert sorted(ids_of(got)) == sorted(want), "the channel brings every video's threads"
    for why in ("commentsDisabled", "videoNotFound", "channelNotFound"):
        assert f": {why} (HTTP" in caplog.text
    with pytest.raises(ConnectorConfigError, match="no video or channel can be read: video:noComments1: "
                                                   "commentsDisabled .*video:doesNotExst: videoNotFound"):
        await read_until(connector(fake, on=on[:2]), lambda _: False)


@pytest.mark.parametrize("key_error", ["keyInvalid", "apiKeyInvalid"])
@in_loop
async def test_connector_youtube_refused_key_is_a_config_error(fake, caplog, key_error):
    caplog.set_level(logging.DEBUG)
    fake.key_error = key_error
    conn = YouTubeConnector(targets(fake), api_key="AIzaWrongKey-000000000000000000000000", source_id="youtube:t",
                            api_base=fake.api_base, backoffs=Backoffs().scaled(1000))
    with pytest.raises(ConnectorConfigError, match="refused the API key .*SOCIALPULSE_SOURCES__YOUTUBE_API_KEY"):
        await read_until(conn, lambda _: False)
    assert len(fake.calls) == 1 and not fake.calls[0]["key_ok"]
    assert "AIzaWrongKey" not in caplog.text


@in_loop
async def test_connector_youtube_malformed_page_is_forwarded_and_asked_again(fake):
    fake.malformed_next = 1
    producer = MemoryProducer()
    want = {e for e in fake.expected_event_ids() if _position(fake, e) < fake.visible()}
    await run_until(runner(connector(fake), producer, MemoryCheckpoints()), lambda: stored(producer) >= want)
    unkeyed = [m for m in producer.on("raw") if m[1] is None]
    assert len(unkeyed) == 1 and unkeyed[0][2].startswith(b'{"kind": "youtube#commentThreadListResponse"')
    with pytest.raises(ValueError):
        json.loads(unkeyed[0][2])
    keys = producer.keys("raw")
    assert len(keys) == len(set(keys)) and set(keys) == want


@in_loop
async def test_connector_youtube_oversize_thread_becomes_a_dead_letter_and_costs_no_post():
    server = FakeYouTube(count=30, manual=True, initial=1000)
    server.oversize_at = {4}
    with server.running():
        producer = MemoryProducer()
        want = server.expected_event_ids()
        await run_until(runner(connector(server), producer, MemoryCheckpoints()),
                        lambda: stored(producer) >= want and producer.on("deadletter"))
        (letter,) = producer.on("deadletter")
        dead = DeadLetter.model_validate_json(letter[2])
        assert dead.error_code == "record_too_large" and dead.original_size > 1_200_000 and dead.truncated
        keys = producer.keys("raw")
        assert len(keys) == len(set(keys)) and set(keys) == want
        assert not server.oversize_event_ids() & set(keys)


@in_loop
async def test_connector_youtube_expired_page_token_reads_the_target_again_without_duplicates():
    with FakeYouTube(count=40, manual=True, initial=1000, page_cap=4).running() as server:
        server.expire_tokens_next = 1
        want = server.expected_event_ids()
        got = await read_until(connector(server), lambda p: set(ids_of(p)) >= want)
        assert sorted(ids_of(got)) == sorted(want)
        refused = next(n for n, c in enumerate(server.calls) if "pageToken" in c)
        assert "pageToken" not in server.calls[refused + 1], "read again from the newest"


@in_loop
async def test_connector_youtube_credentials_never_in_logs_errors_or_describe(fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.fail_next, fake.drop_next, fake.malformed_next = [(503, 0)], 2, 1
    conn = connector(fake, on=targets(fake)[::-1])  # the disabled video first: its refusal is logged too
    want = {e for e in fake.expected_event_ids() if _position(fake, e) < fake.visible()}
    await read_until(conn, lambda p: set(ids_of(p)) >= want)
    fake.key_error = "keyInvalid"
    wrong = YouTubeConnector(targets(fake), api_key="AIzaOtherSecret-1111", source_id="youtube:t",
                             api_base=fake.api_base)
    with pytest.raises(ConnectorConfigError) as refused:
        await read_until(wrong, lambda _: False)
    assert "retrying" in caplog.text and "skipping video noComments1" in caplog.text, "the faults were logged"
    for secret in (fake.api_key, "AIzaOtherSecret-1111"):
        assert secret not in caplog.text and secret not in str(refused.value)
        assert secret not in conn.describe() and secret not in wrong.describe() and secret not in repr(conn.__dict__)


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["listen", "youtube", *argv])


def test_connector_youtube_from_args_options_source_id_and_missing_key(tmp_path):
    with_key = SourcesSettings(youtube_api_key="AIzaFromEnv")
    conn = youtube.from_args(_args(["--video", "dQw4w9WgXcQ", "--video", "dQw4w9WgXcQ", "--channel",
                                    "UC_x5XG1OV2P6uZZ5FSM9Ttw", "--poll-seconds", "30"]), with_key)
    assert conn.source_id == "youtube:dQw4w9WgXcQ,UC_x5XG1OV2P6uZZ5FSM9Ttw"
    assert conn.targets == (Target("video", "dQw4w9WgXcQ"), Target("channel", "UC_x5XG1OV2P6uZZ5FSM9Ttw"))
    assert (conn.poll_seconds, conn.daily_quota, conn.quota_reserve, conn.api_base) == \
        (30.0, 10_000, 500, "https://www.googleapis.com/youtube/v3")
    assert youtube.from_args(_args(["--video", "dQw4w9WgXcQ", "--source-id", "mine"]), with_key).source_id == "mine"
    many = youtube.from_args(_args([a for i in range(12) for a in ("--video", f"video{i:06d}")]), with_key)
    assert many.source_id.startswith("youtube:video000000,video000001,+10-") and len(many.source_id) < 60
    key_file = tmp_path / "key"
    key_file.write_text("AIzaFromFile\n")
    from_file = youtube.from_args(_args(["--video", "dQw4w9WgXcQ"]), SourcesSettings(youtube_api_key_file=key_file))
    assert from_file._key.get_secret_value() == "AIzaFromFile"
    with pytest.raises(ConnectorConfigError, match="SOCIALPULSE_SOURCES__YOUTUBE_API_KEY .or "
                                                   "SOCIALPULSE_SOURCES__YOUTUBE_API_KEY_FILE"):
        youtube.from_args(_args(["--video", "dQw4w9WgXcQ"]), SourcesSettings())
    with pytest.raises(ConnectorConfigError, match="--video ID and/or --channel ID"):
        youtube.from_args(_args([]), with_key)
    with pytest.raises(ConnectorConfigError, match="not a YouTube id"):
        youtube.from_args(_args(["--video", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"]), with_key)
    with pytest.raises(ConnectorConfigError, match="quota-reserve"):
        youtube.from_args(_args(["--video", "dQw4w9WgXcQ", "--quota-reserve", "10000"]), with_key)
    assert "AIzaFromEnv" not in conn.describe()
    assert "socialpulse listen youtube --video dQw4w9WgXcQ --metrics-port 9105" in youtube.DESCRIPTION


@pytest.mark.parametrize(("name", "worked", "verdict"), [
    ("keyInvalid", False, "key"), ("apiKeyInvalid", False, "key"), ("missingKey", False, "key"),
    ("missingKey", True, "target"), ("quotaExceeded", False, "quota"), ("commentsDisabled", True, "target"),
    ("videoNotFound", True, "target"), ("channelNotFound", True, "target"), ("invalidPageToken", True, "stale_page"),
    ("rateLimitExceeded", True, "retry"), ("backendError", True, "retry"),
])
def test_connector_youtube_documented_errors_are_classified(name, worked, verdict):
    body = errors()[name]
    got, reason = youtube._verdict(body["error"]["code"], json.dumps(body).encode(), key_worked=worked)
    assert got.value == verdict
    assert reason in {e.get("reason") for e in body["error"].get("errors", []) + body["error"].get("details", [])}
