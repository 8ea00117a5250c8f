"""Placeholder until the x connector lands (being written now); replaced whole by it."""

from __future__ import annotations

import argparse
from typing import Any

from streams.sources.connectors.base import ConnectorConfigError

HELP = "x (not built yet)"
DESCRIPTION = HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def from_args(args: argparse.Namespace, sources: Any) -> Any:
    raise ConnectorConfigError("the x connector is not built yet")
