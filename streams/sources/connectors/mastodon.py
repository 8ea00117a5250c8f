"""Mastodon: one instance's public, local, hashtag or list timeline, streamed live and backfilled from its REST API.

Protocol (https://docs.joinmastodon.org/methods/streaming/):
- **Streaming host**: `GET /api/v2/instance` → `configuration.urls.streaming`, else `GET /api/v1/instance` →
  `urls.streaming_api` (servers before 4.0), else the instance's own host ("Hostname discovery"). Since 4.5 the v2
  instance also says who may read each feed (`timelines_access`): a feed shown to logged-in users only (and no
  token), or disabled, stops the connector rather than streaming nothing.
- **Stream**: a WebSocket `GET <streaming host>/api/v1/streaming?stream=<public|public:local|hashtag|hashtag:local|
  list>[&tag=<name>][&list=<id>]`, the token in `Authorization: Bearer` (the documented preferred style; never the
  `access_token` query parameter, which ends up in access logs). Each text frame is `{"stream": [...], "event",
  "payload"}` and is forwarded as the bytes received: the normaliser unwraps `update` / `status.update` (a Status
  as a JSON string), the runner turns `delete` (a local status id of this instance, `instance`) into a Deletion.
  A frame `{"error", "status"}` refuses the subscription.
- **Backfill** (https://docs.joinmastodon.org/methods/timelines/): the REST timeline of the same stream
  (`/api/v1/timelines/public[?local=true]`, `/api/v1/timelines/tag/:hashtag[?local=true]`,
  `/api/v1/timelines/list/:id`) with `min_id` and `limit=40`, which returns the 40 statuses right after `min_id`,
  newest first; the next page starts at the page's newest id (the `min_id` of its Link header's `rel="prev"`).
  Each status becomes its own payload, in id order, one unit per page.
- **Cursor**: `{"since_id": "<the highest local status id read>"}` (ids are numeric strings, compared as integers).
  On every (re)connect with a cursor: backfill (caught up once a page is short), open the WebSocket, then backfill
  again until an empty page, so what was posted while the socket opened is read too. Statuses read twice are
  absorbed downstream by `event_id`; none falls between the timeline and the socket. Without a checkpoint the stream
  starts at the present (no backfill).
- **No token**: since Mastodon 4.2 the streaming server refuses a handshake without a user token (HTTP 401). Then,
  and only without a token, the connector polls the REST timeline instead (every `--poll-seconds`, from the cursor,
  or from the newest 40 statuses without one). A refused token, or a timeline refused without one, is a
  ConnectorConfigError naming SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN.
- **Backoff and limits**: Mastodon documents no reconnect schedule, so: network faults and lost sockets 1 s doubling
  to 30 s, 5xx 5 s to 120 s, 429 1 min to 15 min, each with jitter, unless the answer says when (Retry-After, or
  X-RateLimit-Reset, an ISO 8601 time: https://docs.joinmastodon.org/api/rate-limits/). When a REST answer says
  X-RateLimit-Remaining: 0 the next request waits for X-RateLimit-Reset. A connection that delivered a frame resets
  the schedule. The server pings every 30 s; no frame (pings included) for `--idle-timeout` s is a dead socket. A
  timeline answer that is not a JSON array is forwarded (the worker dead-letters it) and asked again on the 5xx
  schedule.
- **Sizes**: frames up to 16 MiB are read (a larger one closes the socket: the reconnect's backfill reads the status
  again); one over the Kafka limit becomes a `record_too_large` dead letter in the runner.

Not done: the SSE transport (`/api/v1/streaming/public` etc.; the WebSocket carries the same events), the `user`,
`direct` and notification streams (private), several streams on one socket, `only_media` and `public:remote`.
A federated status can reach the instance with an id below the cursor (ids follow creation time, for a remote status
its own): a backfill after a restart, ordered by id, misses those that arrived while the connector was down.
Deletions sent while the socket was down are not replayed by Mastodon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import msgspec
from pydantic import SecretStr
from yarl import URL

from schemas.events import Network
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors.base import ConnectorConfigError, Cursor, Fetched, SourceEvents
from streams.sources.connectors.http import (
    Backoffs,
    HttpRefused,
    Response,
    header,
    request,
    retry_of,
    safe_url,
)

log = logging.getLogger(__name__)

STREAMS = ("public", "public:local", "hashtag", "hashtag:local", "list")
TOKEN_ENV = "SOCIALPULSE_SOURCES__MASTODON_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a value
PAGE_LIMIT = 40  # the documented maximum of the timelines' `limit`

HELP = "Mastodon: an instance's public, local, hashtag or list timeline (WebSocket, backfilled by REST)"
DESCRIPTION = f"""\
Listen to one Mastodon instance: new statuses (and edits and deletions) of its federated (public) or local
(public:local) timeline, of a hashtag, or of one of your lists. Resumes from its checkpoint (the highest status
id read), filling the gap from the REST timeline before streaming again.

