"""The pipeline's stages, one module each: enrich, clickhouse_sink, dead_letters, alerts. A stage never imports
another; streams/app.py composes them."""
