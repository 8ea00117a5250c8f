"""An in-memory stand-in for the runner's producer (streams/sources/connectors/runner.py:Producer), for unit tests:
acknowledges every message at once (or fails the first `fail_sends` sends, as a broker outage would)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from streams.sources.connectors.runner import Message


class MemoryProducer:
    def __init__(self, *, max_message_bytes: int = 1_048_576, fail_sends: int = 0) -> None:
        self.max_message_bytes = max_message_bytes
        self.messages: list[Message] = []
        self.fail_sends = fail_sends

    async def enqueue(self, messages: Sequence[Message]) -> list[asyncio.Future[Any]]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail_sends > 0:
            self.fail_sends -= 1
            from aiokafka.errors import KafkaTimeoutError

            future.set_exception(KafkaTimeoutError())
        else:
            self.messages.extend(messages)
            future.set_result(None)
        return [future]

    async def send_all(self, messages: Sequence[Message]) -> None:
        for future in await self.enqueue(messages):
            await future

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m[0] == topic]

    def keys(self, topic: str) -> list[str]:
        return [m[1].decode() for m in self.on(topic) if m[1] is not None]


async def run_until(runner: Any, done: Any, *, timeout: float = 10.0) -> None:
    """Run `runner.run()` until `done()` is true, then stop it as SIGTERM does (cancel: it settles and checkpoints)."""
    task = asyncio.create_task(runner.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not done():
            if task.done():
                task.result()  # raises what made the runner stop
                raise AssertionError("the runner stopped by itself")
            if loop.time() > deadline:
                raise AssertionError("timed out waiting for the runner")
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def in_loop(test: Any) -> Any:
    """Run an async test function in a fresh event loop (the unit tests use no async plugin)."""
    import functools

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(test(*args, **kwargs))

    return run
