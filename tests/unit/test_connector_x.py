"""The X filtered-stream connector against the fake X API (tests/fakes/x.py): rules, stream, faults, resume."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from processors.brand_queries import build_brand_queries, load_brand_queries, parse_query
from schemas.deadletter import DeadLetter
from schemas.errors import ErrorCode
from schemas.source_checkpoint import SourceCheckpoint
from streams import codec
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors import x
from streams.sources.connectors.base import ConnectorConfigError, RecordedEvents
from streams.sources.connectors.checkpoints import MemoryCheckpoints
from streams.sources.connectors.http import Backoffs
from streams.sources.connectors.runner import SourceRunner, SourceTopics
from tests.fakes.kafka import MemoryProducer, run_until
from tests.fakes.x import TOKEN, FakeX, stream_templates
from tests.unit.fixture_files import load_jsonc

TOPICS = SourceTopics(raw="raw", deletions="deletions", deadletter="deadletter")
RULES = x.rules_for(load_brand_queries().queries)


@pytest.fixture
def fake() -> Any:
    with FakeX(12, keepalive_seconds=0.05).running() as server:
        yield server


class Sleeps:
    """The injected sleep: records every delay, sleeps a hundredth of it (at most 20 ms)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(min(delay / 100, 0.02))


def connector(server: FakeX, **kwargs: Any) -> x.XFilteredStream:
    options: dict[str, Any] = {"bearer_token": SecretStr(server.token), "rules": RULES, "api_base": server.base_url,
                               "backoffs": Backoffs().scaled(1000), "stall_seconds": 0.5}
    return x.XFilteredStream(**{**options, **kwargs})


def runner(conn: x.XFilteredStream, producer: MemoryProducer, checkpoints: MemoryCheckpoints) -> SourceRunner:
    return SourceRunner(conn, producer=producer, checkpoints=checkpoints, topics=TOPICS,
                        metrics=SourceMetrics.create(), policy=RetryPolicy(0.01, 0.05), checkpoint_seconds=0.05)


def produce_all(server: FakeX, **kwargs: Any) -> MemoryProducer:
    producer = MemoryProducer()
    expected = server.expected_event_ids()
    conn = connector(server, **kwargs)
    asyncio.run(run_until(runner(conn, producer, MemoryCheckpoints()),
                          lambda: expected <= set(producer.keys("raw"))))
    return producer


# --- brand query → rule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "rule"), [
    ("spotify", "spotify"),
    ("spotify premium", "spotify premium"),
    ("spotify AND premium", "spotify premium"),
    ('"spotify premium" OR #spotify OR @Spotify', '"spotify premium" OR #spotify OR @spotify'),
    ("nike -adidas", "nike -adidas"),
    ("nike NOT adidas", "nike -adidas"),
    ("nike NOT (adidas OR puma)", "nike -adidas -puma"),
    ("nike NOT NOT adidas", "nike adidas"),
    ("(vertex AND NOT \"vertex shader\") OR #vertex", '(vertex -"vertex shader") OR #vertex'),
    ("tidal (music OR app)", "tidal (music OR app)"),
    ("a OR (b AND (c OR d))", "a OR (b (c OR d))"),
    ("precio lang:es", "precio lang:es"),
    ("$TSLA OR tesla", "$TSLA OR tesla"),
    ("e-mail OR coca-cola", '"e-mail" OR "coca-cola"'),
    ('"brewster   &  co"', '"brewster & co"'),
    ("café", "café"),
])
def test_connector_x_rule_translation(query: str, rule: str) -> None:
    assert x.to_x_rule(parse_query(query)) == (rule, ())


def test_connector_x_prefix_terms_are_approximated_and_said_so() -> None:
    value, approximations = x.to_x_rule(parse_query("tidal stream*"))
    assert value == "tidal stream"
    assert approximations == ("stream*: X has no prefix match, the rule matches the word 'stream' only",)


@pytest.mark.parametrize(("query", "problem"), [
    ("-spotify", "not negated"),
    ("lang:es", "not negated"),
    ("spotify OR -deezer", "not negated"),
    ("spotify NOT (premium AND family)", "NOT applied to an AND group"),
    ("@gargron@mastodon.social", "not an X username"),
])
def test_connector_x_untranslatable_queries_are_reported(query: str, problem: str) -> None:
    queries = build_brand_queries({"brand_queries": [{"name": "bad_one", "query": query}]}).queries
    with pytest.raises(x.RuleTranslationError, match=problem) as caught:
        x.rules_for(queries)
    assert "'bad_one'" in str(caught.value)


