"""A fake Mastodon instance: the streaming WebSocket, the REST timelines and the instance endpoints, as documented.

- `GET /api/v2/instance` (`configuration.urls.streaming`), `GET /api/v1/instance` (`urls.streaming_api`),
  `GET /api/v1/streaming/health` (`OK`): https://docs.joinmastodon.org/methods/instance/,
  https://docs.joinmastodon.org/methods/streaming/#health.
- `GET /api/v1/streaming?stream=...[&tag=...][&list=...]` WebSocket: frames `{"stream", "event", "payload"}` with the
  Status as a JSON string; `delete` frames with a local id; `{"error", "status"}` for a bad subscription. Like
  Mastodon >= 4.2 it refuses a handshake without a valid token with HTTP 401 (`require_token_for_streaming`). Pings
  every `ping_seconds`, as the streaming server does every 30 s.
- `GET /api/v1/timelines/public[?local=true]`, `/api/v1/timelines/tag/:hashtag`, `/api/v1/timelines/list/:id` with
  `limit` (20, at most 40), `max_id`, `since_id`, `min_id` (the statuses right after it), newest first, a `Link`
  header (rel="next" max_id, rel="prev" min_id) and X-RateLimit-Limit/Remaining/Reset (ISO 8601); when the budget is
  spent, 429 with those headers and no Retry-After, as rack-attack answers
  (https://github.com/mastodon/mastodon/blob/main/config/initializers/rack_attack.rb).

It serves `count` statuses of the stream it is built for, made from the documented statuses of
tests/unit/fixtures/mastodon/ with fresh ids (snowflakes of recent creation times), uris, urls and a number added to
the text, and a `delete` frame after every `deletions_every` statuses. Publishing starts when the first client
subscribes or reads the timeline, `pace` seconds apart (0: at once), and goes on whoever is connected: a status
published while no socket is open is found in the REST timeline by a connector's backfill, which is how a restart
shows no gap. Deleted statuses stay in the timeline (a simplification: every served post stays fetchable).

Fault switches: `drop_after` (abort the socket after that many frames on it, once), `refuse_ws` / `refuse_rest`
(the next handshakes / timeline requests get these statuses, with `Retry-After: retry_after` unless it is None),
`rest_malformed` (the next timeline answers are a 200 that is not JSON), `malformed_at` / `oversize_at` (a non-JSON
frame / an `update` frame of `oversize_bytes` before the status at that position; WebSocket only), `rate_limit`
(requests per window; `reset_at` is the window's end), `instance_api` ("v2", "v1" or "none": which instance
endpoints exist), `public_preview` (False: timelines need a token), `timelines_access` (the v2 instance's
`configuration.timelines_access`, Mastodon >= 4.5; the fake's timelines do not enforce it).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSMsgType, web

from processors.normalizers import detect_and_normalize
from processors.normalizers.deletions import deletion_of
from tests.fakes.server import FakeServer
from tests.unit.fixture_files import load_jsonc

TOKEN = "fake-mastodon-token-3f9c1e"
STREAMS = ("public", "public:media", "public:local", "public:local:media", "public:remote", "public:remote:media",
           "hashtag", "hashtag:local", "user", "user:notification", "list", "direct")
ERRORS = load_jsonc("mastodon/error_responses.jsonc")


def templates() -> list[dict[str, Any]]:
    """The documented public statuses the served ones are made from."""
    frame = load_jsonc("mastodon/frame_update_public.jsonc")
    return [json.loads(frame["payload"]),
            load_jsonc("mastodon/status_edited.jsonc"),
            load_jsonc("mastodon/status_parent.jsonc"),
            load_jsonc("mastodon/status_self_reply.jsonc"),
            load_jsonc("mastodon/status_reply_remote_parent.jsonc"),
            load_jsonc("mastodon/notification_mention.jsonc")["status"],
            load_jsonc("mastodon/timeline_tag_response.jsonc")["body"][0]]


def snowflake(when: datetime, sequence: int) -> int:
    """Mastodon's id scheme (lib/mastodon/snowflake.rb): milliseconds since the epoch, shifted 16 bits, + a sequence."""
    return (int(when.timestamp() * 1000) << 16) | (sequence & 0xFFFF)


