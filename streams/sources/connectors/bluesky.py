"""Bluesky through Jetstream: one WebSocket, JSON events, resumable by time (https://github.com/bluesky-social/jetstream).

Protocol: `GET wss://<instance>/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>
&maxMessageSizeBytes=<n>`; every text frame is one event `{did, time_us, kind, commit|identity|account}`.
- **Cursor**: `{"time_us": "<time_us of the newest event read>"}` (Unix microseconds, the same clock on every public
  instance). On (re)connect the connector asks for `cursor = time_us - rewind` (5 s by default), as the Jetstream
  docs advise when switching instances for gapless playback; the events read twice are absorbed by `event_id`.
  Without a checkpoint it starts at the live tail (no cursor).
- **Instances**: the four public ones by default; after a failed or lost connection the next one is tried, with
  exponential backoff (1 s doubling to 60 s, jitter); a connection that delivered events resets the backoff.
- **Dead connections**: WebSocket pings every 30 s, and no frame for `--idle-timeout` (60 s) closes and reconnects.
- **What is forwarded**: commits on the wanted collections, as the bytes received: creates become posts, delete
  commits become Deletions (the runner), and any other operation or a frame that is not JSON goes on for the worker
  to dead-letter with its code. Identity and account events, which Jetstream sends to every subscriber whatever the
  collections, only move the cursor: they are not posts and would flood the dead letters.
- **Size**: `maxMessageSizeBytes` tells Jetstream not to send larger events (default 16 MiB); a frame over the Kafka
  limit but under it becomes a `record_too_large` dead letter in the runner.
- **Compression** (`--compress`): the connector offers WebSocket permessage-deflate (RFC 7692); frames travel
  compressed when the instance accepts it, plain otherwise (the log says which).
Not done: Jetstream's own `compress=true` (zstd with a custom dictionary that is not bundled here), `wantedDids`,
and handle resolution (Jetstream carries DIDs; `author.handle` stays empty).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aiohttp

from processors.normalizers.bluesky import POST_COLLECTION
from schemas.events import Network
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors.base import ConnectorConfigError, Cursor, Fetched, SourceEvents

log = logging.getLogger(__name__)

PUBLIC_INSTANCES = (
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
)
_KIND = re.compile(rb'"kind"\s*:\s*"([a-z]+)"')
_TIME_US = re.compile(rb'"time_us"\s*:\s*(\d{1,19})')

HELP = "Bluesky: every new post through Jetstream (WebSocket, resumable by time)"
DESCRIPTION = """\
Listen to Bluesky's Jetstream: new posts, replies and deletions, from the four public instances (or --endpoint).
Resumes from its checkpoint (Jetstream's time_us cursor, rewound a few seconds); no credentials needed.

Run it as is, with internet:
  socialpulse listen bluesky --metrics-port 9101
"""


class JetstreamConnector:
    network = Network.BLUESKY
    instance: str | None = None

    def __init__(self, endpoints: Sequence[str], *, source_id: str, collections: Sequence[str] = (POST_COLLECTION,),
                 rewind_seconds: float = 5.0, idle_timeout: float = 60.0, max_frame_bytes: int = 16 * 1024 * 1024,
                 compress: bool = False, backoff: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not endpoints:
            raise ConnectorConfigError("no Jetstream endpoint")
        self.endpoints, self.source_id, self.collections = tuple(endpoints), source_id, tuple(collections)
        self.rewind_us = int(rewind_seconds * 1_000_000)
        self.idle_timeout, self.max_frame_bytes, self.compress = idle_timeout, max_frame_bytes, compress
        self.backoff = backoff or RetryPolicy(1.0, 60.0)
        self._sleep = sleep

    def describe(self) -> str:
        return f"Jetstream {', '.join(self.endpoints)} collections={','.join(self.collections)}"

    def _params(self, cursor: int | None) -> list[tuple[str, str]]:
        params = [("wantedCollections", c) for c in self.collections]
        params.append(("maxMessageSizeBytes", str(self.max_frame_bytes)))
        if cursor is not None:
            params.append(("cursor", str(max(0, cursor - self.rewind_us))))
        return params

    async def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        cursor = _resume_time(resume)
        attempt, index = 0, 0
        async with aiohttp.ClientSession() as session:
            while True:
                endpoint = self.endpoints[index % len(self.endpoints)]
                reason = "closed"
                try:
                    async with session.ws_connect(endpoint, params=self._params(cursor), heartbeat=30.0,
                                                  max_msg_size=self.max_frame_bytes + 65_536,
                                                  compress=15 if self.compress else 0,
                                                  timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0)
                                                  ) as ws:
                        events.connected()
                        log.info("%s: connected to %s (cursor %s, %s)", self.source_id, endpoint, cursor,
                                 "permessage-deflate" if ws.compress else "uncompressed")
                        async for fetched in self._frames(ws):
                            attempt = 0  # this connection works: a later loss starts the backoff afresh
                            if fetched.cursor is not None:
                                cursor = int(fetched.cursor["time_us"])
                            yield fetched
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    reason = "http_5xx" if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status >= 500 \
                        else "network"
                    log.info("%s: %s: %s", self.source_id, endpoint, type(exc).__name__)
                attempt += 1
                index += 1  # the next instance: the same time_us cursor is valid on every one
                delay = self.backoff.delay(attempt)
                events.reconnecting(reason, delay)
                log.warning("%s: connection to %s lost (%s); reconnecting to %s in %.1fs", self.source_id, endpoint,
                            reason, self.endpoints[index % len(self.endpoints)], delay)
                await self._sleep(delay)

    async def _frames(self, ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Fetched]:
        while True:
            try:
                msg = await ws.receive(timeout=self.idle_timeout)
            except TimeoutError:
                log.warning("%s: no event for %.0fs; reconnecting", self.source_id, self.idle_timeout)
                return
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = msg.data.encode("utf-8", "surrogatepass")
            elif msg.type == aiohttp.WSMsgType.BINARY:  # not asked for (no compress=true): forwarded, dead-lettered
                data = bytes(msg.data)
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                if msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("%s: WebSocket error: %s", self.source_id, ws.exception())
                return
            yield _fetched(data)


def _fetched(data: bytes) -> Fetched:
    """A frame as a unit: its bytes unless it is an identity/account event, and the cursor it moves to."""
    time_us = _TIME_US.search(data)
    cursor = {"time_us": time_us.group(1).decode()} if time_us else None
    kind = _KIND.search(data)
    if kind is not None and kind.group(1) in (b"identity", b"account") and cursor is not None \
            and b'"commit"' not in data:
        return Fetched((), cursor)
    return Fetched((data,), cursor)


def _resume_time(resume: Cursor | None) -> int | None:
    if not resume or "time_us" not in resume:
        return None
    try:
        return int(resume["time_us"])
    except ValueError:
        log.warning("checkpoint cursor %r is not a time_us; starting at the live tail", resume)
        return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", action="append", default=[], metavar="WSS_URL",
                        help="Jetstream /subscribe URL, repeatable, tried in turn (default: the four public ones)")
    parser.add_argument("--collection", action="append", default=[], metavar="NSID",
                        help=f"wantedCollections (default: {POST_COLLECTION})")
    parser.add_argument("--rewind-seconds", type=float, default=5.0,
                        help="rewind the cursor this much on reconnect, for gapless playback (%(default)s)")
    parser.add_argument("--idle-timeout", type=float, default=60.0,
                        help="reconnect after this many seconds without an event (%(default)s)")
    parser.add_argument("--compress", action="store_true",
                        help="offer WebSocket permessage-deflate; used when the instance accepts it")
    parser.add_argument("--max-frame-bytes", type=int, default=16 * 1024 * 1024,
                        help="maxMessageSizeBytes asked of Jetstream (%(default)s)")


def from_args(args: argparse.Namespace, sources: SourcesSettings) -> JetstreamConnector:
    endpoints = args.endpoint or list(PUBLIC_INSTANCES)
    bad = [e for e in endpoints if not e.startswith(("ws://", "wss://"))]
    if bad:
        raise ConnectorConfigError(f"--endpoint must be a ws:// or wss:// URL: {', '.join(bad)}")
    return JetstreamConnector(endpoints, source_id=args.source_id or "bluesky:jetstream",
                              collections=args.collection or (POST_COLLECTION,), rewind_seconds=args.rewind_seconds,
                              idle_timeout=args.idle_timeout, max_frame_bytes=args.max_frame_bytes,
                              compress=args.compress)