def test_connector_x_rule_length_limit_is_an_option() -> None:
    long = " OR ".join(f"brand{i}" for i in range(40))
    queries = build_brand_queries({"brand_queries": [{"name": "long", "query": long}]}).queries
    with pytest.raises(x.RuleTranslationError, match="over the limit of 100"):
        x.rules_for(queries, max_length=100)
    assert x.rules_for(queries, max_length=512)[0].tag == "socialpulse:long"


def test_connector_x_default_brand_queries_all_become_rules() -> None:
    queries = load_brand_queries().queries
    assert [r.tag for r in RULES] == [f"socialpulse:{q.name}" for q in queries]
    assert all(len(r.value) <= 512 for r in RULES)


# --- the stream ----------------------------------------------------------------------------------------------------


def test_connector_x_every_post_produced_once(fake: FakeX) -> None:
    producer = produce_all(fake)

    keys = producer.keys("raw")
    assert sorted(keys) == sorted(fake.expected_event_ids())
    assert len(fake.expected_event_ids()) == 12
    assert [m for m in producer.messages if m[1] is None] == []
    connects = fake.stream_connects()
    assert connects[0] == x.FIELDS  # exactly the fields the normalizer reads, no backfill on a fresh start
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    assert {(r["value"], r["tag"]) for r in fake.rules.values()} == {(r.value, r.tag) for r in RULES}


def test_connector_x_serves_every_documented_payload_shape() -> None:
    templates = stream_templates()
    assert len(templates) == 10
    with FakeX(len(templates) * 2, keepalive_seconds=0.05).running() as server:
        producer = produce_all(server)
        assert set(producer.keys("raw")) == server.expected_event_ids()
        assert len(server.expected_event_ids()) == 20


def test_connector_x_rules_sync_keeps_foreign_rules_and_deletes_stale_ones(fake: FakeX) -> None:
    fake.rules_page_size = 2  # the listing is paginated
    wanted = RULES[0]
    fake.rules = {
        "1": {"id": "1", "value": "coffee -is:retweet", "tag": "Non-retweeted coffee Posts"},  # someone else's
        "2": {"id": "2", "value": "old brand", "tag": "socialpulse:retired"},
        "3": {"id": "3", "value": "spotify", "tag": wanted.tag},  # ours, value changed since
        "4": {"id": "4", "value": RULES[1].value, "tag": RULES[1].tag},  # ours, up to date
        "5": {"id": "5", "value": RULES[2].value, "tag": "marketing"},  # same value, foreign tag: not added again
    }
    conn = connector(fake)
    events = RecordedEvents()

    async def sync() -> None:
        async with x.aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            await conn.sync_rules(session, events)

    asyncio.run(sync())
    rules = {(r["value"], r.get("tag")) for r in fake.rules.values()}
    assert ("coffee -is:retweet", "Non-retweeted coffee Posts") in rules
    assert (RULES[2].value, "marketing") in rules
    assert ("old brand", "socialpulse:retired") not in rules and ("spotify", wanted.tag) not in rules
    assert "4" in fake.rules
    assert {(r.value, r.tag) for r in RULES if r is not RULES[2]} <= rules
    deletes = [b for b in fake.rule_posts if "delete" in b]
    assert deletes == [{"delete": {"ids": ["2", "3"]}}]
    adds = [b for b in fake.rule_posts if "add" in b]
    assert len(adds) == 1 and len(adds[0]["add"]) == len(RULES) - 2


def test_connector_x_fake_answers_with_the_documented_shapes(fake: FakeX) -> None:
    documented = load_jsonc("x/stream_rules.jsonc")
    conn = connector(fake)

    async def calls() -> tuple[dict[str, Any], ...]:
        async with x.aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            events = RecordedEvents()
            empty = await conn._rules_call(session, events, "GET")
            added = await conn._post_rules(session, events, {"add": [{"value": "tostones recipe"}]})
            duplicate = await conn._post_rules(session, events, {"add": [{"value": "tostones recipe"}]})
            listed = await conn._rules_call(session, events, "GET")
            deleted = await conn._post_rules(session, events, {"delete": {"ids": [added["data"][0]["id"]]}})
            return empty, added, duplicate, listed, deleted

    empty, added, duplicate, listed, deleted = asyncio.run(calls())

    def shape(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: shape(v) for k, v in obj.items()}
        return [shape(obj[0])] if isinstance(obj, list) and obj else type(obj).__name__

    assert shape(empty) == shape(documented["empty"])
    assert shape(added) == shape(documented["add"])
    assert shape(deleted) == shape(documented["delete"])
    assert shape(duplicate["errors"][0]) == shape(documented["duplicate"])
    assert shape(listed["data"][0]) == shape({"id": "", "value": ""})  # no tag given, none returned


