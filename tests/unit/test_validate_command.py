"""`socialpulse validate FILE|-`: each record decoded as the worker would, printed as the event or `DEAD code:`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from schemas import RawEvent
from streams.cli import build_parser, main
from streams.cli.validate import read_sources, validate_records
from streams.codec import Limits
from tests.unit.fixture_files import load_jsonc
from tests.unit.test_normalizer_bluesky_reddit import NOW

NETWORKS = Path(__file__).parent / "fixtures" / "networks"


def compact(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def network(name: str) -> Any:
    return json.loads((NETWORKS / name).read_text(encoding="utf-8"))


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good posts, a one-item Reddit listing, an empty listing, a Reddit message, and bad lines."""
    lines = [
        compact(network("x_tweet.json")),
        compact(load_jsonc("reddit/info_one_link.jsonc")),
        b"{broken",
        compact(load_jsonc("bluesky/jetstream_post_short_link.jsonc")),
        b"",
        b'{"foo": 1}',
        compact(load_jsonc("reddit/info_empty.jsonc")),
        compact(load_jsonc("reddit/things_not_posts.jsonc")[1]),  # a t4 message
        b"[1, 2]",
        b"\xff\xfe",
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(records: Any, *, limits: Limits | None = None) -> tuple[list[str], Any]:
    out = io.StringIO()
    summary = validate_records(records, out=out, now=NOW, limits=limits or Limits(), topic="social.raw.v1")
    return out.getvalue().splitlines(), summary


def test_validate_command_prints_event_or_dead_letter_per_record(mixed: Path) -> None:
    lines, summary = run(read_sources([str(mixed)]))
    assert len(lines) == 10  # 8 records, 1 empty page, the summary
    events = [RawEvent.model_validate_json(lines[i]) for i in (0, 1, 3)]
    assert [e.event_id for e in events] == [
        "x:1861423378612428800",
        "reddit:t3_1h0abcd",  # the one-item listing is its one post
        "bluesky:at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3lbv2kq6wzk2p",
    ]
    assert all(e.ingested_at == NOW for e in events)
    assert "https://www.example.com/reviews/nimbus-x5-teardown?ref=bsky" in events[2].text
    assert lines[2].startswith("DEAD invalid_json: ") and lines[2].endswith(f"[{mixed}:3]")
    assert lines[4].startswith("DEAD unknown_shape: not a RawEvent or a known network payload (keys: foo)")
    assert lines[5] == f"EMPTY page with no items [{mixed}:7]"
    assert lines[6].startswith("DEAD unsupported_event: Reddit 't4' (message) is not a post or comment")
    assert lines[7].startswith("DEAD not_an_object: ") and lines[8].startswith("DEAD invalid_utf8: ")
    assert lines[9] == ("validate: ok=3 dead=5 empty_pages=1 (invalid_json=1, invalid_utf8=1, not_an_object=1, "
                        "unknown_shape=1, unsupported_event=1)")
    assert summary.exit_code == 1


def test_validate_command_applies_the_limits_it_is_given() -> None:
    stream = io.BytesIO(compact(network("x_tweet.json")))
    lines, summary = run(read_sources(["-"], stdin=stream), limits=Limits(max_text_chars=10))
    assert lines[0].startswith("DEAD text_too_long: text has") and lines[0].endswith("[-:1]")
    assert summary.exit_code == 1


def test_validate_command_cli_exit_codes_and_stdin(mixed: Path, tmp_path: Path, capsys: Any,
                                                   monkeypatch: Any) -> None:
    assert main(["validate", str(mixed)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("validate: ok=3 dead=5 empty_pages=1")

    good = tmp_path / "good.jsonl"
    listing = load_jsonc("reddit/info_one_link.jsonc")
    good.write_bytes(compact(network("reddit_comment.json")) + b"\n" + compact(listing))
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["event_id"] for x in out[:2]] == ["reddit:t1_lzq4k2m", "reddit:t3_1h0abcd"]
    assert out[2] == "validate: ok=2 dead=0 empty_pages=0"

    class Stdin:
        buffer = io.BytesIO(b'{"kind": "t5", "data": {"name": "t5_2qh1e"}}\n')

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["validate", "-"]) == 1
    assert capsys.readouterr().out.startswith("DEAD unsupported_event: Reddit 't5' (subreddit)")

    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2


def test_validate_command_reads_csv_files_and_csv_stdin(tmp_path: Path) -> None:
    payload = compact(load_jsonc("youtube/comment_threads_one.jsonc")).decode()
    text = 'payload\n"' + payload.replace('"', '""') + '"\n'
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    from_file, _ = run(read_sources([str(path)]))
    from_stdin, summary = run(read_sources(["-"], stdin=io.BytesIO(text.encode()), csv_stdin=True))
    assert json.loads(from_file[0])["event_id"] == json.loads(from_stdin[0])["event_id"] == (
        "youtube:UgxKREWxIgDrw8w2e_Z4AaABAg")
    assert summary.exit_code == 0


def test_validate_command_is_registered_with_help() -> None:
    parser = build_parser()
    args = parser.parse_args(["validate", "-", "--csv"])
    assert args.files == ["-"] and args.csv
    assert "validate" in parser.format_help()
