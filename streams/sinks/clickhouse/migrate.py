"""Apply the versioned SQL files of schemas/migrations in order, once each, recorded in a table.

A statement preceded by ``-- requires: MAJOR.MINOR`` runs only on servers at least that new, so that
features missing from ClickHouse 18.16 (TTL, ...) are applied where the server has them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_driver import Client

from streams.sinks.clickhouse.client import check_identifier, server_version

log = logging.getLogger(__name__)

_REQUIRES = re.compile(r"^--\s*requires:\s*(\d+)\.(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Statement:
    sql: str
    requires: tuple[int, int] | None


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[Statement, ...]


def load_migrations() -> list[Migration]:
    folder = resources.files("schemas") / "migrations"
    migrations = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        version = int(entry.name.split("_", 1)[0])
        migrations.append(Migration(version, entry.name, tuple(split_statements(entry.read_text()))))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {versions}")
    return migrations


def split_statements(text: str) -> list[Statement]:
    statements = []
    for chunk in re.split(r";\s*(?:\n|$)", text):
        match = _REQUIRES.search(chunk)
        body = "\n".join(line for line in chunk.splitlines() if not line.lstrip().startswith("--")).strip()
        if body:
            requires = (int(match.group(1)), int(match.group(2))) if match else None
            statements.append(Statement(body, requires))
    return statements


def migrate(client: Client, database: str, *, substitutions: dict[str, str] | None = None) -> list[str]:
    """Create `database` if needed and apply what is pending. Returns the names applied now.

    A migration's plain statements run once, when it is first applied. Each version-gated statement is
    recorded on its own ("<name>#<index>"), so a server upgraded past its requirement gets it on the next run.
    """
    db = check_identifier(database)
    client.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.execute(f"SELECT name FROM {db}.schema_migrations")}
    server = server_version(client)[:2]
    values = {"db": db, **(substitutions or {})}
    applied = []
    for migration in load_migrations():
        first_time = migration.name not in done
        for index, statement in enumerate(migration.statements):
            gated_key = f"{migration.name}#{index}"
            if statement.requires is None:
                if first_time:
                    client.execute(statement.sql.format(**values))
                continue
            if gated_key in done:
                continue
            if server < statement.requires:
                log.info("%s: statement %d needs ClickHouse %s.%s (server %s); later", migration.name, index,
                         *statement.requires, ".".join(map(str, server)))
                continue
            client.execute(statement.sql.format(**values))
            _record(client, db, migration.version, gated_key)
            applied.append(gated_key)
        if first_time:
            _record(client, db, migration.version, migration.name)
            applied.append(migration.name)
    return applied


def _record(client: Client, db: str, version: int, name: str) -> None:
    client.execute(f"INSERT INTO {db}.schema_migrations (version, name) VALUES", [(version, name)])
