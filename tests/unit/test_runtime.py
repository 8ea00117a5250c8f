"""Process tuning of a worker: GC thresholds, GIL switch interval setting, one BLAS thread unless told otherwise."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from streams.runtime.process_tuning import tune_gc
from streams.settings import REPO_ROOT, Settings


def test_runtime_tune_gc_raises_the_young_threshold_and_zero_keeps_the_defaults() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(0)
        assert gc.get_threshold() == before
        tune_gc(50_000)
        assert gc.get_threshold()[0] == 50_000
    finally:
        gc.set_threshold(*before)


def test_runtime_switch_interval_comes_from_the_environment_and_must_be_positive(monkeypatch) -> None:
    assert Settings().worker.switch_interval == 0.02
    monkeypatch.setenv("SOCIALPULSE_WORKER__SWITCH_INTERVAL", "0.05")
    assert Settings().worker.switch_interval == 0.05
    monkeypatch.setenv("SOCIALPULSE_WORKER__SWITCH_INTERVAL", "0")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("3", "3")])
def test_runtime_cli_defaults_to_one_blas_thread_unless_set(preset, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", "import os, streams.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == expected
