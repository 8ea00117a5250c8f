"""Issue 18, defect 2: replay sends a page's items whatever their number. A one-item page (every Reddit
`/api/info?id=` lookup, a commentThreads.list page of one thread) is sent as that item, exactly as the items of a
many-item page are; a page of none sends nothing and is counted. Fixtures: tests/unit/fixtures/<network>/*.jsonc,
sources cited in each file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from schemas import RawEvent
from streams.codec import decode_raw
from streams.sources.replay import prepare, produce, read_jsonl_stream, read_records
from tests.unit.fixture_files import load_jsonc
from tests.unit.test_generator_replay import FakeProducer
from tests.unit.test_normalizer_bluesky_reddit import NOW

NETWORKS = Path(__file__).parent / "fixtures" / "networks"


def line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_lines(path: Path, objs: list[Any]) -> Path:
    path.write_bytes(b"\n".join(line(o) for o in objs) + b"\n")
    return path


ONE_ITEM_PAGES = [
    pytest.param("reddit/info_one_link.jsonc", "reddit:t3_1h0abcd", id="reddit-api-info"),
    pytest.param("youtube/comment_threads_one.jsonc", "youtube:UgxKREWxIgDrw8w2e_Z4AaABAg", id="youtube-threads"),
]


@pytest.mark.parametrize(("fixture", "event_id"), ONE_ITEM_PAGES)
def test_replay_pages_one_item_page_is_sent_as_its_item(tmp_path: Path, fixture: str, event_id: str) -> None:
    page = load_jsonc(fixture)
    [record] = list(read_records([write_lines(tmp_path / "p.jsonl", [page])]))
    assert record.origin.endswith("p.jsonl:1#0") and not record.empty_page
    assert json.loads(record.raw) == record.obj != page  # the item, not the page
    prepared = prepare(record, now=NOW)
    assert prepared.event_id == event_id and prepared.key == event_id.encode()
    # --as-is sends record.raw: the worker decodes the item too
    event = decode_raw(record.raw, topic="social.raw.v1", partition=0, offset=0, now=NOW)
    assert isinstance(event, RawEvent) and event.event_id == event_id


@pytest.mark.parametrize(("fixture", "event_id"), ONE_ITEM_PAGES)
def test_replay_pages_one_item_page_matches_the_item_of_a_bigger_page(tmp_path: Path, fixture: str,
                                                                       event_id: str) -> None:
    page = load_jsonc(fixture)
    items_key = ("data", "children") if "data" in page else ("items",)
    bigger = json.loads(json.dumps(page))
    container = bigger[items_key[0]] if len(items_key) == 2 else bigger
    container[items_key[-1]] = container[items_key[-1]] * 2
    one = list(read_records([write_lines(tmp_path / "one.jsonl", [page])]))
    two = list(read_records([write_lines(tmp_path / "two.jsonl", [bigger])]))
    assert len(one) == 1 and len(two) == 2
    assert one[0].raw == two[0].raw == two[1].raw
    assert prepare(one[0], now=NOW).value == prepare(two[0], now=NOW).value


@pytest.mark.parametrize(
    "fixture", ["reddit/info_empty.jsonc", "youtube/comment_threads_empty.jsonc"], ids=["reddit", "youtube"]
)
def test_replay_pages_empty_page_sends_nothing_and_is_counted(tmp_path: Path, fixture: str) -> None:
    empty = load_jsonc(fixture)
    post = json.loads((NETWORKS / "reddit_comment.json").read_text(encoding="utf-8"))
    path = write_lines(tmp_path / "in.jsonl", [empty, post, empty])
    records = list(read_records([path]))
    assert [r.empty_page for r in records] == [True, False, True]
    producer = FakeProducer()
    summary = produce((prepare(r, now=NOW) for r in records), producer=producer, topic="raw")
    assert len(producer.sent) == 1 and producer.sent[0][1] == b"reddit:t1_lzq4k2m"
    assert (summary.sent, summary.empty_pages, summary.unparsed, summary.failed) == (1, 2, 0, 0)
    assert "empty_pages=2" in summary.line()


def test_replay_pages_x_page_of_one_post_is_sent_as_that_post(tmp_path: Path) -> None:
    page = json.loads((NETWORKS / "x_search_page.json").read_text(encoding="utf-8"))
    page["data"] = page["data"][:1]
    [record] = list(read_records([write_lines(tmp_path / "x.jsonl", [page])]))
    assert record.origin.endswith("#0") and prepare(record, now=NOW).event_id == "x:1861500000000000001"


@pytest.mark.parametrize(
    "name", ["x_tweet.json", "reddit_comment.json", "youtube_comment_thread.json", "bluesky_post.json"]
)
def test_replay_pages_single_payloads_keep_their_original_bytes(tmp_path: Path, name: str) -> None:
    raw = line(json.loads((NETWORKS / name).read_text(encoding="utf-8"))).replace(b",", b", ")
    path = tmp_path / "one.jsonl"
    path.write_bytes(raw + b"\n")
    [record] = list(read_records([path]))
    assert record.raw == raw and record.origin.endswith("one.jsonl:1")


def test_replay_pages_stdin_stream_reads_like_a_file() -> None:
    one, empty = load_jsonc("reddit/info_one_link.jsonc"), load_jsonc("reddit/info_empty.jsonc")
    stream = io.BytesIO(line(one) + b"\n\n" + line(empty))
    records = list(read_jsonl_stream(stream, "-"))
    assert [(r.origin, r.empty_page) for r in records] == [("-:1#0", False), ("-:3", True)]
