"""Run trend queries and print them: a readable table or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clickhouse_driver import Client

from streams.trends.queries import TrendQuery, TrendQueryError, latest_minute, parse_at


def resolve_at(client: Client, database: str, at: str | None) -> datetime:
    """'latest' (default): the end of the newest minute with data; 'now'; or an ISO 8601 time."""
    text = (at or "latest").strip().lower()
    if text == "now":
        return datetime.now(UTC)
    if text == "latest":
        query = latest_minute(database)
        (ts,), = client.execute(query.sql)
        if not ts:
            raise TrendQueryError(f"no data in {database}.volume_minute yet; pass --at ISO-TIME or --at now")
        return datetime.fromtimestamp(int(ts) + 60, UTC)
    return parse_at(at or "")


def run(client: Client, query: TrendQuery) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = client.execute(query.sql, query.params)
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def render_json(query: TrendQuery, rows: list[tuple[Any, ...]], *, at: datetime, extra: dict[str, Any]) -> str:
    return json.dumps({
        "query": query.name,
        "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        **extra,
        "rows": [dict(zip(query.columns, map(_cell, row), strict=True)) for row in rows],
    }, ensure_ascii=False, indent=2)


def render_table(query: TrendQuery, rows: list[tuple[Any, ...]], *, title: str) -> str:
    cells = [tuple("" if c is None else str(_cell(c)) for c in row) for row in rows]
    headers = query.columns
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(_is_number(r[i]) for r in cells) for i in range(len(headers))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    out = [title, line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    if not cells:
        out.append("(no rows)")
    return "\n".join(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
