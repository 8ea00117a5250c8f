import re

from streams.sinks.clickhouse.migrate import load_migrations, split_statements
from streams.sinks.clickhouse.rows import DEAD_LETTER_COLUMNS, EVENT_COLUMNS


def test_migrations_split_statements_and_read_version_requirements():
    sql = """
-- a comment
CREATE TABLE a (x UInt8) ENGINE = Memory;
-- requires: 20.1
ALTER TABLE a MODIFY TTL x;
"""
    statements = split_statements(sql)
    assert [s.requires for s in statements] == [None, (20, 1)]
    assert statements[0].sql.startswith("CREATE TABLE a")
    assert "--" not in statements[1].sql


def test_migrations_are_numbered_uniquely_and_in_order():
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[0] == 1


def _ddl_columns(table: str) -> list[str]:
    """The table's columns after every migration: its CREATE TABLE, then the columns ALTER TABLE appends."""
    columns: list[str] | None = None
    for migration in load_migrations():
        for statement in migration.statements:
            match = re.match(rf"CREATE TABLE IF NOT EXISTS \{{db\}}\.{table}\s*\((.*)\)\s*ENGINE", statement.sql, re.S)
            if match:
                columns = [line.strip().split()[0].strip("`") for line in match.group(1).splitlines()
                           if line.strip()]
            elif re.match(rf"ALTER TABLE \{{db\}}\.{table}\s", statement.sql) and columns is not None:
                columns += re.findall(r"ADD COLUMN (?:IF NOT EXISTS )?`?(\w+)", statement.sql)
    assert columns is not None, f"no DDL for {table}"
    return columns


def test_clickhouse_rows_match_the_events_ddl_column_for_column():
    assert list(EVENT_COLUMNS) == _ddl_columns("events")


def test_clickhouse_rows_match_the_dead_letters_ddl():
    assert list(DEAD_LETTER_COLUMNS) == _ddl_columns("dead_letters")


class FakeServer:
    """Records executed SQL; answers the few queries migrate() asks."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.executed: list[str] = []
        self.recorded: list[str] = []

    def execute(self, sql, params=None):
        if sql.startswith("SELECT version()"):
            return [(self.version,)]
        if sql.startswith("SELECT name FROM"):
            return [(name,) for name in self.recorded]
        if sql.startswith("INSERT INTO") and "schema_migrations" in sql:
            self.recorded.extend(name for _, name in params)
            return None
        self.executed.append(sql)
        return None


def test_migrations_apply_gated_statements_once_the_server_is_new_enough(monkeypatch):
    from streams.sinks.clickhouse import migrate as m

    migration = m.Migration(7, "0007_x.sql", (m.Statement("CREATE TABLE {db}.t (x UInt8) ENGINE = Memory", None),
                                              m.Statement("ALTER TABLE {db}.t MODIFY TTL x", (20, 1))))
    monkeypatch.setattr(m, "load_migrations", lambda: [migration])
    server = FakeServer("18.16.1")
    assert m.migrate(server, "db") == ["0007_x.sql"]
    assert not any("TTL" in sql for sql in server.executed)
    assert m.migrate(server, "db") == []  # idempotent

    server.version = "24.8.1.1"  # the same data after a server upgrade
    assert m.migrate(server, "db") == ["0007_x.sql#1"]
    assert sum("CREATE TABLE db.t" in sql for sql in server.executed) == 1
    assert sum("MODIFY TTL" in sql for sql in server.executed) == 1
    assert m.migrate(server, "db") == []
