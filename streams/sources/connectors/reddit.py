"""Reddit: the new posts and comments of subreddits, and searches, polled through the OAuth API (app-only).

Protocol
- **Token**: application-only OAuth (https://github.com/reddit-archive/reddit/wiki/OAuth2, "Application Only
  OAuth"): `POST https://www.reddit.com/api/v1/access_token`, HTTP Basic `client_id:client_secret`, form
  `grant_type=client_credentials` → `{"access_token", "token_type": "bearer", "expires_in": 3600, "scope"}`. It is
  renewed a minute before `expires_in` runs out, and at once when the API answers 401 (a second 401 with a fresh
  token stops the connector). A 4xx from the token endpoint (401: id or secret refused) is a ConnectorConfigError.
- **Listings** (https://www.reddit.com/dev/api#listings) on `https://oauth.reddit.com`, `Authorization: bearer
  <token>`, `limit=100&raw_json=1`, newest first: `/r/<a+b>/new` (submissions, t3) and `/r/<a+b>/comments`
  (comments, t1). With `--search`, `/r/<a+b>/search?q=<q>&sort=new&restrict_sr=1` (or `/search?q=<q>&sort=new`
  without --subreddit) takes the place of /new: it narrows the posts. Reddit searches submissions only, so the
  comments of the subreddits are read whole unless --no-comments.
- **User-Agent**: every request carries --user-agent, which Reddit requires in the form `<platform>:<app id>:
  <version> (by /u/<user>)` (https://github.com/reddit-archive/reddit/wiki/API); generic ones are throttled hard.
- An unknown subreddit (Reddit redirects to /subreddits/search), a banned (404) or private (403) one, or any other
  4xx is a ConnectorConfigError: waiting does not cure it.

New things, and the cursor
- `before=<fullname>` is not used: it returns nothing once that thing is deleted. As PRAW's `stream_generator`,
  each poll reads the first page and keeps a bounded set of recently seen fullnames; it pages back (`after=`) until
  a page holds a seen thing or one created before the listing's checkpoint (its `created_utc` minus a margin for
  things listed late: 60 s, 15 min for search, whose index lags), or the listing ends. Reddit lists at most about
  1000 things (10 pages): more new things than that between two polls cannot be read back, and that is logged.
- A walk is all or nothing: when a page of it cannot be read, nothing of it is taken and it is walked again at the
  next poll. When the thing `after=` names was deleted meanwhile (an empty page), the walk goes on from an earlier
  thing of the page before. Its pages are yielded oldest first, one unit per page holding that page's new things,
  each `{kind, data}` as Reddit sent it (re-serialised one by one: seen things are not sent again), each unit
  carrying the cursor of everything up to it: `{"new": "<newest fullname>", "new_utc": "<its created_utc>",
  "comments": ..., "comments_utc": ..., "search:<q>": ..., "search:<q>_utc": ...}` (`<key>_utc` "0": the listing
  was empty).
- **Resume**: the fullnames seed the seen sets and the `_utc` values are the floors, so a restart pages back to its
  checkpoint (within the 1000-thing limit): no gap; what the margin reads twice is absorbed by `event_id`. A
  listing without a checkpoint starts with its current first page (up to 100 things).
- A body that is not a Listing goes on as it came, for the worker to dead-letter; a thing over the Kafka limit
  becomes a `record_too_large` dead letter in the runner.

Rate limits and backoff (https://support.reddithelp.com/hc/en-us/articles/16160319875092-Reddit-Data-API-Wiki:
100 queries a minute per client id, averaged over 10 minutes)
- `X-Ratelimit-Remaining` / `-Used` / `-Reset` (seconds to the end of the window) are read on every answer: with
  fewer than 2 requests left, the next one waits for the reset.
- 429: `Retry-After`, else `X-Ratelimit-Reset`, else 60 s doubling to 10 min; 5xx: `Retry-After`, else 2 s doubling
  to 5 min; network faults (refused, reset, cut mid-body): 1 s doubling to 60 s (backoffs with jitter). Each wait is
  reported (`events.reconnecting`), and the connector never gives up on them.
- Reddit caches listings for about 30 s ("don't hit the same page more than once per 30 seconds"): hence the
  default --poll-seconds 30; 3 listings every 30 s are 6 of the 100 requests a minute.

Not done: user-context OAuth (a user's subscriptions or NSFW listings); upstream deletions (Reddit announces none:
a deleted thing leaves the listing, or reads `[deleted]`, and things are not re-read); edits and score updates of
things already read; `more` stubs (the comment listing is flat).

HTTP goes through http.request with `allow_redirects=False`: Reddit answers an unknown subreddit with a redirect to
/subreddits/search, which is refused, not followed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import SecretStr

from schemas.events import Network
from streams.runtime.failure_policy import RetryPolicy
from streams.settings import SourcesSettings
from streams.sources.connectors.base import ConnectorConfigError, Cursor, Fetched, SourceEvents
from streams.sources.connectors.http import Backoffs, HttpRefused, Response, header, request, safe_url

log = logging.getLogger(__name__)

API_BASE = "https://oauth.reddit.com"
AUTH_URL = "https://www.reddit.com/api/v1/access_token"
PAGE_LIMIT = 100  # Reddit's maximum `limit`
MAX_PAGES = 10  # Reddit lists about 1000 things: 10 pages of 100
RESERVE = 2.0  # requests kept in hand: X-Ratelimit-Remaining is approximate
BACKOFFS = Backoffs(network=RetryPolicy(1.0, 60.0), server=RetryPolicy(2.0, 300.0),
                    rate_limited=RetryPolicy(60.0, 600.0))
LATE_SECONDS = {"new": 60.0, "comments": 60.0, "search": 900.0}
SEEN_PER_LISTING = 5000

_SUBREDDIT = re.compile(r"^[A-Za-z0-9_]{2,21}$")
_USER_AGENT = re.compile(r"^\S+:\S+:\S+ \(by /u/[A-Za-z0-9_-]+\)$")
_MAX_QUERY = 512  # Reddit's limit on `q`

Sleep = Callable[[float], Awaitable[None]]

HELP = "Reddit: new posts and comments of subreddits, or searches (OAuth app-only, polled)"
DESCRIPTION = """\
Poll Reddit's OAuth API (app-only) for the new posts and comments of subreddits, or for posts matching searches.
Needs a Reddit app's client id and secret (https://www.reddit.com/prefs/apps, type "script" or "web") and a
User-Agent of the form '<platform>:<app id>:<version> (by /u/<your reddit user>)'. Resumes from its checkpoint
(newest fullname and created_utc per listing), paging back up to Reddit's 1000-thing listing limit.

