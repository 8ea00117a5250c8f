"""Replace one "## <title>" section of bench/QUALITY.md or bench/RESULTS.md, leaving the others alone."""

from __future__ import annotations

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def write_section(path: Path, title: str, body: str, *, header: str = "") -> None:
    """Replace (or append) the section starting with "## {title}" up to the next "## " heading."""
    text = path.read_text(encoding="utf-8") if path.exists() else header
    section = f"## {title}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip() + ("\n\n" if text.strip() else "") + section
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
