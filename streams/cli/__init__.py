"""The `socialpulse` console script. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams.runtime.process_tuning import one_blas_thread

# Before numpy loads (the command modules): a BLAS pool would fight the other workers for the cores, and any thread
# makes spaCy's NER dearer (streams/runtime/nlp_process.py, bench/RESULTS.md). The NLP process sets it itself too.
one_blas_thread()

# Modules exposing `register(subparsers)`; each adds its subcommands with `set_defaults(func=...)`.
# `func(args) -> int` is the exit code.
COMMAND_MODULES = (
    "streams.cli.pipeline",
    "streams.cli.deadletters",
    "streams.cli.ingest",
    "streams.cli.listen",
    "streams.cli.validate",
    "streams.cli.trends",
    "streams.cli.retention",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socialpulse",
        description="Real-time social listening pipeline: Kafka -> Faust enrichment -> ClickHouse.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