def test_connector_x_resumes_from_its_checkpoint_with_no_gap() -> None:
    with FakeX(40, keepalive_seconds=0.05).running() as server:
        server.pace = 0.02
        expected = server.expected_event_ids()
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        asyncio.run(run_until(runner(connector(server, backfill_minutes=5), producer, checkpoints),
                              lambda: len(producer.keys("raw")) >= 10))
        first = set(producer.keys("raw"))
        assert 10 <= len(first) < len(expected)
        saved = checkpoints.saved[-1]
        assert saved.source == "x:filtered-stream" and saved.cursor["newest_id"].isdigit()
        assert f"x:{saved.cursor['newest_id']}" in first
        assert datetime.fromisoformat(saved.cursor["at"]) > datetime.now(UTC) - timedelta(minutes=1)

        asyncio.run(run_until(runner(connector(server, backfill_minutes=5), producer, checkpoints),
                              lambda: expected <= set(producer.keys("raw"))))
        assert set(producer.keys("raw")) == expected
        assert server.stream_connects()[-1].get("backfill_minutes") == "5"
        assert [c["cursor"] for c in server.connections] == [None, "5"]
        assert checkpoints.saved[-1].posts_total >= len(expected)


def test_connector_x_after_a_kill_the_posts_past_the_checkpoint_come_again() -> None:
    """kill -9: the checkpoint written lags what was produced; a restart with backfill gets all of it again."""
    with FakeX(30, keepalive_seconds=0.05).running() as server:
        server.pace = 0.01
        expected = server.expected_event_ids()
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        asyncio.run(run_until(runner(connector(server, backfill_minutes=5), producer, checkpoints),
                              lambda: len(producer.keys("raw")) >= 15))
        early = next(c for c in checkpoints.saved if c.posts_total >= 3)  # as if nothing later had been written
        before_kill = set(producer.keys("raw"))
        after = MemoryProducer()
        asyncio.run(run_until(runner(connector(server, backfill_minutes=5), after, MemoryCheckpoints(early)),
                              lambda: expected <= set(after.keys("raw"))))
        assert before_kill <= set(after.keys("raw")) == expected
        assert server.connections[-1]["cursor"] == "5"


def test_connector_x_dropped_connection_reconnects_at_once_and_resumes(fake: FakeX) -> None:
    fake.drop_after = 5
    events = RecordedEvents()
    conn = connector(fake, backfill_minutes=2)

    async def read() -> list[bytes]:
        payloads: list[bytes] = []
        async for unit in conn.stream(None, events):
            payloads.extend(unit.payloads)
            if len(payloads) >= 12:
                return payloads
        raise AssertionError("stream ended")

    payloads = asyncio.run(read())
    ids = [f"x:{codec.parse_json_object(p)['data']['id']}" for p in payloads]
    assert sorted(ids) == sorted(fake.expected_event_ids())  # backfill replays 1-5 again: dropped as seen
    assert events.reasons == ["closed"] and events.delays == [0.0] and events.connections == 2
    first, second = fake.stream_connects()
    assert "backfill_minutes" not in first and second["backfill_minutes"] == "2"


def test_connector_x_backfill_recovers_posts_matched_while_disconnected(fake: FakeX) -> None:
    fake.drop_after, fake.publish_while_disconnected = 3, 4
    producer = produce_all(fake, backfill_minutes=1)
    assert set(producer.keys("raw")) == fake.expected_event_ids()


def test_connector_x_without_backfill_posts_matched_while_disconnected_are_lost(fake: FakeX) -> None:
    fake.drop_after, fake.publish_while_disconnected = 3, 4
    producer, conn = MemoryProducer(), connector(fake)
    asyncio.run(run_until(runner(conn, producer, MemoryCheckpoints()), lambda: len(producer.keys("raw")) >= 8))
    lost = {f"x:{p['data']['id']}" for p in fake.posts[3:7]}
    assert set(producer.keys("raw")) == fake.expected_event_ids() - lost  # the documented gap


