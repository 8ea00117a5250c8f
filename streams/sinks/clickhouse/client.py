"""Connections and server facts (the version decides which migration statements apply)."""

from __future__ import annotations

import re

from clickhouse_driver import Client

from streams.settings import ClickHouseSettings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_identifier(name: str) -> str:
    """Database and table names are interpolated into SQL, so only plain identifiers are accepted."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid ClickHouse identifier: {name!r}")
    return name


def connect(settings: ClickHouseSettings, *, database: str | None = None) -> Client:
    return Client(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password.get_secret_value(),
        database=check_identifier(database) if database else "default",
        connect_timeout=5,
        send_receive_timeout=60,
        settings={"insert_block_size": 1_048_576},
    )


def server_version(client: Client) -> tuple[int, ...]:
    (version,), = client.execute("SELECT version()")
    return tuple(int(part) for part in version.split(".") if part.isdigit())
