"""How create_app sizes the pipeline's stages."""

from __future__ import annotations

import pytest

from streams.app import Wiring, create_app
from streams.codec import Limits
from streams.metrics import Metrics
from streams.runtime.batch_consumer import BatchConsumer
from streams.settings import ClickHouseSettings, NlpSettings, Settings, WorkerSettings
from streams.sinks.clickhouse.writer import InMemoryWriter
from streams.stages.enrich import InProcessEnricher


def _stage_sizes(settings: Settings) -> dict[str, int]:
    wiring = Wiring(writer_factory=InMemoryWriter, enricher_factory=lambda: InProcessEnricher(None, Limits()),
                    metrics=Metrics.create())
    app = create_app(settings, wiring)
    return {s.name: s._size for s in app._extra_services if isinstance(s, BatchConsumer)}


@pytest.mark.parametrize(("enrich", "expected"), [(True, 96), (False, 3000)])
def test_enrich_stage_batches_by_nlp_batch_or_the_passthrough_batch(enrich: bool, expected: int) -> None:
    settings = Settings(nlp=NlpSettings(batch_size=96), clickhouse=ClickHouseSettings(insert_batch_rows=500),
                        worker=WorkerSettings(app_id="sp-unit-stages", enrich=enrich, passthrough_batch_size=3000))
    assert _stage_sizes(settings) == {"enrich": expected, "clickhouse_sink": 500, "deadletter_sink": 500}
