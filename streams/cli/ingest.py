"""`socialpulse replay` and `socialpulse generate`: put posts on the raw topic (or in a file)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import KafkaSettings

BOOTSTRAP_ENV = "SOCIALPULSE_KAFKA__BOOTSTRAP_SERVERS"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _kafka_settings() -> KafkaSettings:
    from streams.settings import Settings

    return Settings().kafka


def default_bootstrap() -> str:
    return str(_kafka_settings().bootstrap_servers)


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `1d` → timedelta."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 10m, 2h, 1d)")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def parse_time(text: str) -> datetime:
    """ISO 8601; a value without a zone is UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_spike(text: str, *, start: datetime):  # type: ignore[no-untyped-def]
    """'at=+30m,term=Nimbus,factor=8,duration=10m,negative' → Spike (at: +offset from start, or ISO)."""
    from streams.sources.generator import Spike

    fields: dict[str, str] = {}
    negative = False
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in ("negative", "neg"):
            negative = True
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bad spike part {part!r} in {text!r} (expected key=value or 'negative')")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"at", "term", "factor", "duration", "negative"}
    if unknown:
        raise ValueError(f"unknown spike keys {sorted(unknown)} in {text!r}")
    if "term" not in fields or "at" not in fields:
        raise ValueError(f"spike needs at= and term= : {text!r}")
    at_text = fields["at"]
    at = start + parse_duration(at_text[1:]) if at_text.startswith("+") else parse_time(at_text)
    if "negative" in fields:
        negative = fields["negative"].lower() in ("1", "true", "yes")
    return Spike(
        at=at,
        term=fields["term"],
        factor=float(fields.get("factor", "5")),
        duration=parse_duration(fields.get("duration", "10m")),
        negative=negative,
    )


# ---------------------------------------------------------------------- replay


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.sources.replay import replay

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    summary = replay(
        args.files,
        bootstrap_servers=args.bootstrap,
        topic=args.topic,
        rate=args.rate,
        normalize=not args.as_is,
        skip_invalid=args.skip_invalid,
        progress=not args.quiet,
        max_message_bytes=_kafka_settings().max_message_bytes,
    )
    for err in summary.errors:
        print(f"note: {err}", file=sys.stderr)
    print(f"replay {args.topic}: {summary.line()}")
    return 1 if summary.failed else 0


# ---------------------------------------------------------------------- generate


