"""The one loader of documented network payloads under tests/unit/fixtures/: `.jsonc` files whose leading `//`
lines cite where the payload comes from (API docs, client libraries' recorded responses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_jsonc(relative: str) -> Any:
    lines = (FIXTURES / relative).read_text(encoding="utf-8").splitlines()
    return json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))