def test_connector_x_stalled_stream_is_reconnected(fake: FakeX) -> None:
    fake.stall_after = 4
    fake.keepalive_seconds = 0.05
    events = RecordedEvents()
    producer = MemoryProducer()
    conn = connector(fake, stall_seconds=0.3, backfill_minutes=1)
    source = runner(conn, producer, MemoryCheckpoints())
    source._events = events  # record what the connector reports
    asyncio.run(run_until(source, lambda: fake.expected_event_ids() <= set(producer.keys("raw"))))
    assert events.reasons == ["stalled"] and events.delays == [0.0]
    assert set(producer.keys("raw")) == fake.expected_event_ids()


def test_connector_x_waits_out_429_and_503_as_retry_after_says(fake: FakeX) -> None:
    fake.stream_failures = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "3"})]
    fake.rules_failures = [(503, {"Retry-After": "2"})]
    sleeps = Sleeps()
    producer = produce_all(fake, sleep=sleeps)
    assert sleeps.delays == [2.0, 7.0, 3.0]
    assert set(producer.keys("raw")) == fake.expected_event_ids()


def test_connector_x_429_waits_for_the_rate_limit_reset(fake: FakeX) -> None:
    now = time.time()
    fake.stream_failures = [(429, {"x-rate-limit-reset": str(int(now) + 42)})]
    fake.rules_failures = [(429, {"x-rate-limit-reset": str(int(now) + 90)})]
    sleeps, events = Sleeps(), RecordedEvents()
    conn = connector(fake, sleep=sleeps, clock=lambda: float(int(now)))

    async def first() -> None:
        async for unit in conn.stream(None, events):
            if unit.payloads:
                return

    asyncio.run(first())
    assert sleeps.delays == [90.0, 42.0]
    assert events.reasons == ["rate_limited", "rate_limited"]


def test_connector_x_backs_off_as_x_documents(fake: FakeX) -> None:
    """No Retry-After: 429 from 1 min doubling, 5xx from 5 s doubling (with jitter x[0.5, 1))."""
    fake.stream_failures = [(429, {}), (429, {}), (503, {}), (503, {})]
    sleeps, events = Sleeps(), RecordedEvents()
    conn = connector(fake, sleep=sleeps, backoffs=Backoffs())

    async def first() -> None:
        async for unit in conn.stream(None, events):
            if unit.payloads:
                return

    asyncio.run(first())
    (r1, r2, s1, s2) = sleeps.delays
    assert 30 <= r1 < 60 and 60 <= r2 < 120 and 2.5 <= s1 < 5 and 5 <= s2 < 10
    assert events.reasons == ["rate_limited", "rate_limited", "http_5xx", "http_5xx"]


def test_connector_x_network_errors_back_off_linearly() -> None:
    with FakeX(1).running() as server:
        base = server.base_url
    sleeps, events = Sleeps(), RecordedEvents()
    conn = x.XFilteredStream(bearer_token=SecretStr(TOKEN), rules=RULES, api_base=base, sleep=sleeps)

    async def try_connecting() -> None:
        async with x.aiohttp.ClientSession() as session:
            feed = x._Feed("posts", x.STREAM_PATH, x.FIELDS)
            task = asyncio.create_task(conn._follow(session, feed, False, events, asyncio.Queue()))
            while len(sleeps.delays) < 3:
                await asyncio.sleep(0.01)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(try_connecting())
    d1, d2, d3 = sleeps.delays[:3]
    assert 0.125 <= d1 < 0.25 and 0.25 <= d2 < 0.5 and 0.375 <= d3 < 0.75  # +250 ms per attempt
    assert set(events.reasons) == {"network"}


def test_connector_x_connection_closed_before_any_post_is_backed_off(fake: FakeX) -> None:
    """Only a drop of an established connection is retried at once: a server that accepts and closes is not
    hammered."""
    fake.empty_closes = 2
    sleeps, events = Sleeps(), RecordedEvents()

    async def first() -> None:
        async for unit in connector(fake, sleep=sleeps).stream(None, events):
            if unit.payloads:
                return

    asyncio.run(first())
    assert events.reasons == ["closed", "closed"]
    assert len(sleeps.delays) == 2 and 0 < sleeps.delays[0] < sleeps.delays[1]  # the network schedule, linear


