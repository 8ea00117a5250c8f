"""The checked-in JSON Schemas match the models: regenerate with `python -m schemas.export`."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.export import JSON_DIR, render_all, stale_files, write_all
from schemas.topics import TOPICS


def test_schemas_export_one_file_per_topic() -> None:
    assert sorted(render_all()) == sorted(f"{name}.schema.json" for name in TOPICS)


def test_schemas_export_checked_in_files_are_current() -> None:
    stale = stale_files(JSON_DIR)
    assert not stale, f"stale JSON Schemas {stale}: run `python -m schemas.export` and commit schemas/json/"


def test_schemas_export_detects_a_changed_file(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert stale_files(tmp_path) == []
    target = tmp_path / "social.raw.v1.schema.json"
    doc = json.loads(target.read_text())
    doc["properties"].pop("text")
    target.write_text(json.dumps(doc))
    assert stale_files(tmp_path) == ["social.raw.v1.schema.json"]


def test_schemas_export_describes_topic_and_forbids_extra_fields() -> None:
    doc = json.loads(render_all()["social.raw.v1.schema.json"])
    assert doc["x-topic"] == {"name": "social.raw.v1", "version": 1, "key": "event_id"}
    assert doc["additionalProperties"] is False
    assert "event_id" in doc["required"]
