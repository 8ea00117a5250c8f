"""The documented BI queries (docs/sql/*.sql), generated from the trend query builders in `queries`, so the
trend SQL exists once: a change to a builder changes the documented file (`make docs-sql`), and a unit
test fails while docs/sql/ differs from what this module writes.

A BI tool runs a file as it is: no client-side parameters, and the reference time is not known in advance.
Each documented query is therefore a builder call at a reference time `at`, and every time parameter the
builder computes from `at` is written into the SQL as an offset of a scalar subquery that reads the
reference from the data (the end of the newest minute with data, or the start of its hour). Which
parameters move with `at`, move with the hour of `at` or are constant is found by calling the builder at
several reference times, then checked at others, so this module repeats none of the builders' planning.
Scalar subqueries rather than a `WITH` alias because ClickHouse 18.16 does not pass `WITH` into
subqueries.

    python -m streams.trends.bi_sql          # rewrite docs/sql/
    python -m streams.trends.bi_sql --check  # exit 1 when docs/sql/ differs
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from streams.settings import REPO_ROOT
from streams.trends import queries as q

DOCS_SQL = REPO_ROOT / "docs" / "sql"
DATABASE = "socialpulse"  # the only database the read-only BI user may read (docs/bi-queries.md)
# The brands and competitors of the example config/brand_queries.yaml; a BI user replaces them with theirs.
EXAMPLE_BRANDS = ("spotify", "apple_music", "youtube_music", "deezer", "tidal", "amazon_music")

# The end of the newest minute with data: replayed samples with past timestamps work too.
LATEST = f"({q.latest_minute(DATABASE).sql}) + 60"
LATEST_HOUR = f"intDiv({LATEST}, 3600) * 3600"
REFERENCES = {"minute": LATEST, "hour": LATEST_HOUR}
Reference = Literal["minute", "hour"]

GENERATED = "-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.\n"


@dataclass(frozen=True)
class DocQuery:
    file: str
    about: str  # the file's header comment
    reference: Reference  # "minute": at = end of the newest minute; "hour": at = start of that minute's hour
    build: Callable[[datetime], q.TrendQuery]


DOCUMENTED: tuple[DocQuery, ...] = (
    DocQuery(
        "rising_terms.sql",
        "Rising terms, all kinds: posts in the last hour vs a baseline of the 24 whole clock hours before the hour\n"
        "in which that last hour starts; z = (current - mean) / max(std, sqrt(mean), 1), at least 5 posts.\n"
        "The last hour is read per minute (entity_minute, ...), the baseline per hour (entity_hour, ...: 60x\n"
        "fewer states), and only for terms with at least 5 posts in the hours overlapping the last hour.\n"
        "Exact under redelivery: uniqExactMerge of sets of posts. No window functions.",
        "minute", lambda at: q.rising(DATABASE, at=at, window="1h", baseline="24h", kind="all", min_count=5,
                                      limit=20)),
    DocQuery(
        "rising_terms_precomputed.sql",
        "Rising terms, fast: the same result as rising_terms.sql, but the baseline (sum and sum of squares of the\n"
        "24 hourly counts per term) is read from `rising_baselines` (0006) instead of merging 24 hours of sets,\n"
        "and the last hour is counted from `events` (one scan per kind). The baseline rows must exist:\n"
        "`socialpulse trends rising` computes them when missing, and `socialpulse trends refresh-baselines`\n"
        "(run it every few minutes, e.g. from cron) keeps them current with late events; a term without a row\n"
        "counts as baseline 0.",
        "minute", lambda at: q.rising(DATABASE, at=at, window="1h", baseline="24h", kind="all", min_count=5,
                                      limit=20, precomputed=True)),
    DocQuery(
        "sentiment_timeline.sql",
        "Sentiment timeline: posts per hour and sentiment label for the example brands' queries, the last 24\n"
        "whole hours up to the newest data, from the hourly rollup (the per-minute part reads the edges of\n"
        "ranges that are not whole hours: none here). net_sentiment = (positive - negative) / posts. Exact\n"
        "under redelivery. For entities, hashtags or mentions read entity_hour / hashtag_hour / mention_hour.",
        "hour", lambda at: q.timeline(DATABASE, at=at, terms=EXAMPLE_BRANDS, kind="brand_query", since="24h",
                                      interval="1h")),
    DocQuery(
        "share_of_voice.sql",
        "Share of voice among the example brands and competitors (config/brand_queries.yaml), the last 24 whole hours\n"
        "up to the newest data, from the hourly rollup. A post about two brands counts for both; shares add\n"
        "up to 1. Exact under redelivery.",
        "hour", lambda at: q.share_of_voice(DATABASE, at=at, brand_queries=EXAMPLE_BRANDS, since="24h")),
    DocQuery(
        "top_posts.sql",
        "Top posts for one brand query by engagement (likes + reposts + replies + quotes), the last 24 hours\n"
        "up to the newest data; replace 'spotify' (or read event_entities / event_hashtags / event_mentions\n"
        "for other kinds of terms). Each post once with its latest counters: argMax(..., enriched_at) picks\n"
        "the version ReplacingMergeTree keeps; only the brand query's posts are read, and the text of the winners.",
        "minute", lambda at: q.top_posts(DATABASE, at=at, term="spotify", kind="brand_query", since="24h", limit=10)),
    DocQuery(
        "volume_by_network.sql",
        "Volume per hour by network (distinct posts and distinct authors), the last 24 whole hours up to the\n"
        "newest data, from the hourly rollup (sets of cityHash64(event_id) / cityHash64(author_id)); the part\n"
        "read from `events` covers the edges of ranges that are not whole hours (none here). Swap network\n"
        "for language or sentiment_label for the other breakdowns. Exact under redelivery.",
        "hour", lambda at: q.volume(DATABASE, at=at, by="network", since="24h", interval="1h")),
)

_SAMPLE = datetime(2026, 1, 15, 12, 23, tzinfo=UTC)  # any minute that is not on the hour


def _sample(reference: Reference, minutes: int = 0) -> datetime:
    start = _SAMPLE if reference == "minute" else _SAMPLE.replace(minute=0)
    return start + timedelta(minutes=minutes)


@dataclass(frozen=True)
class _Offset:
    """A time parameter written as SQL: `base` (an expression of the reference) plus `seconds`."""
    base: Literal["at", "hour of at"]
    seconds: int

    def value(self, at: int) -> int:
        return (at if self.base == "at" else at - at % 3600) + self.seconds

    def sql(self, reference: Reference) -> str:
        base = REFERENCES[reference] if self.base == "at" or reference == "hour" else LATEST_HOUR
        sign = "+" if self.seconds > 0 else "-"
        return f"({base} {sign} {abs(self.seconds)})" if self.seconds else f"({base})"


def _offsets(doc: DocQuery) -> tuple[q.TrendQuery, dict[str, _Offset]]:
    """The query at the sample reference and, for each parameter that depends on the reference time, how."""
    query = doc.build(_sample(doc.reference))
    later_minute = doc.build(_sample(doc.reference, 1)).params if doc.reference == "minute" else query.params
    later_hour = doc.build(_sample(doc.reference, 60)).params
    at = int(_sample(doc.reference).timestamp())
    offsets = {}
    for name, value in query.params.items():
        moves = (later_minute[name] != value, later_hour[name] != value)
        if moves == (False, False):
            continue
        if not isinstance(value, int) or (later_minute[name] - value, later_hour[name] - value) not in (
                (60, 3600), (0, 3600)):
            raise ValueError(f"{doc.file}: parameter {name!r} is not an offset of the reference time")
        base: Literal["at", "hour of at"] = "at" if later_minute[name] != value else "hour of at"
        offsets[name] = _Offset(base, value - (at if base == "at" else at - at % 3600))
    _check(doc, query, offsets)
    return query, offsets


def _check(doc: DocQuery, query: q.TrendQuery, offsets: Mapping[str, _Offset]) -> None:
    """The offsets give the builder's own parameters at other reference times (and the SQL is the same)."""
    for days, minutes in ((3, 0), (40, 1), (101, 59), (-7, 37)):
        at = _sample(doc.reference, days * 1440 + (minutes if doc.reference == "minute" else 0))
        other = doc.build(at)
        expected = {**query.params, **{name: o.value(int(at.timestamp())) for name, o in offsets.items()}}
        if other.sql != query.sql or other.params != expected:
            raise ValueError(f"{doc.file}: the builder's parameters at {at:%Y-%m-%d %H:%M} are not the "
                             "offsets found at the sample reference time")


