"""`socialpulse validate FILE|-`: decode every record the way the worker would, before sending anything.

Files are read by the replay source's readers (streams/sources/replay.py: JSONL/.json one object per line, CSV,
pages split into their items), each record is decoded by `streams.codec.decode_raw` with the limits the worker
uses (settings `nlp.max_text_chars`), and the command prints, per record, the normalised RawEvent as one JSON line,
or `DEAD <code>: <message> [<origin>]` with the dead-letter code the worker would give it. A page with no items
prints `EMPTY page with no items [<origin>]` (replay sends nothing for it). Last, a summary line:
`validate: ok=N dead=M empty_pages=K` and the dead records by code. Exit code 0 when every record is ok, 1 otherwise
(2 for a missing file).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from streams.codec import Limits
    from streams.sources.replay import SourceRecord

STDIN = "-"


@dataclass
class ValidateSummary:
    ok: int = 0
    empty_pages: int = 0
    dead: Counter[str] = field(default_factory=Counter)  # error code -> records

    def line(self) -> str:
        by_code = ", ".join(f"{code}={n}" for code, n in sorted(self.dead.items()))
        return (f"validate: ok={self.ok} dead={sum(self.dead.values())} empty_pages={self.empty_pages}"
                + (f" ({by_code})" if by_code else ""))

    @property
    def exit_code(self) -> int:
        return 1 if self.dead else 0


def validate_records(
    records: Iterable[SourceRecord], *, out: TextIO, now: datetime, limits: Limits, topic: str
) -> ValidateSummary:
    """Decode each record as the worker decodes a social.raw.v1 value; print the event or the dead letter."""
    from schemas.deadletter import DeadLetter
    from streams.codec import decode_raw, encode_model

    summary = ValidateSummary()
    for offset, record in enumerate(records):
        if record.empty_page:
            summary.empty_pages += 1
            print(f"EMPTY page with no items [{record.origin}]", file=out)
            continue
        result = decode_raw(record.raw, topic=topic, partition=0, offset=offset, now=now, limits=limits)
        if isinstance(result, DeadLetter):
            summary.dead[result.error_code.value] += 1
            print(f"DEAD {result.error_code.value}: {result.error_message} [{record.origin}]", file=out)
        else:
            summary.ok += 1
            print(encode_model(result).decode("utf-8"), file=out)
    print(summary.line(), file=out)
    return summary


def read_sources(sources: Iterable[str], *, stdin: IO[bytes] | None = None,
                 csv_stdin: bool = False) -> Iterator[SourceRecord]:
    """Records of the named files (by suffix, as `socialpulse replay` reads them) or of stdin for `-`."""
    from streams.sources.replay import read_csv_stream, read_jsonl_stream, read_records

    for source in sources:
        if source != STDIN:
            yield from read_records([source])
            continue
        stream = stdin if stdin is not None else sys.stdin.buffer
        if csv_stdin:
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
            yield from read_csv_stream(text, STDIN)
        else:
            yield from read_jsonl_stream(stream, STDIN)


def cmd_validate(args: argparse.Namespace) -> int:
    from streams.codec import Limits
    from streams.settings import Settings

    missing = [f for f in args.files if f != STDIN and not Path(f).is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = Settings()
    summary = validate_records(
        read_sources(args.files, csv_stdin=args.csv),
        out=sys.stdout,
        now=datetime.now(UTC),
        limits=Limits(max_text_chars=settings.nlp.max_text_chars),  # what the worker's enrich stage uses
        topic=settings.kafka.raw_topic,
    )
    return summary.exit_code


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "validate", help="Decode files (or stdin) as the worker would: the event, or the dead-letter code",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Reads JSONL (.jsonl/.ndjson/.json, one JSON object per line) or CSV files as `socialpulse replay`\n"
            "does -- pages split into their items -- and decodes each record exactly as the worker would, with\n"
            "the settings' limits. Prints per record the normalised RawEvent (one JSON line) or\n"
            "`DEAD <code>: <message> [<file:line>]`, then a summary line. Exit code 0 when all records are ok,\n"
            "1 when any would be dead-lettered. Nothing is sent anywhere."
        ),
        epilog=("examples:\n  socialpulse validate data/sample/posts.jsonl\n"
                "  socialpulse generate --count 5 --format raw | socialpulse validate -"),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files to check; '-' reads JSON lines from stdin")
    p.add_argument("--csv", action="store_true", help="stdin ('-') is CSV, not JSON lines")
    p.set_defaults(func=cmd_validate)