An access token is optional except for --stream list:
  {TOKEN_ENV} (or {TOKEN_ENV}_FILE)
Without one, instances on Mastodon 4.2 or later refuse the WebSocket, and the connector polls the REST timeline
every --poll-seconds instead. With one (Preferences > Development > New application, scope read:statuses, plus
read:lists for lists), it streams.

Run it as is, with internet:
  socialpulse listen mastodon --instance https://mastodon.social --stream public:local --metrics-port 9102
Streaming with a token, a hashtag across the federation:
  {TOKEN_ENV}=... socialpulse listen mastodon --instance https://mastodon.social \\
      --stream hashtag --tag coffee --metrics-port 9102
"""


def default_backoffs() -> Backoffs:
    """Modest schedules (Mastodon documents none): network 1 s→30 s, 5xx 5 s→120 s, 429 1 min→15 min."""
    return Backoffs(network=RetryPolicy(1.0, 30.0), server=RetryPolicy(5.0, 120.0),
                    rate_limited=RetryPolicy(60.0, 900.0))


def mastodon_rate_limit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `X-RateLimit-Reset`, an ISO 8601 time (`2022-11-21T21:00:00.304384Z`); None when absent/bad."""
    value = header(headers, "X-RateLimit-Reset")
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class _Frame(msgspec.Struct):
    """What the connector reads of a frame (the bytes go on whole)."""

    event: Any = None
    payload: msgspec.Raw = msgspec.Raw()
    error: Any = None
    status: Any = None


class _StatusId(msgspec.Struct):
    id: str | int


_FRAME = msgspec.json.Decoder(_Frame)
_STATUS_ID = msgspec.json.Decoder(_StatusId)
_STR = msgspec.json.Decoder(str)


