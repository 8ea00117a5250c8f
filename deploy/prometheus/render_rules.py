"""Render deploy/prometheus/socialpulse.rules.template.yml into Prometheus rules.

    python deploy/prometheus/render_rules.py                      # defaults to stdout
    python deploy/prometheus/render_rules.py --out deploy/prometheus/rules/socialpulse.rules.yml
    python deploy/prometheus/render_rules.py --set SPIKE_FOR=5s --set SPIKE_RANGE=30s --out /tmp/rules.yml

The committed rules file is the rendering of DEFAULTS (checked by tests/unit/test_prometheus_rules.py); tests
render the same template with shortened windows so they exercise the very same expressions.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "socialpulse.rules.template.yml"
RULES = HERE / "rules" / "socialpulse.rules.yml"
HEADER = "# GENERATED from deploy/prometheus/socialpulse.rules.template.yml by render_rules.py - do not edit.\n"

DEFAULTS: dict[str, str] = {
    "SPIKE_SCORE": "4",  # robust z of the last closed minute (the detector's own threshold)
    "SPIKE_RANGE": "5m",
    "SPIKE_FOR": "1m",
    "NEGATIVE_SCORE": "4",
    "NEGATIVE_RANGE": "5m",
    "NEGATIVE_FOR": "1m",
    "STALL_RANGE": "5m",
    "STALL_FOR": "5m",
    "LAG_THRESHOLD": "10000",
    "LAG_FOR": "10m",
    "DLQ_RANGE": "10m",
    "DLQ_RATIO": "0.05",
    "DLQ_FOR": "10m",
    "CH_RANGE": "5m",
    "CH_FOR": "5m",
    "SOURCE_STALL_SECONDS": "600",  # a connector that read nothing for 10 minutes
    "SOURCE_STALL_FOR": "5m",
}
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def render(overrides: Mapping[str, str] | None = None) -> str:
    values = {**DEFAULTS, **(overrides or {})}
    unknown = set(overrides or {}) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown rule parameters: {sorted(unknown)}")
    text = TEMPLATE.read_text()
    body = text[text.index("groups:"):]  # drop the template's own header comment
    return HEADER + _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    text = render(overrides)
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
