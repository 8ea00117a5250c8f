"""Live source connectors (`socialpulse listen NETWORK`): one module per network, registered here once.

A network module exposes:
    HELP: str                                    one line for `socialpulse listen --help`
    DESCRIPTION: str                             its --help text, with the real command to run it
    add_arguments(parser) -> None                its own options (endpoints, streams, queries, poll intervals)
    from_args(args, sources: SourcesSettings) -> Connector    raises ConnectorConfigError on bad options
The shared parts (producing, checkpoints, back-pressure, metrics) are streams/sources/connectors/runner.py and the
`listen` command (streams/cli/listen.py); the contract between them is streams/sources/connectors/base.py.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CONNECTORS: dict[str, str] = {
    "bluesky": "streams.sources.connectors.bluesky",
    "mastodon": "streams.sources.connectors.mastodon",
    "x": "streams.sources.connectors.x",
    "reddit": "streams.sources.connectors.reddit",
    "youtube": "streams.sources.connectors.youtube",
}


def connector_module(network: str) -> ModuleType:
    if network not in CONNECTORS:
        raise KeyError(f"no connector for {network!r}; known: {', '.join(CONNECTORS)}")
    return importlib.import_module(CONNECTORS[network])