def cmd_generate(args: argparse.Namespace) -> int:
    from streams.codec import encode_model
    from streams.sources.generator import Generator, GeneratorConfig, mixed_records, span_for

    if args.count < 1:
        print("error: --count must be >= 1", file=sys.stderr)
        return 2
    if args.start:
        start = parse_time(args.start)
    else:  # end about now, so a live worker's timestamp limits accept the whole stream
        start = datetime.now(UTC).replace(microsecond=0) - span_for(args.count, args.rate_per_minute)
    try:
        spikes = tuple(parse_spike(s, start=start) for s in args.spike)
    except ValueError as exc:
        print(f"error: --spike: {exc}", file=sys.stderr)
        return 2
    config = GeneratorConfig(start=start, seed=args.seed, rate_per_minute=args.rate_per_minute, spikes=spikes)
    posts = Generator(config).take(args.count)

    if args.kafka:
        from streams.sources.replay import Prepared, make_producer, produce

        items = []
        for post in posts:
            if args.format == "raw":
                value = json.dumps(post.payload, ensure_ascii=False, separators=(",", ":")).encode()
            else:
                value = encode_model(post.event)
            items.append(Prepared(post.event.event_id.encode(), value, post.event.event_id))
        producer = make_producer(args.bootstrap)
        try:
            summary = produce(items, producer=producer, topic=args.topic, rate=args.rate,
                              progress=not args.quiet, total=len(items),
                              max_message_bytes=_kafka_settings().max_message_bytes)
        finally:
            producer.close(timeout=10)
        print(f"generate -> {args.topic}: {summary.line()}")
        return 1 if summary.failed else 0

    if args.format == "events":
        records = [p.event.model_dump(mode="json") for p in posts]
    elif args.format == "raw":
        records = [p.payload for p in posts]
    else:
        records = mixed_records(posts, raw_share=args.raw_share, seed=args.seed)
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.out not in (None, "-"):
        first, last = posts[0].event.created_at, posts[-1].event.created_at
        print(f"wrote {len(records)} records to {args.out} ({first.isoformat()} .. {last.isoformat()})",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- wiring


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "replay",
        help="Produce posts from JSONL/CSV files to Kafka",
        formatter_class=fmt,
        description=(
            "Read JSONL (one JSON object per line) or CSV files of posts -- X API v2 responses, Mastodon\n"
            "statuses, Bluesky Jetstream commits, Reddit things/listings, YouTube commentThreads, or\n"
            "RawEvent dicts -- normalise each to a RawEvent (key = event_id) and produce it with acks=all\n"
            "and idempotence. Lines that cannot be normalised are produced unchanged (no key) so the\n"
            "worker dead-letters them with a reason: nothing is lost silently (see --skip-invalid).\n\n"
            "CSV: a `payload` (or `json`) column with one JSON object per row, or flat RawEvent columns\n"
            "(event_id, network, native_id, kind, text, created_at, author.id / author_id, ...)."
        ),
        epilog="example: socialpulse replay data/sample/posts.jsonl --rate 200",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help=".jsonl/.ndjson or .csv files, replayed in order")
    p.add_argument("--topic", default=_kafka_settings().raw_topic, help="topic to produce to (default: %(default)s)")
    p.add_argument("--bootstrap", default=default_bootstrap(),
                   help=f"Kafka bootstrap servers, comma-separated (default: ${BOOTSTRAP_ENV} or %(default)s)")
    p.add_argument("--rate", type=float, default=0.0, metavar="N",
                   help="events per second; 0 sends as fast as possible (default: %(default)s)")
    p.add_argument("--as-is", action="store_true",
                   help="do not normalise: send every line's original bytes (the worker normalises)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="drop lines that cannot be normalised instead of sending them for dead-lettering")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    g = subparsers.add_parser(
        "generate",
        help="Generate a deterministic synthetic stream of posts (file or Kafka)",
        formatter_class=fmt,
        description=(
            "Seeded, realistic posts across X, Mastodon, Bluesky, Reddit and YouTube, in English and\n"
            "Spanish (some Portuguese and French): fictional brands and competitors (Nimbus vs Vertex\n"
            "phones, Altair Air vs Condora airlines, Brewster & Co vs Café Luna coffee), famous people and\n"
            "places, hashtags, mentions, URLs, emojis (ZWJ sequences, flags), replies and reposts.\n"
            "The same --seed/--start/--rate-per-minute/--spike always give the same output.\n\n"
            "--spike 'at=+30m,term=Nimbus,factor=8,duration=10m,negative' makes posts mentioning the term\n"
            "rise about x8 for 10 minutes starting 30 minutes after --start (at= may also be an ISO time);\n"
            "'negative' gives them crisis wording. Repeat --spike for several."
        ),
        epilog=("examples:\n"
                "  socialpulse generate --count 2000 --out /tmp/posts.jsonl\n"
                "  socialpulse generate --count 5000 --rate-per-minute 300 --spike 'at=+10m,term=Vertex,factor=6'"
                " --kafka"),
    )
    g.add_argument("--count", type=int, default=1000, help="number of posts (default: %(default)s)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")
    g.add_argument("--start", help="created_at of the stream's start, ISO 8601 (default: so that it ends now)")
    g.add_argument("--rate-per-minute", type=float, default=60.0,
                   help="baseline posts per minute of event time (default: %(default)s)")
    g.add_argument("--spike", action="append", default=[], metavar="SPEC",
                   help="at=+30m|ISO,term=T,factor=K[,duration=10m][,negative]")
    g.add_argument("--format", choices=("events", "raw", "mixed"), default="events",
                   help="events: RawEvent dicts; raw: network payloads; mixed: both, like data/sample "
                        "(default: %(default)s)")
    g.add_argument("--raw-share", type=float, default=0.5, help="share of raw payloads with --format mixed")
    dest = g.add_mutually_exclusive_group()
    dest.add_argument("--out", metavar="FILE.jsonl", help="write JSONL here ('-' = stdout, the default)")
    dest.add_argument("--kafka", action="store_true", help="produce to Kafka instead of writing a file")
    g.add_argument("--topic", default=_kafka_settings().raw_topic, help="with --kafka (default: %(default)s)")
    g.add_argument("--bootstrap", default=default_bootstrap(),
                   help=f"with --kafka (default: ${BOOTSTRAP_ENV} or %(default)s)")
    g.add_argument("--rate", type=float, default=0.0, metavar="N",
                   help="with --kafka: events per second of wall time, 0 = max (default: %(default)s)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)
