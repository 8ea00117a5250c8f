"""The base of the fake network servers: an aiohttp application on 127.0.0.1 in a thread of its own.

A subclass adds its routes in `routes(app)` and says what a connector run against it must deliver:
- `listen_args()`: the `socialpulse listen <network> ...` arguments that point the connector at this server;
- `env()`: the credential variables the connector needs (SOCIALPULSE_SOURCES__...);
- `expected_event_ids()`: every post this server serves, as event ids (what must end in ClickHouse exactly once);
- `expected_deletion_ids()`: every deletion it serves.
Faults are switched on by the tests through attributes the subclass reads in its handlers (drop the connection
after N items, answer 429/503 with Retry-After, send malformed or oversize frames).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web


class FakeServer:
    network: str = ""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[web.Request | Any] = []  # every request seen (method, path, query, headers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- to override
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def listen_args(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def expected_event_ids(self) -> set[str]:
        raise NotImplementedError

    def expected_deletion_ids(self) -> set[str]:
        return set()

    # -- running
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=serve, name=f"fake-{self.network}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"fake {self.network} server did not start: {failure}")
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append(request)
            return await handler(request)

        app.middlewares.append(record)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port or 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
