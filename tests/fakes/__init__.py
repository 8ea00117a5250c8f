"""Local fake servers (127.0.0.1) that speak each network's documented protocol, serving documented payloads.

Every module here defines one `FakeServer` subclass; the connector tests (tests/unit/test_connector_*.py) and the
end-to-end tests (tests/integration/test_listen.py) run the real connectors against them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.server import FakeServer

# Every network with a connector has a fake (tests/unit/test_connector_*.py checks each connector against its own).
NETWORKS = ("bluesky", "mastodon", "x", "reddit", "youtube")


def fake_for(network: str, count: int, **kwargs: Any) -> FakeServer:
    """The fake server of `network` (the one FakeServer subclass of tests/fakes/<network>.py) serving `count` posts."""
    from tests.fakes.server import FakeServer

    module = importlib.import_module(f"tests.fakes.{network}")
    (cls,) = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, FakeServer)
              and c is not FakeServer and c.__module__ == module.__name__]
    return cls(count=count, **kwargs)
