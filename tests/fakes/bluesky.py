"""A fake Jetstream (https://github.com/bluesky-social/jetstream): `GET /subscribe` WebSocket with `wantedCollections`,
`cursor` (time_us; events at or after it are replayed) and `maxMessageSizeBytes` (larger events are not sent).

It serves `count` post commits made from the documented Jetstream fixtures (tests/unit/fixtures/networks/bluesky_*.json,
tests/unit/fixtures/bluesky/*.jsonc) with fresh rkeys and time_us, interleaved with the identity and account events
every subscriber gets and with delete commits, then stays open as a quiet live tail.

Fault switches: `drop_after` closes the connection after that many events (once per value set); `refuse_next` answers
the next handshakes with 503; `malformed_at` / `oversize_at` put a non-JSON frame / a frame of `oversize_bytes` at
those positions of the stream (they move no cursor and name no post); `pace` spaces the events out."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSMsgType, web

from processors.normalizers import detect_and_normalize
from processors.normalizers.deletions import deletion_of
from tests.fakes.server import FakeServer
from tests.unit.fixture_files import FIXTURES, load_jsonc

# From Jetstream's README ("Example events"): sent to every subscriber regardless of wantedCollections.
IDENTITY = {"did": "did:plc:ufbl4k27gp6kzas5glhz7fim", "time_us": 0, "kind": "identity",
            "identity": {"did": "did:plc:ufbl4k27gp6kzas5glhz7fim", "handle": "yohenrique.bsky.social",
                         "seq": 1409752997, "time": "2024-09-05T06:11:04.870Z"}}
ACCOUNT = {"did": "did:plc:ufbl4k27gp6kzas5glhz7fim", "time_us": 0, "kind": "account",
           "account": {"active": True, "did": "did:plc:ufbl4k27gp6kzas5glhz7fim", "seq": 1409753013,
                       "time": "2024-09-05T06:11:04.870Z"}}


def _templates() -> list[dict[str, Any]]:
    return [json.loads((FIXTURES / "networks" / "bluesky_post.json").read_text()),
            json.loads((FIXTURES / "networks" / "bluesky_reply.json").read_text()),
            load_jsonc("bluesky/jetstream_post_short_link.jsonc"),
            load_jsonc("bluesky/jetstream_post_anchor_link.jsonc")]


class FakeJetstream(FakeServer):
    network = "bluesky"

    def __init__(self, count: int = 50, *, deletions_every: int = 10, start: datetime | None = None) -> None:
        super().__init__()
        start = start or datetime.now(UTC) - timedelta(hours=1)
        base_us = int(start.timestamp() * 1_000_000)
        templates = _templates()
        self.events: list[dict[str, Any]] = []
        self.post_ids: set[str] = set()
        self.deletion_ids: set[str] = set()
        now = datetime.now(UTC)
        for i in range(count):
            time_us = base_us + i * 1_000_000
            post = copy.deepcopy(templates[i % len(templates)])
            post["time_us"] = time_us
            post["commit"]["rkey"] = f"3lfake{i:07d}"
            post["commit"]["record"]["createdAt"] = datetime.fromtimestamp(time_us / 1e6, UTC).isoformat()
            self.events.append(post)
            self.post_ids.add(detect_and_normalize(post, now=now).event_id)
            if i % 7 == 3:
                self.events.append({**(IDENTITY if i % 2 else ACCOUNT), "time_us": time_us + 1})
            if deletions_every and i % deletions_every == deletions_every - 1:
                delete = {"did": post["did"], "time_us": time_us + 2, "kind": "commit",
                          "commit": {"rev": "3lfakedel", "operation": "delete", "collection": "app.bsky.feed.post",
                                     "rkey": f"3lfake{i - 1:07d}"}}
                self.events.append(delete)
                deletion = deletion_of(delete, source="fake", now=now)
                assert deletion is not None
                self.deletion_ids.add(deletion.deletion_id)
        self.drop_after: int | None = None
        self.refuse_next = 0
        self.malformed_at: set[int] = set()
        self.oversize_at: set[int] = set()
        self.oversize_bytes = 1_200_000
        self.pace = 0.0  # seconds between events (0: as fast as the socket takes them)
        self.connections: list[dict[str, Any]] = []  # query of each accepted subscription

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/subscribe", self._subscribe)

    def listen_args(self) -> list[str]:
        return ["--endpoint", f"{self.ws_url}/subscribe", "--rewind-seconds", "2"]

    def expected_event_ids(self) -> set[str]:
        return set(self.post_ids)

    def expected_deletion_ids(self) -> set[str]:
        return set(self.deletion_ids)

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return web.Response(status=503, text="overloaded")
        wanted = request.query.getall("wantedCollections", [])
        cursor = int(request.query["cursor"]) if "cursor" in request.query else None
        limit = int(request.query.get("maxMessageSizeBytes", "0"))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connections.append({"wanted": wanted, "cursor": cursor, "limit": limit, "deflate": bool(ws.compress)})
        # Without a cursor a real Jetstream starts at the live tail; this fake's "live" events are all of them.
        sent = 0
        drop = self.drop_after
        for position, event in enumerate(self.events):
            if cursor is not None and event["time_us"] < cursor:
                continue
            if event["kind"] == "commit" and wanted and event["commit"]["collection"] not in wanted:
                continue
            if position in self.malformed_at:
                await ws.send_str('{"did": "did:plc:broken", "time_us": ')
            if position in self.oversize_at:
                big = {"did": "did:plc:big", "time_us": event["time_us"], "kind": "commit", "commit": {
                    "rev": "x", "operation": "create", "collection": "app.bsky.feed.post", "rkey": f"big{position}",
                    "record": {"text": "x" * self.oversize_bytes, "createdAt": "2026-01-01T00:00:00Z"}}}
                frame = json.dumps(big)
                if not limit or len(frame) <= limit:
                    await ws.send_str(frame)
            await ws.send_str(json.dumps(event))
            if self.pace:
                await asyncio.sleep(self.pace)
            sent += 1
            if drop is not None and sent >= drop:
                self.drop_after = None  # once
                await ws.close()
                return ws
        async for msg in ws:  # the quiet live tail, until the client goes
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        return ws