Run it as is, with internet:
  SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID=... SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET=... socialpulse listen reddit --subreddit technology --search 'nimbus' --user-agent 'linux:socialpulse:0.1 (by /u/you)' --metrics-port 9104
"""  # noqa: E501 - the command is one line, to be copied as it is


def reddit_rate_limit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """Reddit: `X-Ratelimit-Reset` is the number of seconds to the end of the window (`now` is not needed)."""
    return _number(header(headers, "x-ratelimit-reset"))


class RedditConnector:
    network = Network.REDDIT

    def __init__(self, *, client_id: SecretStr, client_secret: SecretStr, user_agent: str,
                 subreddits: Sequence[str] = (), searches: Sequence[str] = (), comments: bool = True,
                 api_base: str = API_BASE, auth_url: str = AUTH_URL, poll_seconds: float = 30.0,
                 source_id: str | None = None, backoffs: Backoffs = BACKOFFS, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.time, late_seconds: Mapping[str, float] | None = None) -> None:
        self.subreddits = _subreddits(subreddits)
        self.searches = tuple(dict.fromkeys(q.strip() for q in searches if q.strip()))
        if not self.subreddits and not self.searches:
            raise ConnectorConfigError("give --subreddit and/or --search: there is nothing to listen to")
        too_long = [q for q in self.searches if len(q) > _MAX_QUERY]
        if too_long:
            raise ConnectorConfigError(f"--search is limited to {_MAX_QUERY} characters by Reddit: "
                                       f"{too_long[0][:40]}...")
        for name, url in (("--api-base", api_base), ("--auth-url", auth_url)):
            if not url.startswith(("https://", "http://")):
                raise ConnectorConfigError(f"{name} must be an http(s) URL, not {url!r}")
        if not poll_seconds > 0:
            raise ConnectorConfigError("--poll-seconds must be positive")
        if poll_seconds < 30 and api_base.rstrip("/") == API_BASE:
            log.warning("--poll-seconds %g: Reddit caches listings for about 30 s and asks not to request the same "
                        "page more often", poll_seconds)
        agent = user_agent.strip()
        if not agent or not agent.isprintable() or not agent.isascii() or len(agent) > 256:
            raise ConnectorConfigError("--user-agent must be printable ASCII (Reddit asks for "
                                       "'<platform>:<app id>:<version> (by /u/<user>)')")
        if not _USER_AGENT.match(agent):
            log.warning("--user-agent %r is not of the form Reddit asks for, '<platform>:<app id>:<version> "
                        "(by /u/<user>)': Reddit may throttle or block it", agent)
        self._client_id, self._client_secret = client_id, client_secret
        self.user_agent, self.comments = agent, comments and bool(self.subreddits)
        self.api_base, self.auth_url = api_base.rstrip("/"), auth_url
        self.poll_seconds, self.backoffs = poll_seconds, backoffs
        self.late_seconds = {**LATE_SECONDS, **(late_seconds or {})}
        self.source_id = source_id or default_source_id(self.subreddits, self.searches)
        self._sleep, self._clock = sleep, clock

    def describe(self) -> str:
        where = f"r/{'+'.join(self.subreddits)}" if self.subreddits else "all of Reddit"
        what = [f"search {q!r} (sort=new)" for q in self.searches] or ["new posts"]
        if self.comments:
            what.append("new comments")
        return f"Reddit {where}: {', '.join(what)}; {self.api_base} every {self.poll_seconds:g}s as {self.user_agent!r}"

    def _listings(self) -> list[_Listing]:
        subs = "+".join(self.subreddits)
        out: list[_Listing] = []
        if self.searches:
            for q in self.searches:
                params = {"q": q, "sort": "new"}
                if subs:
                    params["restrict_sr"] = "1"
                path = f"/r/{subs}/search" if subs else "/search"
                out.append(_Listing(f"search:{q}", path, params, self.late_seconds["search"]))
        else:
            out.append(_Listing("new", f"/r/{subs}/new", {}, self.late_seconds["new"]))
        if self.comments:
            out.append(_Listing("comments", f"/r/{subs}/comments", {}, self.late_seconds["comments"]))
        return out

    async def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        listings = self._listings()
        carried = _resume(listings, resume)
        watch = _Watch(events)
        delivered = _Recent(SEEN_PER_LISTING * 4)  # across listings: overlapping searches send a thing once

        def cursor() -> dict[str, str]:
            out = dict(carried)
            for listing in listings:
                out.update(listing.cursor())
            return out

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": self.user_agent}) as http:
            api = _Api(self, http, watch)
            healthy = False
            while True:
                for listing in listings:
                    async for fetched in self._poll(api, listing, delivered, cursor):
                        yield fetched
                if not healthy or watch.waited:
                    events.connected()
                    healthy, watch.waited = True, False
                await self._sleep(self.poll_seconds)

    async def _poll(self, api: _Api, listing: _Listing, delivered: _Recent,
                    cursor: Callable[[], dict[str, str]]) -> AsyncIterator[Fetched]:
        """One poll of one listing: its walk's new things, oldest page first, each page a unit with its cursor."""
        walk = await self._walk(api, listing)
        if isinstance(walk, bytes):  # not a Listing: as it came, for the dead letters; the walk is retried
            yield Fetched((walk,), None)
            return
        threshold = listing.floor - listing.late if listing.started else -math.inf
        listing.started = True
        sent = False
        for page in reversed(walk):
            payloads: list[bytes] = []
            for thing in reversed(page):
                new = thing.ident not in listing.seen and (thing.created is None or thing.created >= threshold)
                listing.seen.add(thing.ident)
                if not new:
                    continue
                if thing.name is not None and thing.created is not None and thing.created >= listing.floor:
                    listing.floor, listing.newest = thing.created, thing.name
                if thing.ident in delivered:  # sent by another listing (an overlapping search), in an earlier unit
                    continue
                delivered.add(thing.ident)
                payloads.append(thing.raw)
            if payloads:
                sent = True
                yield Fetched(payloads, cursor())
        if not sent:
            yield Fetched((), cursor())  # a poll that found nothing new still shows progress

    async def _walk(self, api: _Api, listing: _Listing) -> list[list[_Thing]] | bytes:
        """The pages from the newest back to what was already read (module docstring), or the body that was not a
        Listing."""
        threshold = listing.floor - listing.late if listing.started else -math.inf
        pages: list[list[_Thing]] = []
        after: str | None = None
        anchors: list[str] = []  # earlier fullnames of the previous page, if its last one vanished (deleted)
        while True:
            body = (await api.get(listing, after)).body
            parsed = _parse_listing(body)
            if parsed is None:
                log.warning("%s: %s answered %d bytes that are not a Listing; they go on as they came, and the "
                            "listing is read again at the next poll", self.source_id, listing.path, len(body))
                return body
            things, next_after = parsed
            if not things and after is not None and anchors:
                after = anchors.pop(0)
                continue
            pages.append(things)
            if not listing.started:  # no checkpoint: the listing as it is now, its first page
                return pages
            if any(t.ident in listing.seen or (t.created is not None and t.created < threshold) for t in things):
                return pages
            if next_after is None or not things:
                return pages
            if len(pages) >= MAX_PAGES:
                log.warning("%s: %s: more than %d new things since the last poll; Reddit lists no further back, "
                            "so older ones are lost (poll more often, or listen to fewer subreddits)",
                            self.source_id, listing.path, MAX_PAGES * PAGE_LIMIT)
                return pages
            anchors = [t.name for t in reversed(things[:-1]) if t.name is not None][:3]
            after = next_after


