"""BI access on the real local ClickHouse: every documented query (docs/sql/*.sql) and every trend query
runs as the read-only user `socialpulse_bi` over HTTP and with clickhouse-client; that user cannot
write, create or drop. The user lives in deploy/local/clickhouse/users.xml (18.16) and may read only
the `socialpulse` database, so these tests use that database (migrations are idempotent)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from clickhouse_driver import Client

from streams.settings import REPO_ROOT, Settings
from streams.sinks.clickhouse.client import connect
from streams.sinks.clickhouse.migrate import migrate
from streams.trends import queries as q
from streams.trends.baselines import ensure, rising_for

BI_USER = "socialpulse_bi"
BI_PASSWORD = os.environ.get("SOCIALPULSE_CLICKHOUSE_BI_PASSWORD", "socialpulse-bi-dev")
DB = "socialpulse"
DOCS = sorted((REPO_ROOT / "docs" / "sql").glob("*.sql"))


@pytest.fixture(scope="module")
def ch(local_stack):
    settings = Settings().clickhouse
    client = connect(settings)
    migrate(client, DB)
    return settings


def http(settings, sql: str, *, user: str = BI_USER, password: str = BI_PASSWORD) -> tuple[int, str]:
    request = urllib.request.Request(f"http://{settings.host}:{settings.http_port}/", data=sql.encode(),
                                     method="POST")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - fixed local URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def client_cli(settings, sql: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("clickhouse-client")
    assert binary, "clickhouse-client is part of the local stack"
    return subprocess.run([binary, "--host", settings.host, "--port", str(settings.port), "--user", BI_USER,
                           "--password", BI_PASSWORD, "--multiquery", "-q", sql],
                          capture_output=True, text=True, timeout=120)


def test_bi_access_docs_exist():
    assert {p.name for p in DOCS} >= {"rising_terms.sql", "sentiment_timeline.sql", "share_of_voice.sql",
                                      "top_posts.sql", "volume_by_network.sql"}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_bi_access_documented_query_over_http_and_client(ch, path):
    sql = path.read_text()
    status, body = http(ch, sql)
    assert status == 200, body[:500]
    result = client_cli(ch, sql)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == body


def test_bi_access_every_trend_query_over_http(ch):
    at = datetime.now(UTC)
    for query in (
        q.rising(DB, at=at, kind="all"),
        q.rising(DB, at=at, kind="hashtag", window="15m", baseline="6h"),  # per-minute baseline
        q.timeline(DB, at=at, terms=["spotify", "deezer"], kind="brand_query"),
        q.timeline(DB, at=at, terms=["spotify"], kind="entity", since="7d"),
        q.share_of_voice(DB, at=at, brand_queries=["spotify", "apple_music"]),
        q.top_posts(DB, at=at, term="spotify", kind="entity"),
        q.volume(DB, at=at, by="language", interval="1h"),
        q.volume(DB, at=at, by="network"),
        q.latest_minute(DB),
    ):
        status, body = http(ch, q.render_sql(query))
        assert status == 200, f"{query.name}: {body[:500]}"


def test_bi_access_rising_without_precomputed_baselines_falls_back_to_the_rollups(ch):
    bi = Client(ch.host, port=ch.port, user=BI_USER, password=BI_PASSWORD, database=DB)
    key = (int(datetime(2001, 1, 1, tzinfo=UTC).timestamp()), 3600, 24)  # never computed
    assert ensure(bi, DB, key, ("brand_query",)) is False  # may not write: no baselines, no error
    query = rising_for(bi, DB, at=datetime(2001, 1, 2, tzinfo=UTC), kind="brand_query")
    assert "rising_baselines" not in query.sql and bi.execute(query.sql, query.params) == []


@pytest.mark.parametrize("sql", [
    f"INSERT INTO {DB}.events (event_id) VALUES ('bi:1')",
    f"DROP TABLE {DB}.hashtag_minute",
    f"DROP TABLE {DB}.entity_hour",
    f"CREATE TABLE {DB}.bi_probe (a UInt8) ENGINE = Memory",
    f"ALTER TABLE {DB}.events DELETE WHERE 1",
    f"TRUNCATE TABLE {DB}.volume_minute",
    f"DROP DATABASE {DB}",
])
def test_bi_access_cannot_write_or_drop(ch, sql):
    status, body = http(ch, sql)
    assert status != 200 and "Code: 164" in body, body[:300]  # READONLY
    result = client_cli(ch, sql)
    assert result.returncode != 0 and "164" in result.stderr
    tables = connect(Settings().clickhouse).execute(
        "SELECT name FROM system.tables WHERE database = %(db)s", {"db": DB})
    assert ("hashtag_minute",) in tables and ("bi_probe",) not in tables


def test_bi_access_other_databases_are_closed(ch):
    status, body = http(ch, "SELECT count() FROM default.schema_migrations_absent")
    assert status != 200
    status, body = http(ch, "SELECT 1", password="wrong")
    assert status != 200 and ("Code: 193" in body or "Code: 516" in body)