def test_connector_x_lines_longer_than_the_cap_are_cut(fake: FakeX) -> None:
    fake.oversize_after = 2
    conn = connector(fake, max_line_bytes=4096)

    async def read() -> list[bytes]:
        payloads: list[bytes] = []
        async for unit in conn.stream(None, RecordedEvents()):
            payloads.extend(unit.payloads)
            if len(payloads) >= 13:
                return payloads
        raise AssertionError("stream ended")

    payloads = asyncio.run(read())
    (oversize,) = fake.extra_lines
    assert payloads[2] == oversize[:4096]  # the prefix, kept for its dead letter; the rest of the line dropped
    assert [codec.parse_json_object(p)["data"]["id"] for p in payloads[3:]] == \
        [p["data"]["id"] for p in fake.posts[2:]]


def test_connector_x_malformed_and_oversize_lines_never_lose_a_post(fake: FakeX) -> None:
    fake.malformed_after, fake.oversize_after = 3, 6
    producer = produce_all(fake)
    assert set(producer.keys("raw")) == fake.expected_event_ids()
    malformed, oversize = fake.extra_lines
    unkeyed = [m for m in producer.on("raw") if m[1] is None]
    assert [m[2] for m in unkeyed] == [malformed.rstrip(b"\r\n")]  # as it came, for the worker to dead-letter
    letters = [codec.decode_model(m[2], DeadLetter) for m in producer.on("deadletter")]
    assert [(d.error_code, d.original_size) for d in letters] == [(ErrorCode.RECORD_TOO_LARGE,
                                                                    len(oversize) - 2)]


def test_connector_x_error_line_is_passed_on_and_the_stream_reconnects(fake: FakeX) -> None:
    fake.error_after = 4
    producer = produce_all(fake, backfill_minutes=1)
    assert set(producer.keys("raw")) == fake.expected_event_ids()
    (error,) = [codec.parse_json_object(m[2]) for m in producer.on("raw") if m[1] is None]
    assert error["errors"][0]["title"] == "operational-disconnect"
    assert len(fake.stream_connects()) == 2


def test_connector_x_compliance_stream_brings_deletions() -> None:
    with FakeX(8, deletions=3, compliance_edits=True, keepalive_seconds=0.05).running() as server:
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        deletions = server.expected_deletion_ids()
        assert len(deletions) == 3
        conn = connector(server, compliance_partition=1)
        asyncio.run(run_until(runner(conn, producer, checkpoints),
                              lambda: deletions <= set(producer.keys("deletions"))
                              and server.expected_event_ids() <= set(producer.keys("raw"))))
        assert set(producer.keys("deletions")) == deletions
        (edit,) = [codec.parse_json_object(m[2]) for m in producer.on("raw") if m[1] is None]
        assert "tweet_edit" in edit["data"]  # not a deletion: the worker dead-letters it (unsupported_event)
        assert "compliance_at" in checkpoints.saved[-1].cursor
        (compliance,) = [dict(r.query) for r in server.requests if r.path == "/2/tweets/compliance/stream"]
        assert compliance == {"partition": "1"}


def test_connector_x_recover_with_search_fills_a_gap_longer_than_backfill() -> None:
    with FakeX(20, keepalive_seconds=0.05).running() as server:
        server.pace = 0.01
        producer, checkpoints = MemoryProducer(), MemoryCheckpoints()
        asyncio.run(run_until(runner(connector(server), producer, checkpoints),
                              lambda: len(producer.keys("raw")) >= 6))
        cursor = dict(checkpoints.saved[-1].cursor)
        gap_start = datetime.now(UTC) - timedelta(minutes=20)
        cursor["at"] = gap_start.isoformat()
        checkpoints.saved.append(checkpoints.saved[-1].model_copy(update={"cursor": cursor}))
        server.publish_now(len(server.posts) - server.published())  # matched while we were stopped

        asyncio.run(run_until(runner(connector(server, recover_with_search=True, backfill_minutes=5), producer,
                                     checkpoints),
                              lambda: server.expected_event_ids() <= set(producer.keys("raw"))))
        assert set(producer.keys("raw")) == server.expected_event_ids()
        searches = [dict(r.query) for r in server.requests if r.path == "/2/tweets/search/recent"]
        assert {s["query"] for s in searches} == {r.value for r in RULES}
        assert {s["since_id"] for s in searches} == {cursor["newest_id"]}


def test_connector_x_backfill_replays_are_not_produced_twice_in_one_run(fake: FakeX) -> None:
    fake.drop_after = 6
    producer = produce_all(fake, backfill_minutes=5)
    assert Counter(producer.keys("raw")).most_common(1)[0][1] == 1


