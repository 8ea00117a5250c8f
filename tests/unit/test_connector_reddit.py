"""The Reddit connector against the fake Reddit (tests/fakes/reddit.py), through the real runner and directly."""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging

import pytest
from pydantic import SecretStr

from schemas.deadletter import DeadLetter
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors.base import ConnectorConfigError, RecordedEvents
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.http import Backoffs
from streams.sources.connectors.reddit import (
    DESCRIPTION,
    RedditConnector,
    add_arguments,
    default_source_id,
    from_args,
    reddit_rate_limit_reset,
)
from streams.sources.connectors.runner import SourceRunner, SourceTopics
from tests.fakes.kafka import MemoryProducer, in_loop, run_until
from tests.fakes.reddit import CLIENT_ID, CLIENT_SECRET, USER_AGENT, FakeReddit
from tests.unit.fixture_files import load_jsonc

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
POLICY = RetryPolicy(0.01, 0.05, jitter=False)
FAST = Backoffs().scaled(1000)


class Sleeps:
    """The connector's injected sleep: remembers each delay, sleeps at most `cap` seconds of it."""

    def __init__(self, cap: float = 0.0) -> None:
        self.delays: list[float] = []
        self.cap = cap

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(min(delay, self.cap))


@pytest.fixture
def reddit():
    with FakeReddit(count=45, per_poll=8).running() as server:
        yield server


def connector(server: FakeReddit, **kwargs) -> RedditConnector:
    options = {"client_id": SecretStr(CLIENT_ID), "client_secret": SecretStr(CLIENT_SECRET),
               "user_agent": USER_AGENT, "subreddits": server.subreddits, "api_base": server.base_url,
               "auth_url": f"{server.base_url}/api/v1/access_token", "poll_seconds": 0.01, "backoffs": FAST,
               "sleep": Sleeps(), "source_id": "reddit:test", **kwargs}
    return RedditConnector(**options)


def runner(conn: RedditConnector, producer: MemoryProducer, checkpoints: MemoryCheckpoints) -> SourceRunner:
    return SourceRunner(conn, producer=producer, checkpoints=checkpoints, topics=TOPICS,
                        metrics=SourceMetrics.create(), policy=POLICY, checkpoint_seconds=0.05)


def stored(producer: MemoryProducer) -> set[str]:
    return set(producer.keys("raw"))


async def read(conn: RedditConnector, until, events: RecordedEvents | None = None, resume=None, timeout=10.0):
    """Payloads and cursors straight from `stream()` until `until(payloads, cursors)`."""
    payloads: list[bytes] = []
    cursors: list[dict] = []

    async def go() -> None:
        async for fetched in conn.stream(resume, events or RecordedEvents()):
            payloads.extend(fetched.payloads)
            if fetched.cursor is not None:
                cursors.append(dict(fetched.cursor))
            if until(payloads, cursors):
                return

    await asyncio.wait_for(go(), timeout)
    return payloads, cursors