def default_source_id(subreddits: Sequence[str], searches: Sequence[str]) -> str:
    """`reddit:<a+b>`, `reddit:<a+b>:search=<q>` or `reddit:search=<q1>|<q2>`: stable for the same options."""
    parts = ["reddit"]
    if subreddits:
        parts.append("+".join(subreddits))
    if searches:
        parts.append("search=" + "|".join(searches))
    source = ":".join(parts)
    if len(source) > 120:
        source = f"{source[:100]}~{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    return source


def _subreddits(names: Sequence[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for given in names:
        for name in given.split("+"):
            name = name.strip().removeprefix("/").removeprefix("r/").strip("/")
            if not name:
                continue
            if not _SUBREDDIT.match(name):
                raise ConnectorConfigError(f"--subreddit {given!r}: {name!r} is not a subreddit name "
                                           "(2 to 21 letters, digits or underscores)")
            out[name.lower()] = None
    return tuple(sorted(out))


class _Recent:
    """A set that forgets its oldest members beyond `size` (PRAW's BoundedSet)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[str, None] = {}

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def add(self, item: str) -> None:
        if item in self._items:
            return
        self._items[item] = None
        if len(self._items) > self.size:
            del self._items[next(iter(self._items))]


@dataclass
class _Listing:
    key: str  # its cursor key
    path: str
    params: dict[str, str]
    late: float  # seconds before the floor still read: things that appear late in the listing
    seen: _Recent = field(default_factory=lambda: _Recent(SEEN_PER_LISTING))
    started: bool = False  # polled once (or resumed): later polls page back to the floor
    floor: float = 0.0  # created_utc of the newest thing read (0: the listing was empty)
    newest: str | None = None  # its fullname

    def cursor(self) -> dict[str, str]:
        if not self.started:
            return {}
        out = {f"{self.key}_utc": _utc_text(self.floor)}
        if self.newest is not None:
            out[self.key] = self.newest
        return out


def _resume(listings: Sequence[_Listing], resume: Cursor | None) -> dict[str, str]:
    """Set each listing's floor from the checkpoint; return the entries of listings no longer asked for (kept)."""
    if not resume:
        return {}
    known: set[str] = set()
    for listing in listings:
        known |= {listing.key, f"{listing.key}_utc"}
        floor = _number(resume.get(f"{listing.key}_utc"))
        if floor is None:
            log.info("reddit %s: no checkpoint for it; starting with its current first page", listing.key)
            continue
        listing.started, listing.floor = True, floor
        newest = resume.get(listing.key)
        if newest:
            listing.newest = newest
            listing.seen.add(newest)
        log.info("reddit %s: resuming after %s (created_utc %s)", listing.key, newest or "an empty listing",
                 _utc_text(floor))
    return {k: v for k, v in resume.items() if k not in known}


@dataclass(frozen=True)
class _Thing:
    ident: str  # the fullname, or a digest of the bytes for a child that has none
    name: str | None
    created: float | None
    raw: bytes


def _parse_listing(body: bytes) -> tuple[list[_Thing], str | None] | None:
    """A Listing's children and its `after`; None when the body is not a Listing."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("kind") != "Listing" or not isinstance(obj.get("data"), dict) \
            or not isinstance(obj["data"].get("children"), list):
        return None
    after = obj["data"].get("after")
    return [_thing(child) for child in obj["data"]["children"]], after if isinstance(after, str) and after else None


def _thing(child: Any) -> _Thing:
    try:
        raw = json.dumps(child, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate (an escape Reddit let through): kept escaped, dead-lettered later
        raw = json.dumps(child, separators=(",", ":")).encode()
    data = child.get("data") if isinstance(child, dict) else None
    name: str | None = None
    created: float | None = None
    if isinstance(data, dict):
        if isinstance(data.get("name"), str) and data["name"]:
            name = data["name"]
        elif isinstance(data.get("id"), str) and isinstance(child.get("kind"), str):
            name = f"{child['kind']}_{data['id']}"
        value = data.get("created_utc")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            created = float(value)
    ident = name or "sha256:" + hashlib.sha256(raw).hexdigest()[:32]
    return _Thing(ident, name, created, raw)


class _Watch:
    """SourceEvents passed through, noting whether a wait happened (the next good poll is a reconnection)."""

    def __init__(self, events: SourceEvents) -> None:
        self.events, self.waited = events, False

    def connected(self) -> None:
        self.events.connected()

    def reconnecting(self, reason: str, delay: float) -> None:
        self.waited = True
        self.events.reconnecting(reason, delay)

    def quota_used(self, units: int) -> None:
        self.events.quota_used(units)


class _Api:
    """One stream's access to Reddit: the token, the rate-limit window, the refusals."""

    def __init__(self, connector: RedditConnector, http: aiohttp.ClientSession, events: _Watch) -> None:
        self.c, self.http, self.events = connector, http, events
        self._token: str | None = None
        self._expires_at = 0.0
        self._resume_at: float | None = None  # the rate-limit window is spent until then

    async def get(self, listing: _Listing, after: str | None) -> Response:
        params = {"limit": str(PAGE_LIMIT), "raw_json": "1", **listing.params}
        if after is not None:
            params["after"] = after
        renewed = False
        while True:
            token = await self.token(renew=renewed)
            await self._wait_for_window()
            try:
                resp = await request(self.http, "GET", self.c.api_base + listing.path, params=params,
                                     headers={"Authorization": f"bearer {token}"}, events=self.events,
                                     backoffs=self.c.backoffs, rate_limit_reset=reddit_rate_limit_reset,
                                     allow_redirects=False, sleep=self.c._sleep, clock=self.c._clock)
            except HttpRefused as exc:
                self._note_window(exc.headers)
                if exc.status == 401 and not renewed:
                    log.info("%s: the access token was refused (HTTP 401); getting a new one", self.c.source_id)
                    renewed = True
                    continue
                raise self._refusal(listing, exc) from None
            self._note_window(resp.headers)
            return resp

    async def token(self, *, renew: bool = False) -> str:
        if not renew and self._token is not None and self.c._clock() < self._expires_at:
            return self._token
        pair = f"{self.c._client_id.get_secret_value()}:{self.c._client_secret.get_secret_value()}"
        basic = "Basic " + base64.b64encode(pair.encode()).decode()  # RFC 7617
        attempt = 0
        while True:
            try:
                resp = await request(self.http, "POST", self.c.auth_url, data={"grant_type": "client_credentials"},
                                     headers={"Authorization": basic}, events=self.events,
                                     backoffs=self.c.backoffs, rate_limit_reset=reddit_rate_limit_reset,
                                     allow_redirects=False, sleep=self.c._sleep, clock=self.c._clock)
            except HttpRefused as exc:
                if exc.status == 401:
                    raise ConnectorConfigError(
                        f"Reddit refused the app's credentials (HTTP 401 from {safe_url(self.c.auth_url)}): check "
                        "SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID and SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET (or "
                        "their _FILE forms): the id and secret of a 'script' or 'web' app of "
                        "https://www.reddit.com/prefs/apps") from None
                raise ConnectorConfigError(f"Reddit's token endpoint refused (HTTP {exc.status}): "
                                           f"{_reason(exc.body)}") from None
            token, expires_in, error = _token_of(resp.body)
            if error is not None:
                raise ConnectorConfigError(f"Reddit's token endpoint answered {error!r}")
            if token is not None:
                self._token = token
                self._expires_at = self.c._clock() + max(0.0, expires_in - min(60.0, expires_in / 10))
                log.info("%s: got an access token (expires in %.0fs)", self.c.source_id, expires_in)
                return token
            attempt += 1
            delay = self.c.backoffs.server.delay(attempt)
            self.events.reconnecting("http_5xx", delay)
            log.warning("%s: the token endpoint answered something that is not a token; retrying in %.1fs",
                        self.c.source_id, delay)
            await self.c._sleep(delay)

    def _note_window(self, headers: Mapping[str, str]) -> None:
        remaining = _number(header(headers, "x-ratelimit-remaining"))
        if remaining is None or remaining >= RESERVE:
            return
        reset = reddit_rate_limit_reset(headers, self.c._clock())
        delay = reset if reset is not None else self.c.backoffs.rate_limited.delay(1)
        self._resume_at = self.c._clock() + delay
        log.info("%s: %g requests left in Reddit's rate-limit window (%s used); pausing %.0fs until it resets",
                 self.c.source_id, remaining, header(headers, "x-ratelimit-used") or "?", delay)

    async def _wait_for_window(self) -> None:
        if self._resume_at is None:
            return
        delay, self._resume_at = max(0.0, self._resume_at - self.c._clock()), None
        if delay > 0:
            self.events.reconnecting("rate_limited", delay)
            await self.c._sleep(delay)

    def _refusal(self, listing: _Listing, exc: HttpRefused) -> ConnectorConfigError:
        where = f"r/{'+'.join(self.c.subreddits)}" if self.c.subreddits else listing.path
        if 300 <= exc.status < 400:
            location = header(exc.headers, "location") or ""
            if "/subreddits/search" in location:
                return ConnectorConfigError(f"{where}: no such subreddit (Reddit redirects {listing.path} to "
                                            "/subreddits/search)")
            return ConnectorConfigError(f"{listing.path}: unexpected redirect (HTTP {exc.status}) to "
                                        f"{safe_url(location)}")
        what = {401: "a freshly issued access token was refused too",
                403: "forbidden: a private or quarantined subreddit, or an app Reddit does not allow",
                404: "not found: a banned or nonexistent subreddit"}.get(exc.status, _reason(exc.body))
        return ConnectorConfigError(f"{where}: HTTP {exc.status} on {listing.path}: {what}")


def _token_of(body: bytes) -> tuple[str | None, float, str | None]:
    """(access_token, expires_in, error) of a token response; (None, 0, None) when it is not one."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None, 0.0, None
    if not isinstance(obj, dict):
        return None, 0.0, None
    if isinstance(obj.get("error"), str):
        return None, 0.0, obj["error"]
    token, expires_in = obj.get("access_token"), _number(obj.get("expires_in"))
    if not isinstance(token, str) or not token or expires_in is None:
        return None, 0.0, None
    return token, expires_in, None


def _reason(body: bytes) -> str:
    """What a refusal's body says, briefly: Reddit's JSON `reason`/`message`, or its first characters."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return body[:200].decode("utf-8", "replace") or "(no body)"
    if isinstance(obj, dict):
        words = [str(obj[k]) for k in ("reason", "message", "error", "explanation") if obj.get(k)]
        if words:
            return ", ".join(words)[:200]
    return body[:200].decode("utf-8", "replace")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _utc_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subreddit", action="append", default=[], metavar="NAME",
                        help="a subreddit to listen to, repeatable (or a+b: Reddit's multi-subreddit form)")
    parser.add_argument("--search", action="append", default=[], metavar="QUERY",
                        help="posts matching QUERY (Reddit search, sort=new), repeatable; within the subreddits "
                             "when --subreddit is given (restrict_sr), in place of their new posts")
    parser.add_argument("--no-comments", action="store_true",
                        help="do not read the subreddits' new comments (read by default with --subreddit)")
    parser.add_argument("--user-agent", metavar="UA",
                        help="required by Reddit: '<platform>:<app id>:<version> (by /u/<your reddit user>)'")
    parser.add_argument("--poll-seconds", type=float, default=30.0, metavar="S",
                        help="seconds between polls of each listing; Reddit caches listings ~30 s (%(default)s)")
    parser.add_argument("--api-base", default=API_BASE, metavar="URL", help="OAuth API base (%(default)s)")
    parser.add_argument("--auth-url", default=AUTH_URL, metavar="URL", help="token endpoint (%(default)s)")


def from_args(args: argparse.Namespace, sources: SourcesSettings) -> RedditConnector:
    client_id, secret = sources.secret("reddit_client_id"), sources.secret("reddit_client_secret")
    missing = [f"SOCIALPULSE_SOURCES__{name}" for name, value in
               (("REDDIT_CLIENT_ID", client_id), ("REDDIT_CLIENT_SECRET", secret))
               if value is None or not value.get_secret_value()]
    if missing or client_id is None or secret is None:
        raise ConnectorConfigError(f"Reddit needs an app's client id and secret: set {' and '.join(missing)} (or "
                                   "the _FILE form of each); create an app at https://www.reddit.com/prefs/apps")
    if not args.user_agent:
        raise ConnectorConfigError("--user-agent is required: Reddit asks for '<platform>:<app id>:<version> "
                                   "(by /u/<your reddit user>)', e.g. 'linux:socialpulse:0.1 (by /u/you)'")
    return RedditConnector(client_id=client_id, client_secret=secret, user_agent=args.user_agent,
                           subreddits=args.subreddit, searches=args.search, comments=not args.no_comments,
                           api_base=args.api_base, auth_url=args.auth_url, poll_seconds=args.poll_seconds,
                           source_id=args.source_id)
