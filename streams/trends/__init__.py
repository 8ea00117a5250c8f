"""Trend queries over the ClickHouse rollups: rising terms, sentiment timeline, share of voice, top posts,
volume. SQL builders in `queries`, execution and output in `output`, BI access helpers in `access`,
partition retention for servers without TTL in `retention`, the documented BI SQL (docs/sql/) written from the
builders in `bi_sql`, synthetic events for trend tests and benchmarks in `synthetic`."""