_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|[()]|\s+|[^\s()'`]+")
_CLAUSE = re.compile(r"(UNION ALL|ANY LEFT JOIN|GROUP BY|ORDER BY|PREWHERE|WHERE|AND|HAVING|LIMIT|FROM|USING|SELECT)\b")


def format_sql(sql: str) -> str:
    """Line breaks before the clauses of each SELECT and around subqueries, indented by subquery depth. Only
    whitespace outside literals and quoted names changes."""
    tokens = _TOKEN.findall(sql)
    assert "".join(tokens) == sql
    subqueries: list[bool] = []  # per open parenthesis: does it hold a subquery?

    def newline() -> str:
        return "\n" + "    " * sum(subqueries)

    out = []
    for i, part in enumerate(tokens):
        if part == "(":
            subqueries.append(_CLAUSE.match("".join(tokens[i + 1:i + 2])) is not None)
            out.append("(" + (newline() if subqueries[-1] else ""))
        elif part == ")":
            out.append((newline() if subqueries.pop() else "") + ")")
        elif part.isspace() and (not subqueries or subqueries[-1]) and _CLAUSE.match("".join(tokens[i + 1:i + 6])):
            out.append(newline())
        else:
            out.append(part)
    return "".join(out)


def render(doc: DocQuery) -> str:
    """The file's text: header comment, then the builder's SQL with its reference-time parameters as SQL."""
    from clickhouse_driver.util.escape import escape_params

    query, offsets = _offsets(doc)
    values = escape_params(query.params, None)
    values.update({name: o.sql(doc.reference) for name, o in offsets.items()})
    header = "".join(f"-- {line}\n" for line in doc.about.splitlines())
    hour = "the start of the hour in which ends " if doc.reference == "hour" else ""
    return (f"{header}-- Reference time: {hour}the end of the newest minute with data (replayed samples work too),\n"
            f"-- {LATEST}: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.\n"
            f"-- Runs on ClickHouse 18.16 and current releases.\n{GENERATED}{format_sql(query.sql) % values}\n")


def render_all() -> dict[str, str]:
    return {doc.file: render(doc) for doc in DOCUMENTED}


def differences(directory: Path = DOCS_SQL) -> list[str]:
    """Files of `directory` that differ from what the builders give, are missing, or are not generated."""
    expected = render_all()
    present = {p.name for p in directory.glob("*.sql")}
    stale = [name for name, text in expected.items()
             if name not in present or (directory / name).read_text() != text]
    return sorted(stale + sorted(present - set(expected)))


def write(directory: Path = DOCS_SQL) -> None:
    for name, text in render_all().items():
        (directory / name).write_text(text)
    for name in {p.name for p in directory.glob("*.sql")} - {doc.file for doc in DOCUMENTED}:
        (directory / name).unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/sql/ from the trend query builders.")
    parser.add_argument("--check", action="store_true", help="only report files that differ (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = differences()
        for name in stale:
            print(f"docs/sql/{name} differs from the builders: run `make docs-sql`", file=sys.stderr)
        return 1 if stale else 0
    write()
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
