"""Prometheus rules and config checked by the real promtool (fails, never skips, when promtool is missing)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.settings import REPO_ROOT

PROM = REPO_ROOT / "deploy" / "prometheus"
RULES = PROM / "rules" / "socialpulse.rules.yml"
REQUIRED_ALERTS = {"VolumeSpike", "NegativeSentimentSurge", "SocialIncident", "PipelineStalled", "ConsumerLagHigh",
                   "DeadLetterRateHigh", "ClickHouseInsertFailing", "SourceStalled"}


def load_renderer():
    spec = importlib.util.spec_from_file_location("render_rules", PROM / "render_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not installed (apt-get install -y prometheus, or make system)", pytrace=False)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def test_prometheus_rules_committed_file_is_the_rendered_template():
    assert RULES.read_text() == load_renderer().render(), (
        "deploy/prometheus/rules/socialpulse.rules.yml is stale: run "
        ".venv/bin/python deploy/prometheus/render_rules.py --out deploy/prometheus/rules/socialpulse.rules.yml")


def test_prometheus_rules_define_the_required_alerts_with_bounded_labels():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert set(alerts) == REQUIRED_ALERTS
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"warning", "page"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert "entity" not in rule["expr"] and "author" not in rule["expr"]


def test_prometheus_rules_pass_promtool_check():
    _ok(promtool("check", "rules", str(RULES)))


def test_prometheus_rules_unit_tests_pass():
    tests = sorted((PROM / "tests").glob("*.yml"))
    assert tests
    _ok(promtool("test", "rules", *map(str, tests)))


def test_prometheus_config_passes_promtool_check_config():
    _ok(promtool("check", "config", str(PROM / "prometheus.yml")))


def test_prometheus_rules_render_with_short_windows(tmp_path: Path):
    renderer = load_renderer()
    text = renderer.render({"SPIKE_FOR": "5s", "SPIKE_RANGE": "30s"})
    assert "for: 5s" in text and "[30s]" in text
    out = tmp_path / "rules.yml"
    out.write_text(text)
    _ok(promtool("check", "rules", str(out)))
    with pytest.raises(KeyError):
        renderer.render({"NOPE": "1"})


def test_prometheus_alertmanager_config_parses():
    config = yaml.safe_load((PROM / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    assert all(r["receiver"] in receivers for r in config["route"].get("routes", []))
    amtool = shutil.which("amtool")
    if amtool:  # not packaged with Debian's prometheus; checked when present
        _ok(subprocess.run([amtool, "check-config", str(PROM / "alertmanager.yml")], capture_output=True,
                           text=True, timeout=60))
