"""The short trend report `make run` prints, computed by ClickHouse over the deduplicated events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clickhouse_driver import Client

from streams.sinks.clickhouse.client import check_identifier


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def build_report(client: Client, database: str, *, top: int = 10) -> list[Section]:
    db = check_identifier(database)
    events = f"(SELECT * FROM {db}.events FINAL)"
    totals = client.execute(
        f"SELECT count(), uniqExact(author_id), min(created_at), max(created_at) FROM {events}")
    entities = client.execute(
        f"SELECT canonical, topK(1)(label)[1], count() AS mentions, round(avg(sentiment_score), 2) "
        f"FROM {events} ARRAY JOIN entities.canonical AS canonical, entities.label AS label "
        f"GROUP BY canonical ORDER BY mentions DESC, canonical LIMIT %(top)s",
        {"top": top})
    by_language = client.execute(
        f"SELECT language, count() AS posts, countIf(sentiment_label = 'positive') AS pos, "
        f"countIf(sentiment_label = 'neutral') AS neu, countIf(sentiment_label = 'negative') AS neg, "
        f"round(avg(sentiment_score), 2) FROM {events} GROUP BY language ORDER BY posts DESC")
    by_network = client.execute(
        f"SELECT network, count() AS posts, uniqExact(author_id) AS authors FROM {events} "
        f"GROUP BY network ORDER BY posts DESC")
    hashtags = client.execute(
        f"SELECT tag, count() AS posts FROM {events} ARRAY JOIN hashtags AS tag "
        f"GROUP BY tag ORDER BY posts DESC, tag LIMIT %(top)s", {"top": top})
    incidents = client.execute(
        f"SELECT headline, arrayStringConcat(kinds, '+'), status, started_at, peak_at, round(peak_score, 1), "
        f"alert_count, arrayStringConcat(arraySlice(drivers.term, 1, 4), ' ') FROM {db}.incidents FINAL "
        f"WHERE merged_into = '' ORDER BY started_at DESC, incident_id LIMIT %(top)s", {"top": top})
    return [
        Section("Totals", ("posts", "authors", "first post (UTC)", "last post (UTC)"), totals),
        Section("Top entities", ("entity", "label", "mentions", "avg sentiment"), entities),
        Section("Sentiment by language", ("language", "posts", "positive", "neutral", "negative", "avg score"),
                by_language),
        Section("Volume by network", ("network", "posts", "authors"), by_network),
        Section("Top hashtags", ("hashtag", "posts"), hashtags),
        Section("Incidents (grouped spike alerts)", ("headline", "kinds", "status", "started (UTC)", "peak (UTC)",
                                                     "peak z", "alerts", "drivers"), incidents),
    ]


def render(sections: list[Section]) -> str:
    out = []
    for section in sections:
        cells = [tuple(str(c) for c in row) for row in section.rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(section.headers)]
        out.append(f"\n== {section.title} ==")
        out.append("  ".join(h.ljust(w) for h, w in zip(section.headers, widths, strict=True)))
        out.append("  ".join("-" * w for w in widths))
        out.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(out)
