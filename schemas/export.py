"""JSON Schema exports of the topic contracts, for downstream consumers.

`python -m schemas.export` rewrites schemas/json/<topic>.schema.json for every topic in TOPICS;
`python -m schemas.export --check` exits 1 when a checked-in file is stale (a unit test does the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas.topics import TOPICS, TopicSpec

JSON_DIR = Path(__file__).resolve().parent / "json"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def topic_schema(spec: TopicSpec) -> dict[str, Any]:
    """The value schema of one topic (pydantic's serialization schema: what is on the wire)."""
    schema = spec.value_model.model_json_schema(mode="serialization")
    return {
        "$schema": _DRAFT,
        "$id": f"https://socialpulse.example/schemas/{spec.name}.schema.json",
        "x-topic": {"name": spec.name, "version": spec.version, "key": spec.key},
        "description": spec.description,
        **{k: v for k, v in schema.items() if k != "description"},
    }


def render_all() -> dict[str, str]:
    """File name → exact file content, deterministic (sorted keys, trailing newline)."""
    return {
        f"{name}.schema.json": json.dumps(topic_schema(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, spec in sorted(TOPICS.items())
    }


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of files that are missing or differ from what the models produce now."""
    out = []
    for name, content in render_all().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            out.append(name)
    return out


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name} (run `python -m schemas.export`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
