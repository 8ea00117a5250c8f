"""Where the pipeline writes: ClickHouse."""
