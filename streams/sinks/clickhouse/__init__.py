"""ClickHouse access: connection, migrations, the batched idempotent writer."""