def _numeric(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 30:
        return int(value)
    return None


def frame_status_id(frame: _Frame) -> int | None:
    """The local id of the Status an `update` / `status.update` frame carries (its payload is a JSON string)."""
    raw = bytes(frame.payload)
    try:
        if raw[:1] == b'"':
            raw = _STR.decode(raw).encode()
        return _numeric(_STATUS_ID.decode(raw).id)
    except (msgspec.DecodeError, UnicodeEncodeError):
        return None


class _Refused(Exception):
    """The stream answered with something waiting may cure (a 429 or 5xx): reconnect after `delay` (None: backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.delay = reason, delay


@dataclass
class _Run:
    """The state of one `stream()` call."""

    session: aiohttp.ClientSession
    events: SourceEvents
    since: int | None
    budget_reset_at: float | None = None  # X-RateLimit-Remaining was 0: no request before this (clock) time
    ended: str = "closed"  # why the last socket ended
    connected: bool = False  # the current socket delivered a frame

    def advance(self, status_id: int) -> bool:
        if self.since is None or status_id > self.since:
            self.since = status_id
            return True
        return False

    def cursor(self) -> Cursor | None:
        return None if self.since is None else {"since_id": str(self.since)}


class MastodonConnector:
    network = Network.MASTODON

    def __init__(self, instance_url: str, *, stream: str = "public", tag: str | None = None,
                 list_id: str | None = None, token: SecretStr | None = None, source_id: str | None = None,
                 backfill: bool = True, idle_timeout: float = 60.0, poll_seconds: float = 10.0,
                 max_frame_bytes: int = 16 * 1024 * 1024, backoffs: Backoffs | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.base, self.instance = _instance(instance_url)
        if stream not in STREAMS:
            raise ConnectorConfigError(f"unknown --stream {stream!r}; one of {', '.join(STREAMS)}")
        tag = tag.lstrip("#").strip() if tag else None
        if stream.startswith("hashtag") != bool(tag):
            raise ConnectorConfigError("--tag names the hashtag of --stream hashtag or hashtag:local, and only then")
        if (stream == "list") != bool(list_id):
            raise ConnectorConfigError("--list-id names the list of --stream list, and only then")
        if list_id is not None and not list_id.isdigit():
            raise ConnectorConfigError(f"--list-id must be a list's numeric id, not {list_id!r}")
        if stream == "list" and token is None:
            raise ConnectorConfigError(f"--stream list needs an access token: set {TOKEN_ENV} (or {TOKEN_ENV}_FILE)")
        if idle_timeout <= 0 or poll_seconds <= 0:
            raise ConnectorConfigError("--idle-timeout and --poll-seconds must be positive")
        self.stream_name, self.tag, self.list_id, self._token = stream, tag, list_id, token
        what = f":{tag.lower()}" if tag else f":{list_id}" if list_id else ""
        self.source_id = source_id or f"mastodon:{self.instance}:{stream}{what}"
        self.backfill, self.idle_timeout, self.poll_seconds = backfill, idle_timeout, poll_seconds
        self.max_frame_bytes = max_frame_bytes
        self.backoffs = backoffs or default_backoffs()
        self._sleep, self._clock = sleep, clock

    def describe(self) -> str:
        what = f" #{self.tag}" if self.tag else f" list {self.list_id}" if self.list_id else ""
        auth = "with an access token" if self._token is not None else "without a token"
        backfill = "on" if self.backfill else "off"
        return f"Mastodon {self.base} stream {self.stream_name}{what}, {auth}, backfill {backfill}"

    # -- the REST side
    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": "socialpulse-listen (+https://docs.joinmastodon.org/methods/streaming/)"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def _timeline(self) -> tuple[str, dict[str, str]]:
        local = {"local": "true"} if self.stream_name.endswith(":local") else {}
        if self.stream_name.startswith("public"):
            return f"{self.base}/api/v1/timelines/public", local
        if self.stream_name.startswith("hashtag"):
            assert self.tag is not None
            return f"{self.base}/api/v1/timelines/tag/{quote(self.tag, safe='')}", local
        return f"{self.base}/api/v1/timelines/list/{self.list_id}", {}

    async def _get(self, run: _Run, url: str, params: Mapping[str, str] | None = None) -> Response:
        if run.budget_reset_at is not None:
            wait = run.budget_reset_at - self._clock()
            run.budget_reset_at = None
            if wait > 0:
                run.events.reconnecting("rate_limited", wait)
                log.info("%s: rate limit used up; waiting %.0fs for X-RateLimit-Reset", self.source_id, wait)
                await self._sleep(wait)
        resp = await request(run.session, "GET", url, events=run.events, backoffs=self.backoffs, params=params,
                             rate_limit_reset=mastodon_rate_limit_reset, sleep=self._sleep, clock=self._clock)
        remaining = header(resp.headers, "X-RateLimit-Remaining")
        if remaining is not None and remaining.strip().isdigit() and int(remaining) <= 0:
            reset = mastodon_rate_limit_reset(resp.headers, self._clock())
            if reset is not None:
                run.budget_reset_at = self._clock() + reset
        return resp

    async def _streaming_base(self, run: _Run) -> str:
        """Where the streaming API is (module docstring): a ws:// or wss:// origin."""
        discovered: list[tuple[str, Callable[[Any], Any]]] = [
            ("/api/v2/instance", lambda d: d["configuration"]["urls"]["streaming"]),
            ("/api/v1/instance", lambda d: d["urls"]["streaming_api"]),
        ]
        for path, pick in discovered:
            try:
                resp = await self._get(run, self.base + path)
                instance = json.loads(resp.body)
                if path == "/api/v2/instance":
                    self._check_access(instance)
                value = pick(instance)
            except HttpRefused as exc:
                log.info("%s: %s: HTTP %d", self.source_id, path, exc.status)
                continue
            except (ValueError, KeyError, TypeError):
                log.info("%s: %s names no streaming URL", self.source_id, path)
                continue
            origin = _ws_origin(value) if isinstance(value, str) else None
            if origin is not None:
                return origin
        return _ws_origin(self.base) or self.base

    def _check_access(self, instance: object) -> None:
        """Mastodon >= 4.5 says who may read each feed (`configuration.timelines_access`: public, authenticated or
        disabled, for local and remote posts; https://docs.joinmastodon.org/methods/timelines/): a feed this stream
        cannot read is a configuration error, not an empty stream."""
        if self.stream_name == "list" or not isinstance(instance, dict):
            return
        access = (instance.get("configuration") or {}).get("timelines_access")
        feeds = access.get("hashtag_feeds" if self.stream_name.startswith("hashtag") else "live_feeds") \
            if isinstance(access, dict) else None
        if not isinstance(feeds, dict):
            return
        levels = [feeds.get("local")] if self.stream_name.endswith(":local") else [feeds.get("local"),
                                                                                  feeds.get("remote")]
        readable = [lv for lv in levels if lv != "disabled" and (lv != "authenticated" or self._token is not None)]
        if readable:
            return
        if "authenticated" in levels:
            raise ConnectorConfigError(f"{self.instance} shows this feed to logged-in users only: set {TOKEN_ENV}"
                                       f" (or {TOKEN_ENV}_FILE)")
        raise ConnectorConfigError(f"{self.instance} has disabled the feed of --stream {self.stream_name}")

    async def _pages(self, run: _Run, *, until_empty: bool) -> AsyncIterator[Fetched]:
        """The timeline after `run.since`, oldest first, one unit per page; without a cursor, its newest page.

        Caught up at an empty page (`until_empty`), else already at a short one."""
        url, params = self._timeline()
        failures = 0
        while True:
            query = {**params, "limit": str(PAGE_LIMIT)}
            if run.since is not None:
                query["min_id"] = str(run.since)
            resp = await self._timeline_get(run, url, query)
            if resp is None:
                yield Fetched((), run.cursor())
                return
            statuses = _json_list(resp.body)
            if statuses is None:  # not a JSON array: forwarded for its dead letter, then asked again after a wait
                failures += 1
                delay = self.backoffs.server.delay(failures)
                log.warning("%s: %s answered a body that is not a list of statuses; retrying in %.1fs",
                            self.source_id, safe_url(url), delay)
                yield Fetched((resp.body,), None)
                run.events.reconnecting("malformed", delay)
                await self._sleep(delay)
                continue
            failures = 0
            before = run.since
            yield self._page_unit(run, statuses)  # the next page starts at its newest id, as rel="prev" does
            if before is None or run.since == before or (not until_empty and len(statuses) < PAGE_LIMIT):
                return  # the newest page (no cursor), nothing newer, or caught up

    async def _timeline_get(self, run: _Run, url: str, query: Mapping[str, str]) -> Response | None:
        """One timeline page; None when the hashtag is unknown (404: no backfill). Refusals stop the connector."""
        try:
            return await self._get(run, url, query)
        except HttpRefused as exc:
            if exc.status == 404 and self.stream_name.startswith("hashtag"):
                log.info("%s: hashtag #%s unknown to %s: nothing to backfill", self.source_id, self.tag, self.instance)
                return None
            if exc.status in (401, 403):
                fix = f"check {TOKEN_ENV}" if self._token is not None else f"set {TOKEN_ENV} (or {TOKEN_ENV}_FILE)"
                who = "the access token" if self._token is not None else "access without a token"
                raise ConnectorConfigError(f"{self.instance} refused {who} to {safe_url(url)} (HTTP {exc.status});"
                                           f" {fix}") from None
            if exc.status == 404 and self.stream_name == "list":
                raise ConnectorConfigError(f"list {self.list_id} does not exist on {self.instance} or is not the"
                                           " token's (HTTP 404)") from None
            raise ConnectorConfigError(str(exc)) from None

    def _page_unit(self, run: _Run, statuses: Sequence[object]) -> Fetched:
        ordered: list[tuple[int, object]] = []
        odd: list[bytes] = []
        for status in statuses:
            status_id = _numeric(status.get("id")) if isinstance(status, dict) else None
            if status_id is None:
                odd.append(_dump(status))
            else:
                ordered.append((status_id, status))
        ordered.sort(key=lambda pair: pair[0])
        payloads = [_dump(s) for i, s in ordered if run.since is None or i > run.since] + odd
        if ordered:
            run.advance(ordered[-1][0])
        return Fetched(payloads, run.cursor())

    # -- the stream
    def _stream_url(self, origin: str) -> URL:
        query = {"stream": self.stream_name}
        if self.tag:
            query["tag"] = self.tag
        if self.list_id:
            query["list"] = self.list_id
        return URL(origin).with_path("/api/v1/streaming").with_query(query)

    async def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
        async with aiohttp.ClientSession(headers=self._headers(), timeout=timeout) as session:
            run = _Run(session, events, _resume_since(resume, self.source_id))
            url = self._stream_url(await self._streaming_base(run))
            attempt = 0
            while True:
                wait: float | None = None
                polling = False
                try:
                    async for fetched in self._connection(run, url):
                        if run.connected:
                            attempt = 0  # this connection delivered: a later loss starts the schedule afresh
                        yield fetched
                    reason = run.ended
                except aiohttp.WSServerHandshakeError as exc:
                    polling = exc.status in (401, 403) and self._token is None
                    if not polling:
                        reason, wait = self._handshake_refused(exc)
                    else:
                        log.warning("%s: %s refuses streaming without an access token (HTTP %d, Mastodon >= 4.2);"
                                    " polling the REST timeline every %.0fs instead. Set %s to stream.",
                                    self.source_id, self.instance, exc.status, self.poll_seconds, TOKEN_ENV)
                except _Refused as exc:
                    reason, wait = exc.reason, exc.delay
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    reason = "network"
                    log.info("%s: %s: %s", self.source_id, safe_url(url), type(exc).__name__)
                if polling:
                    async for fetched in self._poll(run):  # forever, or until a refusal stops the connector
                        yield fetched
                attempt += 1
                policy = {"http_5xx": self.backoffs.server, "rate_limited": self.backoffs.rate_limited}.get(
                    reason, self.backoffs.network)
                delay = wait if wait is not None else policy.delay(attempt)
                events.reconnecting(reason, delay)
                log.warning("%s: stream from %s ended (%s); reconnecting in %.1fs", self.source_id, self.instance,
                            reason, delay)
                await self._sleep(delay)

    def _handshake_refused(self, exc: aiohttp.WSServerHandshakeError) -> tuple[str, float | None]:
        headers: Mapping[str, str] = exc.headers or {}
        retry = retry_of(exc.status, headers, now=self._clock(), rate_limit_reset=mastodon_rate_limit_reset)
        if retry is not None:
            backoff, wait = retry
            return ("http_5xx" if backoff == "server" else backoff), wait
        if exc.status in (401, 403):
            raise ConnectorConfigError(f"{self.instance} refused the access token for streaming (HTTP {exc.status});"
                                       f" check {TOKEN_ENV}") from None
        raise ConnectorConfigError(f"{self.instance}: the streaming API refused the connection (HTTP {exc.status}:"
                                   f" {exc.message})") from None

    async def _connection(self, run: _Run, url: URL) -> AsyncIterator[Fetched]:
        """One socket: backfill, connect, backfill the rest, then its frames until it ends (`run.ended`)."""
        run.connected, run.ended = False, "closed"
        if self.backfill and run.since is not None:
            async for fetched in self._pages(run, until_empty=False):
                yield fetched
        async with run.session.ws_connect(url, max_msg_size=self.max_frame_bytes, decode_text=False,
                                          timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0)) as ws:
            run.events.connected()
            log.info("%s: streaming %s (since_id %s)", self.source_id, safe_url(url), run.since)
            if self.backfill and run.since is not None:
                async for fetched in self._pages(run, until_empty=True):
                    yield fetched
            else:
                yield Fetched((), run.cursor())
            while True:
                try:
                    msg = await ws.receive(timeout=self.idle_timeout)
                except TimeoutError:
                    log.warning("%s: no frame for %.0fs; reconnecting", self.source_id, self.idle_timeout)
                    run.ended = "idle"
                    return
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    run.connected = True
                    yield self._frame(run, bytes(msg.data))
                    continue
                if msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("%s: WebSocket error: %s", self.source_id, ws.exception())
                    run.ended = "network"
                return

    def _frame(self, run: _Run, data: bytes) -> Fetched:
        try:
            frame = _FRAME.decode(data)
        except msgspec.DecodeError:
            return Fetched((data,), None)  # not a JSON object: the worker dead-letters it
        if frame.event is None and frame.error is not None:
            self._subscription_refused(frame)
        if frame.event in ("update", "status.update"):
            status_id = frame_status_id(frame)
            if status_id is not None and run.advance(status_id):
                return Fetched((data,), run.cursor())
        return Fetched((data,), None)

    def _subscription_refused(self, frame: _Frame) -> None:
        message = str(frame.error)[:200]
        status = frame.status if isinstance(frame.status, int) else None
        if status is not None and (status == 429 or status >= 500):
            log.warning("%s: subscription refused for now: %s (%d)", self.source_id, message, status)
            raise _Refused("rate_limited" if status == 429 else "http_5xx")
        raise ConnectorConfigError(f"{self.instance} refused the subscription to {self.stream_name}: {message}"
                                   + (f" ({status})" if status is not None else ""))

    async def _poll(self, run: _Run) -> AsyncIterator[Fetched]:
        """Without a token, where streaming needs one: the REST timeline every `poll_seconds`, forever."""
        first = True
        while True:
            async for fetched in self._pages(run, until_empty=False):
                yield fetched
            if first:
                run.events.connected()
                first = False
            await self._sleep(self.poll_seconds)


