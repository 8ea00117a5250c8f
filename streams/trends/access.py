"""Substitutions the migrations need (schemas/migrations/0004_bi_access.sql: the BI user's password)."""

from __future__ import annotations

import os
from collections.abc import Mapping

BI_PASSWORD_ENV = "SOCIALPULSE_CLICKHOUSE_BI_PASSWORD"  # noqa: S105 - a variable name
DEV_BI_PASSWORD = "socialpulse-bi-dev"  # noqa: S105 - public dev default, the same development default as deploy/local/stack.sh


def sql_string_body(value: str) -> str:
    """Escape a value for the inside of a single-quoted ClickHouse string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def migration_substitutions(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Pass as `migrate(client, db, substitutions=...)`; only servers >= 20.5 use `bi_password`."""
    env = os.environ if environ is None else environ
    return {"bi_password": sql_string_body(env.get(BI_PASSWORD_ENV) or DEV_BI_PASSWORD)}