@in_loop
async def test_connector_reddit_every_post_and_comment_once_through_the_runner(reddit):
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    want = reddit.expected_event_ids()
    await run_until(runner(connector(reddit), producer, checkpoints), lambda: stored(producer) >= want)
    keys = producer.keys("raw")
    assert len(keys) == len(set(keys)) == len(want) and set(keys) == want, "each once, none missing"
    assert {k.split(":")[1][:2] for k in keys} == {"t1", "t3"}
    assert not producer.on("deadletter") and all(m[1] is not None for m in producer.on("raw"))
    last = checkpoints.saved[-1]
    newest = {kind: max((t for t in reddit.things if t["kind"] == kind), key=lambda t: t["data"]["created_utc"])
              for kind in ("t3", "t1")}
    assert last.cursor["new"] == newest["t3"]["data"]["name"]
    assert last.cursor["comments"] == newest["t1"]["data"]["name"]
    assert float(last.cursor["new_utc"]) == newest["t3"]["data"]["created_utc"]
    assert last.posts_total == len(want)
    token_call = reddit.calls[0]
    assert token_call["path"] == "/api/v1/access_token" and token_call["method"] == "POST"
    assert token_call["form"] == {"grant_type": "client_credentials"}
    assert token_call["authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    api = reddit.api_calls()
    assert {c["path"] for c in api} == {"/r/technology/new", "/r/technology/comments"}
    assert all(c["query"]["limit"] == "100" and c["query"]["raw_json"] == "1" for c in api)
    assert all(c["user_agent"] == USER_AGENT and c["authorization"].startswith("bearer -") for c in api)
    assert reddit.tokens_issued == 1


@in_loop
async def test_connector_reddit_resumes_from_its_checkpoint_with_no_gap(reddit):
    producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
    await run_until(runner(connector(reddit, poll_seconds=0.1, sleep=Sleeps(cap=0.1)), producer, checkpoints),
                    lambda: len(stored(producer)) >= 15)
    saved = checkpoints.saved[-1]
    assert 15 <= saved.posts_total < len(reddit.expected_event_ids())
    reddit.show(25)  # posted while the connector was down: more than one poll's worth
    calls_before = len(reddit.api_calls())
    second = MemoryProducer()
    await run_until(runner(connector(reddit), second, checkpoints),
                    lambda: stored(producer) | stored(second) >= reddit.expected_event_ids())
    assert stored(producer) | stored(second) == reddit.expected_event_ids(), "no gap"
    assert len(stored(second)) < len(reddit.expected_event_ids()), "the restart did not start from the beginning"
    assert not stored(producer) & stored(second), "nothing read twice: the checkpoint was written on the stop"
    first_after_restart = reddit.api_calls()[calls_before]
    assert "after" not in first_after_restart["query"] and "before" not in first_after_restart["query"]


@in_loop
async def test_connector_reddit_pages_back_to_an_older_checkpoint_as_after_a_kill():
    """A kill -9 leaves an older checkpoint: more than a page of things newer than it must be paged back to."""
    with FakeReddit(count=600, per_poll=60).running() as reddit:
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        await run_until(runner(connector(reddit), producer, checkpoints), lambda: len(stored(producer)) >= 60)
        killed_at = checkpoints.saved[-1]
        reddit.show(400)  # 267 submissions and 133 comments appear while the connector is dead
        reddit.delete(killed_at.cursor["new"])  # and its newest submission is deleted: `before=` would break here
        second, calls = MemoryProducer(), len(reddit.api_calls())
        await run_until(runner(connector(reddit), second, MemoryCheckpoints(killed_at)),
                        lambda: stored(producer) | stored(second) >= reddit.expected_event_ids() - deleted(reddit))
        got = stored(producer) | stored(second)
        assert got >= reddit.expected_event_ids() - deleted(reddit), "no gap after the older checkpoint"
        paged = [c for c in reddit.api_calls()[calls:] if c["path"] == "/r/technology/new" and "after" in c["query"]]
        assert len(paged) >= 2, "paged back with after= (100 a page) to reach the checkpoint"
        keys = second.keys("raw")
        assert len(keys) == len(set(keys)), "each thing once per run"


def deleted(reddit: FakeReddit) -> set[str]:
    listed = {t["data"]["name"] for t in reddit._shown}
    return {f"reddit:{t['data']['name']}" for t in reddit.things[: reddit.shown] if t["data"]["name"] not in listed}


def listed(reddit: FakeReddit) -> set[str]:
    """The event ids of the things listed now (shown so far, not deleted)."""
    return {f"reddit:{t['data']['name']}" for t in reddit._shown if not t["data"]["id"].startswith("big")}


@in_loop
async def test_connector_reddit_a_dropped_connection_is_retried_and_loses_nothing(reddit):
    reddit.show(12)
    reddit.drop_after = 3
    events = RecordedEvents()
    conn = connector(reddit)
    payloads, _ = await read(conn, lambda p, c: len(p) >= len(reddit.expected_event_ids()), events)
    assert "network" in events.reasons, "the cut body was a network fault, retried"
    assert reddit.drop_after is None
    ids = {p.split(b'"name":"')[1].split(b'"')[0].decode() for p in payloads}
    assert {f"reddit:{i}" for i in ids} == reddit.expected_event_ids() and len(ids) == len(payloads)


@in_loop
async def test_connector_reddit_waits_out_429_and_503_as_retry_after_says(reddit):
    reddit.fail_next = [(429, 7), (503, 3)]
    events, sleeps = RecordedEvents(), Sleeps()
    await read(connector(reddit, sleep=sleeps), lambda p, c: len(p) >= 5, events)
    assert events.reasons[:2] == ["rate_limited", "http_5xx"]
    assert events.delays[:2] == [7.0, 3.0]
    assert sleeps.delays[:2] == [7.0, 3.0], "the injected sleep waited Retry-After"
    assert reddit.answered[:3] == [429, 503, 200]


@in_loop
async def test_connector_reddit_a_429_without_retry_after_waits_the_rate_limit_reset(reddit):
    reddit.quota, reddit.window_seconds = 0, 5.0  # the window is spent: the fake answers 429 with X-Ratelimit-*
    events, sleeps = RecordedEvents(), Sleeps()

    async def go() -> None:
        async for _ in connector(reddit, sleep=sleeps).stream(None, events):
            pass

    task = asyncio.create_task(go())
    while not events.delays:
        await asyncio.sleep(0.01)
    task.cancel()
    assert events.reasons[0] == "rate_limited" and events.delays[0] == 5.0, "X-Ratelimit-Reset, as no Retry-After"


@in_loop
async def test_connector_reddit_pauses_until_the_reset_when_the_window_is_spent():
    with FakeReddit(count=6, per_poll=6).running() as reddit:
        reddit.quota, reddit.window_seconds = 3, 1.0
        events, sleeps = RecordedEvents(), Sleeps(cap=1.5)  # really sleeps the reset: the fake's window is real time
        await read(connector(reddit, sleep=sleeps, clock=lambda: 1000.0),
                   lambda p, c: len(p) >= len(reddit.expected_event_ids()), events)
        assert "rate_limited" in events.reasons
        pause = events.delays[events.reasons.index("rate_limited")]
        assert pause == 1.0 and pause in sleeps.delays, "waited X-Ratelimit-Reset before the next request"
        assert 429 not in reddit.answered, "the connector never ran into the limit"


def test_connector_reddit_rate_limit_reset_reads_the_documented_headers():
    headers = load_jsonc("reddit/rate_limit_headers.jsonc")["listing"]
    assert reddit_rate_limit_reset(headers, 0.0) == 246.0
    assert reddit_rate_limit_reset({"X-Ratelimit-Reset": "12"}, 0.0) == 12.0
    assert reddit_rate_limit_reset({}, 0.0) is None
    assert reddit_rate_limit_reset({"x-ratelimit-reset": "soon"}, 0.0) is None


@in_loop
async def test_connector_reddit_malformed_and_oversize_bodies_cost_no_post(reddit):
    reddit.show(6)
    reddit.malformed_next = 1
    reddit.oversize_at = {10}
    producer = MemoryProducer()
    await run_until(runner(connector(reddit), producer, MemoryCheckpoints()),
                    lambda: stored(producer) >= reddit.expected_event_ids() and producer.on("deadletter"))
    unkeyed = [m for m in producer.on("raw") if m[1] is None]
    assert len(unkeyed) == 1 and unkeyed[0][2].startswith(b'{"kind": "Listing"'), "the cut body, as it came"
    (letter,) = producer.on("deadletter")
    dead = DeadLetter.model_validate_json(letter[2])
    assert dead.error_code == "record_too_large" and dead.original_size > 1_200_000 and dead.truncated
    keys = producer.keys("raw")
    assert set(keys) == reddit.expected_event_ids() and len(keys) == len(set(keys))


@in_loop
async def test_connector_reddit_refused_credentials_are_a_config_error(reddit):
    conn = connector(reddit, client_secret=SecretStr("not-the-secret"))
    with pytest.raises(ConnectorConfigError) as refused:
        await read(conn, lambda p, c: False)
    assert "HTTP 401" in str(refused.value) and "SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)
    assert not reddit.api_calls(), "no listing was asked for without a token"


@in_loop
async def test_connector_reddit_unknown_or_private_subreddits_are_config_errors():
    with FakeReddit(count=3, subreddits=("technology", "secretclub")).running() as reddit:
        reddit.private = {"secretclub"}
        with pytest.raises(ConnectorConfigError, match="r/nosuchsub: no such subreddit"):
            await read(connector(reddit, subreddits=["nosuchsub"]), lambda p, c: False)
        with pytest.raises(ConnectorConfigError, match="HTTP 403.*private"):
            await read(connector(reddit, subreddits=["secretclub"]), lambda p, c: False)
        assert 302 in reddit.answered and 403 in reddit.answered


@in_loop
async def test_connector_reddit_renews_its_token_on_401_and_before_it_expires(reddit):
    now = [1000.0]
    conn = connector(reddit, clock=lambda: now[0])
    events = RecordedEvents()
    seen: list[bytes] = []

    def until(payloads: list[bytes], cursors: list[dict]) -> bool:
        seen[:] = payloads
        if len(payloads) >= 5 and reddit.tokens_issued == 1:
            reddit.revoke_tokens()  # Reddit forgot the token: the next request gets 401
        if reddit.tokens_issued == 2 and len(payloads) >= 15 and now[0] == 1000.0:
            now[0] += 3600  # the token's hour is up: renewed before the request, without a 401
        return reddit.tokens_issued == 3 and len(payloads) >= 25

    await read(conn, until, events)
    assert reddit.answered.count(401) == 1, "one 401 (the revoked token); the expiry was seen coming"
    assert reddit.tokens_issued == 3
    ids = [p.split(b'"name":"')[1].split(b'"')[0] for p in seen]
    assert len(ids) == len(set(ids)), "the retried request was not delivered twice"


@in_loop
async def test_connector_reddit_credentials_are_never_logged_nor_described(reddit, caplog):
    caplog.set_level(logging.DEBUG)
    conn = connector(reddit)
    reddit.fail_next = [(503, 0)]

    def until(payloads: list[bytes], cursors: list[dict]) -> bool:
        if len(payloads) >= 5 and reddit.tokens_issued == 1:
            reddit.revoke_tokens()
        return reddit.tokens_issued == 2 and len(payloads) >= 12

    await read(conn, until)
    producer = MemoryProducer()
    await run_until(runner(connector(reddit), producer, MemoryCheckpoints()), lambda: len(stored(producer)) >= 12)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    text = caplog.text + conn.describe() + repr(conn.__dict__)
    assert caplog.records, "something was logged"
    for secret in (CLIENT_ID, CLIENT_SECRET, basic, *reddit.issued):
        assert secret not in text


@in_loop
async def test_connector_reddit_search_within_subreddits_and_across_reddit(reddit):
    reddit.show(45)
    want = reddit.expected_event_ids(kind="t3", matching="nimbus") | reddit.expected_event_ids(kind="t1")
    payloads, cursors = await read(connector(reddit, searches=["Nimbus"]), lambda p, c: len(p) >= len(want))
    ids = {"reddit:" + p.split(b'"name":"')[1].split(b'"')[0].decode() for p in payloads}
    assert ids == want and len(payloads) == len(want)
    (search,) = {c["path"] for c in reddit.api_calls()} - {"/r/technology/comments"}
    assert search == "/r/technology/search"
    query = reddit.api_calls(search)[0]["query"]
    assert query["q"] == "Nimbus" and query["sort"] == "new" and query["restrict_sr"] == "1"
    assert "search:Nimbus" in cursors[-1] and "new" not in cursors[-1]

    sitewide = connector(reddit, subreddits=[], searches=["nimbus", "vertex"])
    want = reddit.expected_event_ids(kind="t3", matching="nimbus") | reddit.expected_event_ids(kind="t3",
                                                                                             matching="vertex")
    payloads, cursors = await read(sitewide, lambda p, c: len(p) >= len(want) and c and "search:vertex" in c[-1])
    assert len(payloads) == len(want), "a post both searches find is sent once"
    calls = reddit.api_calls("/search")
    assert calls and all("restrict_sr" not in c["query"] and c["query"]["sort"] == "new" for c in calls)
    assert {"search:nimbus", "search:vertex"} <= set(cursors[-1])


@in_loop
async def test_connector_reddit_a_fresh_start_takes_the_first_page_and_an_empty_listing_is_remembered():
    with FakeReddit(count=300, per_poll=0).running() as reddit:
        reddit.show(300)  # 200 submissions before the first poll: "now" is the first page of them
        payloads, cursors = await read(connector(reddit, comments=False), lambda p, c: len(c) >= 2)
        newest = sorted((t for t in reddit.things if t["kind"] == "t3"), key=lambda t: t["data"]["created_utc"])
        assert len(payloads) == 100 and {p.split(b'"name":"')[1].split(b'"')[0].decode() for p in payloads} == \
            {t["data"]["name"] for t in newest[-100:]}
        assert not [c for c in reddit.api_calls() if "after" in c["query"]], "no paging back without a checkpoint"
        assert cursors[-1]["new"] == newest[-1]["data"]["name"]
    with FakeReddit(count=0).running() as empty:
        _, cursors = await read(connector(empty), lambda p, c: bool(c))
        assert cursors[0] == {"new_utc": "0"}, "started on an empty listing: everything after it is new"


@in_loop
async def test_connector_reddit_a_page_anchor_deleted_mid_walk_is_stepped_over():
    with FakeReddit(count=600, per_poll=0).running() as reddit:
        reddit.show(90)
        first = MemoryProducer()
        checkpoints = MemoryCheckpoints()
        await run_until(runner(connector(reddit), first, checkpoints), lambda: len(stored(first)) >= 90)
        reddit.show(450)  # 300 submissions to page back through on the restart
        await asyncio.sleep(0.1)  # a request the stop left in flight is answered by now
        reddit.delete_page_end = "/r/technology/new"  # page 1's `after` thing goes before page 2 is asked for
        calls = len(reddit.api_calls())
        second = MemoryProducer()
        await run_until(runner(connector(reddit), second, checkpoints),
                        lambda: stored(first) | stored(second) >= listed(reddit))
        walk = [c["query"].get("after") for c in reddit.api_calls()[calls:] if c["path"] == "/r/technology/new"]
        pages = [a for a in walk if a]
        assert len(pages) >= 3 and len(set(pages)) == len(pages), "an empty page: the walk stepped back an anchor"
        assert stored(first) | stored(second) >= listed(reddit), "no gap"
        assert len(deleted(reddit)) == 1 and deleted(reddit) <= stored(first) | stored(second), "read before it went"


def test_connector_reddit_from_args_defaults_and_errors():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--source-id")
    sources = SourcesSettings(reddit_client_id=SecretStr(CLIENT_ID), reddit_client_secret=SecretStr(CLIENT_SECRET))
    conn = from_args(parser.parse_args(["--subreddit", "r/Technology", "--subreddit", "android+technology",
                                        "--user-agent", USER_AGENT]), sources)
    assert conn.subreddits == ("android", "technology") and conn.source_id == "reddit:android+technology"
    assert conn.api_base == "https://oauth.reddit.com" and conn.auth_url == "https://www.reddit.com/api/v1/access_token"
    assert conn.poll_seconds == 30.0 and conn.comments
    assert conn.describe().startswith("Reddit r/android+technology: new posts, new comments")
    searched = from_args(parser.parse_args(["--search", "nimbus", "--user-agent", USER_AGENT, "--no-comments",
                                            "--source-id", "mine"]), sources)
    assert searched.source_id == "mine" and not searched.comments
    assert default_source_id(("technology",), ("nimbus",)) == "reddit:technology:search=nimbus"
    assert len(default_source_id(("technology",), ("x" * 300,))) <= 120
    with pytest.raises(ConnectorConfigError, match="SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID"):
        from_args(parser.parse_args(["--subreddit", "a1", "--user-agent", USER_AGENT]), SourcesSettings())
    with pytest.raises(ConnectorConfigError, match="--user-agent is required"):
        from_args(parser.parse_args(["--subreddit", "technology"]), sources)
    with pytest.raises(ConnectorConfigError, match="--subreddit and/or --search"):
        from_args(parser.parse_args(["--user-agent", USER_AGENT]), sources)
    with pytest.raises(ConnectorConfigError, match="not a subreddit name"):
        from_args(parser.parse_args(["--subreddit", "../api", "--user-agent", USER_AGENT]), sources)
    assert "SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID=... SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET=... socialpulse " \
           "listen reddit" in DESCRIPTION


def test_connector_reddit_the_fake_s_listen_args_make_a_working_command(reddit):
    from streams.cli import listen

    root = argparse.ArgumentParser()
    listen.register(root.add_subparsers())
    args = root.parse_args(["listen", "reddit", *reddit.listen_args(), "--source-id", "e2e"])
    env = reddit.env()
    sources = SourcesSettings(reddit_client_id=SecretStr(env["SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID"]),
                              reddit_client_secret=SecretStr(env["SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET"]))
    conn = from_args(args, sources)
    assert conn.api_base == reddit.base_url and conn.subreddits == ("technology",) and conn.source_id == "e2e"
    assert reddit.expected_deletion_ids() == set()
    assert len(reddit.expected_event_ids()) == 45
