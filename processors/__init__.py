"""Pure processing on schema models: normalizers, language id, NER, sentiment, social entities, brand queries, spikes.

No Kafka, Faust, ClickHouse, Prometheus, environment variables or wall clock here: time and models are parameters.
"""