# --- refusals and credentials ----------------------------------------------------------------------------------------


async def _first(conn: x.XFilteredStream) -> None:
    async for _ in conn.stream(None, RecordedEvents()):
        pass


def test_connector_x_refused_token_is_a_config_error(fake: FakeX) -> None:
    with pytest.raises(ConnectorConfigError, match="401.*SOCIALPULSE_SOURCES__X_BEARER_TOKEN"):
        asyncio.run(_first(connector(fake, bearer_token=SecretStr("wrong-token"))))
    fake.enrolled = False
    with pytest.raises(ConnectorConfigError, match="403.*client-not-enrolled"):
        asyncio.run(_first(connector(fake)))


def test_connector_x_refused_stream_is_a_config_error(fake: FakeX) -> None:
    fake.stream_failures = [(403, {})]  # e.g. backfill asked for at an access level without it
    resume = {"newest_id": "1", "at": datetime.now(UTC).isoformat()}

    async def resume_with_backfill() -> None:
        async for _ in connector(fake, backfill_minutes=5).stream(resume, RecordedEvents()):
            pass

    with pytest.raises(ConnectorConfigError, match="403.*Pro/Enterprise for backfill"):
        asyncio.run(resume_with_backfill())
    assert fake.stream_connects() == [{**x.FIELDS, "backfill_minutes": "5"}]


def test_connector_x_credentials_never_logged_or_described(fake: FakeX, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.drop_after = 3
    fake.stream_failures = [(429, {"Retry-After": "1"})]
    conn = connector(fake, backfill_minutes=1)
    produce_all(fake, backfill_minutes=1, sleep=Sleeps())
    assert TOKEN not in caplog.text and "Bearer" not in caplog.text
    assert TOKEN not in conn.describe() and TOKEN not in repr(conn)
    assert conn.describe().startswith(f"X filtered stream at {fake.base_url}, 13 rules tagged socialpulse:*")
    fake.token = "another"
    with pytest.raises(ConnectorConfigError) as refused:
        asyncio.run(_first(conn))  # the token the fake expects is another one now
    assert TOKEN not in str(refused.value)


# --- the command ---------------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    x.add_arguments(parser)
    parser.add_argument("--source-id")
    return parser.parse_args(argv)


def test_connector_x_from_args_needs_the_bearer_token() -> None:
    with pytest.raises(ConnectorConfigError, match="SOCIALPULSE_SOURCES__X_BEARER_TOKEN"):
        x.from_args(parse(), SourcesSettings())


def test_connector_x_from_args_builds_the_connector(tmp_path: Any) -> None:
    sources = SourcesSettings(x_bearer_token=SecretStr(TOKEN))
    conn = x.from_args(parse("--backfill-minutes", "5", "--brand-query", "nimbus", "--brand-query", "vertex"),
                       sources)
    assert conn.source_id == "x:filtered-stream" and conn.backfill_minutes == 5
    assert [r.tag for r in conn.rules] == ["socialpulse:nimbus", "socialpulse:vertex"]
    assert x.from_args(parse("--source-id", "x:brands"), sources).source_id == "x:brands"
    with pytest.raises(ConnectorConfigError, match="no brand query named nope"):
        x.from_args(parse("--brand-query", "nope"), sources)
    with pytest.raises(ConnectorConfigError, match="backfill"):
        x.from_args(parse("--backfill-minutes", "9"), sources)
    bad = tmp_path / "queries.yaml"
    bad.write_text("brand_queries:\n  - name: only_not\n    query: '-spotify'\n")
    with pytest.raises(ConnectorConfigError, match="'only_not'"):
        x.from_args(parse("--brand-queries", str(bad)), sources)
    with pytest.raises(ConnectorConfigError, match="--brand-queries"):
        x.from_args(parse("--brand-queries", str(tmp_path / "missing.yaml")), sources)


def test_connector_x_cursor_round_trips() -> None:
    cursor = {"newest_id": "1861423378612428800", "at": "2026-11-25T14:03:12.000Z",
              "compliance_at": "2026-11-25T14:03:13.500Z"}
    assert x._Position.parse(cursor).cursor() == cursor
    assert x._Position.parse({"newest_id": "junk", "at": "not a time"}).cursor() == {}
    assert x.snowflake_time(1861423378612428800).date().isoformat() == "2024-11-26"
    SourceCheckpoint(source="x:filtered-stream", network="x", cursor=cursor, written_at=datetime.now(UTC))
