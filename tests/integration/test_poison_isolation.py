"""No record can stall a stage: records near the broker's size limit and records that make enrichment or row
building raise, mixed into good posts, each end as a dead letter with its code while every good post is stored once.
Enrichment and row building raise through tests/fault_injection (a marker in the text), in the real worker."""

from __future__ import annotations

from tests.support import Pipeline, assert_poison_mix_outcome, fault_injection_env, poison_mix, produce_all

GOOD = 2_000


def test_poison_isolation_bad_records_become_dead_letters_and_the_rest_flows(pipeline: Pipeline) -> None:
    records, bad = poison_mix(GOOD)
    produce_all(pipeline.settings.kafka.bootstrap_servers, pipeline.settings.kafka.raw_topic, records)
    pipeline.start_worker(extra_env=fault_injection_env())
    assert_poison_mix_outcome(pipeline, GOOD, bad, timeout=300)