def _vary(template: dict[str, Any], i: int, status_id: int, created: datetime) -> dict[str, Any]:
    status = copy.deepcopy(template)
    old = str(template["id"])
    status["id"] = str(status_id)
    status["created_at"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for key in ("uri", "url"):
        value = status.get(key)
        if not isinstance(value, str):
            continue
        value = re.sub(r"/\d{6,}(?=$|/)", f"/{status_id}", value.replace(old, str(status_id)))
        if "/objects/" in value:
            value = value.rsplit("/", 1)[0] + "/" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-mastodon/{i}"))
        status[key] = value
    status["content"] = f"{status['content']}<p>{i}</p>"
    status["edited_at"] = None
    status["visibility"] = "public"  # on the public timelines (one template is an unlisted reply)
    return status


class FakeMastodon(FakeServer):
    network = "mastodon"

    def __init__(self, count: int = 50, *, stream: str = "public:local", tag: str | None = None,
                 list_id: str | None = None, deletions_every: int = 10, start: datetime | None = None,
                 pace: float = 0.0) -> None:
        super().__init__()
        if stream.startswith("hashtag") and not tag:
            tag = "coffee"
        if stream == "list" and not list_id:
            list_id = "12249"
        self.stream, self.tag, self.list_id = stream, tag, list_id
        now = datetime.now(UTC)
        start = start or now - timedelta(hours=2)
        step = timedelta(milliseconds=max(1, int(timedelta(hours=1).total_seconds() * 1000) // max(1, count)))
        bases = templates()
        self.statuses: list[dict[str, Any]] = []
        self.post_ids: set[str] = set()
        for i in range(count):
            created = start + i * step
            status = _vary(bases[i % len(bases)], i, snowflake(created, i), created)
            if tag:
                href = f"https://fake.example/tags/{tag}"
                link = f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'
                status["content"] += f"<p>{link}</p>"
                status["tags"] = [*status.get("tags", []), {"name": tag, "url": href}]
            self.statuses.append(status)
            self.post_ids.add(detect_and_normalize(status, now=now).event_id)
        assert len(self.post_ids) == count, "every served status is a distinct post"
        self.deletions_every = deletions_every
        self.deleted: list[str] = [self.statuses[i - 1]["id"] for i in range(count)
                                   if deletions_every and i % deletions_every == deletions_every - 1]
        self.pace = pace
        # fault switches and behaviour (module docstring)
        self.drop_after: int | None = None
        self.refuse_ws: list[int] = []
        self.refuse_rest: list[int] = []
        self.retry_after: int | None = 1
        self.rest_malformed = 0
        self.malformed_at: set[int] = set()
        self.oversize_at: set[int] = set()
        self.oversize_bytes = 1_200_000
        self.rate_limit = 300
        self.reset_at: datetime | None = None
        self.instance_api = "v2"
        self.public_preview = True
        self.require_token_for_streaming = True
        self.ping_seconds: float | None = 1.0
        self.streaming_url: str | None = None  # what the instance endpoints name (default: this server)
        self.timelines_access: dict[str, Any] | None = None  # Mastodon >= 4.5 `configuration.timelines_access`
        # what happened
        self.published: list[dict[str, Any]] = []
        self.published_ids: list[int] = []
        self.ws_connections: list[dict[str, Any]] = []  # one per handshake: query, auth, host, answer
        self.timeline_requests: list[dict[str, Any]] = []  # one per request: path, query, auth, status, link
        self.frames_sent = 0
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._publisher: asyncio.Task[None] | None = None
        self._used = 0
        self._window_end: datetime | None = None

    # -- FakeServer
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v2/instance", self._instance_v2)
        app.router.add_get("/api/v1/instance", self._instance_v1)
        app.router.add_get("/api/v1/streaming/health", self._health)
        app.router.add_get("/api/v1/streaming", self._streaming)
        app.router.add_get("/api/v1/timelines/public", self._timeline_public)
        app.router.add_get("/api/v1/timelines/tag/{hashtag}", self._timeline_tag)
        app.router.add_get("/api/v1/timelines/list/{list_id}", self._timeline_list)

    def listen_args(self) -> list[str]:
        args = ["--instance", self.base_url, "--stream", self.stream, "--idle-timeout", "10"]
        if self.tag:
            args += ["--tag", self.tag]
        if self.list_id:
            args += ["--list-id", self.list_id]
        return args

    def env(self) -> dict[str, str]:
        return {"SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN": TOKEN}

    def expected_event_ids(self) -> set[str]:
        return set(self.post_ids)

    def expected_deletion_ids(self) -> set[str]:
        """The deletions of the stream, as the runner names them (`instance` is host:port of `base_url`)."""
        out = set()
        for local_id in self.deleted:
            deletion = deletion_of(self._delete_frame(local_id), source="fake", now=datetime.now(UTC),
                                   instance=f"127.0.0.1:{self.port}")
            assert deletion is not None
            out.add(deletion.deletion_id)
        return out

    # -- publishing
    def _stream_names(self) -> list[str]:
        if self.tag:
            return [self.stream, self.tag]
        if self.list_id:
            return [self.stream, self.list_id]
        return [self.stream]

    def _delete_frame(self, local_id: str) -> dict[str, Any]:
        return {"stream": self._stream_names(), "event": "delete", "payload": local_id}

    def _update_frame(self, status: dict[str, Any]) -> str:
        payload = json.dumps(status, ensure_ascii=False, separators=(",", ":"))
        return json.dumps({"stream": self._stream_names(), "event": "update", "payload": payload}, ensure_ascii=False)

    def _broadcast(self, frame: str) -> None:
        for queue in self._subscribers:
            queue.put_nowait(frame)

    def start_publishing(self, timeout: float = 10.0) -> None:
        """From a test's thread: publish now, and return once every status is published."""
        assert self._loop is not None, "start the server first"

        async def publish() -> None:
            self._ensure_publishing()
            assert self._publisher is not None
            await asyncio.shield(self._publisher)

        asyncio.run_coroutine_threadsafe(publish(), self._loop).result(timeout)

    def _ensure_publishing(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        deleted = iter(self.deleted)
        for i, status in enumerate(self.statuses):
            if i in self.malformed_at:
                self._broadcast(f'{{"stream": {json.dumps(self._stream_names())}, "event": "update", "payload": "{{')
            if i in self.oversize_at:
                big = {**status, "id": str(int(status["id"]) - 1), "uri": status["uri"] + "-big", "url": None,
                       "content": "<p>" + "x" * self.oversize_bytes + "</p>"}
                self._broadcast(self._update_frame(big))
            self.published.append(status)
            self.published_ids.append(int(status["id"]))
            self._broadcast(self._update_frame(status))
            if self.deletions_every and i % self.deletions_every == self.deletions_every - 1:
                self._broadcast(json.dumps(self._delete_frame(next(deleted))))
            if self.pace:
                await asyncio.sleep(self.pace)
            elif i % 200 == 199:
                await asyncio.sleep(0)

    # -- instance endpoints
    async def _instance_v2(self, request: web.Request) -> web.Response:
        if self.instance_api != "v2":
            return web.json_response(ERRORS["record_not_found"], status=404)
        body = load_jsonc("mastodon/instance_v2.jsonc")
        body["domain"] = "127.0.0.1"
        body["configuration"]["urls"]["streaming"] = self.streaming_url or self.ws_url
        if self.timelines_access is not None:
            body["configuration"]["timelines_access"] = self.timelines_access
        return web.json_response(body)

    async def _instance_v1(self, request: web.Request) -> web.Response:
        if self.instance_api not in ("v1", "v2"):
            return web.json_response(ERRORS["record_not_found"], status=404)
        body = load_jsonc("mastodon/instance_v1.jsonc")
        body["uri"] = f"127.0.0.1:{self.port}"
        body["urls"]["streaming_api"] = self.streaming_url or self.ws_url
        return web.json_response(body)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK", content_type="text/plain")

    # -- the WebSocket
    def _token_of(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ")
        return request.query.get("access_token") or request.headers.get("Sec-WebSocket-Protocol")

    async def _streaming(self, request: web.Request) -> web.StreamResponse:
        token = self._token_of(request)
        seen: dict[str, Any] = {"query": dict(request.query), "host": request.host,
                                "authorization": request.headers.get("Authorization"), "answer": 101}
        self.ws_connections.append(seen)
        if self.refuse_ws:
            seen["answer"] = status = self.refuse_ws.pop(0)
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
            return web.Response(status=status, text="busy", headers=headers)
        if (token is not None and token != TOKEN) or (token is None and self.require_token_for_streaming):
            seen["answer"] = 401
            return web.Response(status=401, text="Unauthorized")
        ws = web.WebSocketResponse(heartbeat=self.ping_seconds, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return web.json_response(ERRORS["unknown_channel"], status=400)
        await ws.prepare(request)
        stream = request.query.get("stream")
        error = self._subscription_error(stream, request.query)
        if error is not None:
            await ws.send_str(json.dumps(error))
            await self._drain(ws)
            return ws
        if stream != self.stream or (request.query.get("tag") or "").lower() != (self.tag or "").lower():
            await self._drain(ws)  # another stream of this instance: nothing is posted there
            return ws
        await self._serve(request, ws)
        return ws

    def _subscription_error(self, stream: str | None, query: Any) -> dict[str, Any] | None:
        if stream not in STREAMS:
            return dict(ERRORS["unknown_stream"])
        if stream.startswith("hashtag") and not query.get("tag"):
            return {"error": "No tag for stream provided", "status": 400}
        if stream == "list" and query.get("list") != self.list_id:
            return {"error": "Not authorized to stream this list", "status": 401}
        return None

    async def _drain(self, ws: web.WebSocketResponse) -> None:
        async for msg in ws:  # until the client goes
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(queue)
        self._ensure_publishing()
        reader = asyncio.create_task(self._drain(ws))
        drop, sent = self.drop_after, 0
        try:
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                await ws.send_str(getter.result())
                sent += 1
                self.frames_sent += 1
                if drop is not None and sent >= drop:
                    self.drop_after = None  # once
                    if request.transport is not None:
                        request.transport.abort()  # the connection drops mid-stream, no close frame
                    break
        except ConnectionError:
            pass
        finally:
            self._subscribers.discard(queue)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await reader

    # -- REST timelines
    async def _timeline_public(self, request: web.Request) -> web.StreamResponse:
        local = request.query.get("local") in ("true", "1")
        mine = self.stream == ("public:local" if local else "public")
        return await self._timeline(request, mine)

    async def _timeline_tag(self, request: web.Request) -> web.StreamResponse:
        local = request.query.get("local") in ("true", "1")
        if self.tag is None or request.match_info["hashtag"].lower() != self.tag.lower():
            return await self._timeline(request, False, unknown=True)
        return await self._timeline(request, self.stream == ("hashtag:local" if local else "hashtag"))

    async def _timeline_list(self, request: web.Request) -> web.StreamResponse:
        return await self._timeline(request, request.match_info["list_id"] == self.list_id, needs_token=True,
                                    unknown=request.match_info["list_id"] != self.list_id)

    def _roll_window(self) -> None:
        if self.reset_at is not None:  # a test fixed the window: only reset_budget() ends it
            return
        now = datetime.now(UTC)
        if self._window_end is None or self._window_end <= now:
            self._window_end, self._used = now + timedelta(minutes=5), 0

    def _rate_headers(self) -> dict[str, str]:
        end = self.reset_at or self._window_end or datetime.now(UTC)
        return {"X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - self._used)),
                "X-RateLimit-Reset": end.isoformat(timespec="microseconds").replace("+00:00", "Z")}

    def reset_budget(self) -> None:
        """The rate-limit window ends (tests call it where a client waited for X-RateLimit-Reset)."""
        self._used = 0

    async def _timeline(self, request: web.Request, mine: bool, *, needs_token: bool = False,
                        unknown: bool = False) -> web.StreamResponse:
        token = self._token_of(request)
        seen: dict[str, Any] = {"path": request.path, "query": dict(request.query),
                                "authorization": request.headers.get("Authorization")}
        self.timeline_requests.append(seen)

        def answer(response: web.StreamResponse) -> web.StreamResponse:
            seen["status"] = response.status
            seen["link"] = response.headers.get("Link")
            return response

        if (token is not None and token != TOKEN) or (token is None and (needs_token or not self.public_preview)):
            return answer(web.json_response(ERRORS["invalid_token"], status=401))
        self._roll_window()
        if self.refuse_rest:
            status = self.refuse_rest.pop(0)
            headers = self._rate_headers()
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
            return answer(web.json_response({"error": "Too many requests" if status == 429 else "busy"},
                                            status=status, headers=headers))
        self._used += 1
        headers = self._rate_headers()
        if self._used > self.rate_limit:
            headers["X-RateLimit-Remaining"] = "0"
            return answer(web.json_response({"error": "Too many requests"}, status=429, headers=headers))
        if self.rest_malformed > 0:
            self.rest_malformed -= 1
            return answer(web.Response(status=200, body=b"<html>502 Bad Gateway</html>", headers=headers,
                                       content_type="text/html"))
        if unknown:
            return answer(web.json_response(ERRORS["record_not_found"], status=404, headers=headers))
        self._ensure_publishing()
        page = self._page(request.query) if mine else []
        if page:
            headers["Link"] = self._link(request, page)
        return answer(web.Response(body=json.dumps(page, ensure_ascii=False).encode(), headers=headers,
                                   content_type="application/json"))

    def _page(self, query: Any) -> list[dict[str, Any]]:
        """Mastodon's id pagination over what was published (ids ascending), newest first."""
        limit = min(40, max(1, int(query.get("limit", "20"))))
        low, high = 0, len(self.published_ids)
        for name in ("since_id", "min_id"):
            if name in query:
                low = max(low, bisect.bisect_right(self.published_ids, int(query[name])))
        if "max_id" in query:
            high = min(high, bisect.bisect_left(self.published_ids, int(query["max_id"])))
        if high <= low:
            return []
        chosen = self.published[low:low + limit] if "min_id" in query else self.published[max(low, high - limit):high]
        return list(reversed(chosen))

    def _link(self, request: web.Request, page: list[dict[str, Any]]) -> str:
        keep = {k: v for k, v in request.query.items() if k in ("local", "remote", "only_media", "limit")}
        base = f"{self.base_url}{request.path}?"
        extra = "".join(f"{k}={v}&" for k, v in keep.items())
        return (f'<{base}{extra}max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}{extra}min_id={page[0]["id"]}>; rel="prev"')
