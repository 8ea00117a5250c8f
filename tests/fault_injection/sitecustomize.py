"""Loaded at start-up by every Python process whose PYTHONPATH holds this folder (a test worker and its NLP
process): makes enrichment and row building raise for records carrying a marker, as a bug that some input
triggers would. Nothing else changes; the worker is otherwise the real one.

    text containing RAISE-IN-ENRICH  → processors.enrich.enrich_batch raises for any batch holding it
    text containing RAISE-IN-ROW     → streams.sinks.clickhouse.rows.event_row raises for it
"""

import os

if os.environ.get("SOCIALPULSE_TEST_FAULTS") == "1":
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # as the CLI does, before numpy can load

    import processors.enrich
    import streams.sinks.clickhouse.rows

    _enrich_batch = processors.enrich.enrich_batch
    _event_row = streams.sinks.clickhouse.rows.event_row

    def enrich_batch(posts, models, *, now):  # type: ignore[no-untyped-def]
        if any("RAISE-IN-ENRICH" in post.text for post in posts):
            raise RuntimeError("injected: enrichment raised for this batch")
        return _enrich_batch(posts, models, now=now)

    def event_row(enriched, *, partition, offset):  # type: ignore[no-untyped-def]
        if "RAISE-IN-ROW" in enriched.event.text:
            raise ValueError("injected: row building raised for this event")
        return _event_row(enriched, partition=partition, offset=offset)

    processors.enrich.enrich_batch = enrich_batch
    streams.sinks.clickhouse.rows.event_row = event_row