def _instance(url: str) -> tuple[str, str]:
    """`https://mastodon.social/` → ("https://mastodon.social", "mastodon.social"); a bare host means https."""
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.username or parts.password:
        raise ConnectorConfigError(f"--instance must be the instance's address, like https://mastodon.social: {url!r}")
    host = parts.hostname.lower()
    instance = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{instance}", instance


def _ws_origin(value: str) -> str | None:
    parts = urlsplit(value.strip())
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    return f"{scheme}://{parts.netloc}" if scheme and parts.netloc else None


def _json_list(body: bytes) -> list[object] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _dump(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _resume_since(resume: Cursor | None, source_id: str) -> int | None:
    if not resume or "since_id" not in resume:
        return None
    since = _numeric(resume["since_id"])
    if since is None:
        log.warning("%s: checkpoint cursor %r holds no since_id; starting at the present", source_id, resume)
    return since


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance", required=True, metavar="URL",
                        help="the instance, e.g. https://mastodon.social (its streaming host is discovered)")
    parser.add_argument("--stream", choices=STREAMS, default="public",
                        help="public: everything the instance knows (federated); public:local: posted on it; "
                             "hashtag[:local]: with --tag; list: with --list-id and a token (default: %(default)s)")
    parser.add_argument("--tag", help="the hashtag of --stream hashtag / hashtag:local (without #)")
    parser.add_argument("--list-id", help="the list of --stream list (its numeric id; the token's own list)")
    parser.add_argument("--no-backfill", action="store_true",
                        help="on reconnect, do not read what was missed from the REST timeline")
    parser.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                        help="reconnect after this many seconds without a frame or ping (%(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=10.0, metavar="S",
                        help="without a token, where the instance refuses anonymous streaming: poll the REST "
                             "timeline this often (%(default)s)")


def from_args(args: argparse.Namespace, sources: SourcesSettings) -> MastodonConnector:
    token = sources.secret("mastodon_access_token")
    if token is not None and not token.get_secret_value():
        token = None
    return MastodonConnector(args.instance, stream=args.stream, tag=args.tag, list_id=args.list_id, token=token,
                             source_id=args.source_id, backfill=not args.no_backfill,
                             idle_timeout=args.idle_timeout, poll_seconds=args.poll_seconds)
