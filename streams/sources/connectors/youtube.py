"""YouTube comments: polls the Data API v3 `commentThreads.list` for videos and channels, newest first.

Protocol (https://developers.google.com/youtube/v3/docs/commentThreads/list): `GET <api-base>/commentThreads
?part=snippet,replies&videoId=<id>` (or `allThreadsRelatedToChannelId=<channel>`) `&order=time&maxResults=100
&textFormat=plainText&key=<API key>[&pageToken=<nextPageToken>]`. A page is yielded as one payload and the runner
splits it into threads and the replies they carry (processors/normalizers/youtube.py); a page is yielded as it came
unless some of its threads were already read, then as the same list response with only the new ones.
- **No publishedAfter**: commentThreads.list cannot ask for "newer than". With order=time the pages run newest first;
  the connector reads them until a page ends with a thread older than the target's mark, and forwards only threads
  newer than the mark (or published in the mark's second but not read yet).
- **Cursor**: per target `"video:<id>"` / `"channel:<id>"` = the newest `publishedAt` read (as the API wrote it) and
  `"<target>:seen"` = the ids of the threads of that same second (publishedAt has whole seconds); `"quota_day"` (the
  Pacific date) and `"quota_used"` (units spent that day), so the quota count survives a restart. A target's mark
  moves only with the last page of a poll, so a restart in the middle of its pages reads them again from the top (a
  few threads twice, which `event_id` absorbs), never leaving a gap. A target without a mark (first start, or added
  later) starts `--lookback-minutes` back.
- **Quota** (https://developers.google.com/youtube/v3/determine_quota_cost, /guides/quota_and_compliance_audits):
  10,000 units a day by default, reset at midnight Pacific time; the quota table prices commentThreads.list at 1 unit
  (`--units-per-call`; one version of the method's page adds 2 per part: give 5 for snippet,replies if your project
  is billed that way) and every answered request costs, failed ones too. Each call is counted (`quota_used`); before
  a call would pass `--daily-quota` minus `--quota-reserve` the connector sleeps until the Pacific midnight. A 403
  quotaExceeded / dailyLimitExceeded (the project's quota is shared with other clients) sleeps until then too, except
  in the first hour of the day, when it backs off and tries again (the reset can lag).
- **Errors** (https://developers.google.com/youtube/v3/docs/errors): network faults, 429 and 5xx are retried by
  `http.request`, Retry-After honoured; 403 rateLimitExceeded / userRateLimitExceeded and 400 processingFailure back
  off and retry. 403 commentsDisabled, 404 videoNotFound / channelNotFound (and any other 400/404 about a target)
  skip that target for the rest of the run and keep the others; when none is left it is a ConnectorConfigError. A
  refused key (400 keyInvalid or an `API_KEY_*` ErrorInfo, 401, 403 accessNotConfigured, and a 403 forbidden before
  the key has worked once; after, a 403 is about that target) is a ConnectorConfigError. 400 invalidPageToken
  reads the target again from its top. A 200 whose body is not a list response is forwarded as it came (the worker
  dead-letters it) and the same page is asked again after a backoff.
- The key travels in the query string (`key=`): URLs are only logged without it (`http.safe_url`), never with it.
Not done: replies added later to old threads (following them needs comments.list per thread), edits (`updatedAt`),
threads that become visible late with an older publishedAt (held for review, then approved: OAuth moderation),
OAuth itself, and trying a skipped target again before a restart. A thread whose publishedAt cannot be read is
forwarded (for the dead letters) each time its page is read.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import SecretStr

from schemas.events import Network
from streams.settings import SourcesSettings
from streams.sources.connectors.base import ConnectorConfigError, Cursor, Fetched, SourceEvents
from streams.sources.connectors.http import Backoffs, HttpRefused, Response, request, safe_url

log = logging.getLogger(__name__)

API_BASE = "https://www.googleapis.com/youtube/v3"
PACIFIC = ZoneInfo("America/Los_Angeles")  # where YouTube's quota day starts and ends
KEY_ENV = "SOCIALPULSE_SOURCES__YOUTUBE_API_KEY"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

HELP = "YouTube: new comment threads (with replies) of videos and channels, polled from the Data API v3"
DESCRIPTION = f"""\
Poll YouTube's commentThreads.list, newest first, for each --video and --channel: every new comment thread with
the replies it carries. Needs a YouTube Data API v3 key (Google Cloud console, APIs & Services, Credentials) in
{KEY_ENV} (or {KEY_ENV}_FILE, a file holding it).
Each call costs quota (1 unit; 10,000 units a day by default, reset at midnight Pacific time): one video polled
every 60 s uses 1,440 a day. The connector stops calling before --daily-quota minus --quota-reserve and waits for
the reset. It resumes from its checkpoint: the newest publishedAt read per video/channel and the day's quota count.

Run it as is, with internet:
  {KEY_ENV}=AIza... socialpulse listen youtube --video dQw4w9WgXcQ --metrics-port 9105
"""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """What one series of calls reads: the threads of a video, or all threads related to a channel."""

    kind: str  # "video" | "channel"
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def param(self) -> str:
        return "videoId" if self.kind == "video" else "allThreadsRelatedToChannelId"


@dataclass(frozen=True)
class _Mark:
    """How far a target has been read: the newest publishedAt (text as sent, and parsed) and the ids of that second."""

    text: str
    at: datetime
    seen: frozenset[str] = frozenset()

    def after(self, at: datetime, text: str, thread_id: str) -> _Mark:
        if at > self.at:
            return _Mark(text, at, frozenset((thread_id,)))
        if at == self.at:
            return _Mark(self.text, self.at, self.seen | {thread_id})
        return self

    def is_new(self, at: datetime, thread_id: str) -> bool:
        return at > self.at or (at == self.at and thread_id not in self.seen)


class _Quota:
    """The units spent in the current Pacific day, and the budget for it."""

    def __init__(self, *, daily: int, reserve: int, clock: Callable[[], float]) -> None:
        self.budget, self.daily, self._clock = daily - reserve, daily, clock
        self.day, self.used = self._today(), 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), PACIFIC)

    def _today(self) -> str:
        return self._now().date().isoformat()

    def restore(self, resume: Cursor | None) -> None:
        if resume and resume.get("quota_day") == self.day:
            try:
                self.used = max(0, int(resume.get("quota_used", "0")))
            except ValueError:
                log.warning("checkpoint quota_used %r is not a number; counting from 0", resume.get("quota_used"))

    def roll(self) -> None:
        today = self._today()
        if today != self.day:
            self.day, self.used = today, 0

    def room(self, units: int) -> bool:
        self.roll()
        return self.used + units <= self.budget

    def spend(self, units: int) -> None:
        self.roll()
        self.used += units

    def exhaust(self) -> None:
        self.used = max(self.used, self.budget)

    def seconds_to_reset(self) -> float:
        now = self._now()
        midnight = datetime.combine(now.date() + timedelta(days=1), wall_time(0), tzinfo=PACIFIC)
        return max(0.0, midnight.timestamp() - self._clock())

    def seconds_since_reset(self) -> float:
        now = self._now()
        return self._clock() - datetime.combine(now.date(), wall_time(0), tzinfo=PACIFIC).timestamp()


class _Counted:
    """The SourceEvents handed to `http.request`: a 429 or 5xx it retries was answered by the API, so it cost quota;
    and any retry means the next success is a reconnection worth reporting."""

    def __init__(self, events: SourceEvents, quota: _Quota, units: int) -> None:
        self._events, self._quota, self._units = events, quota, units
        self.faulted = True  # the first success reports `connected`

    def connected(self) -> None:
        self._events.connected()

    def reconnecting(self, reason: str, delay: float) -> None:
        self.faulted = True
        if reason in ("http_5xx", "rate_limited"):
            self.quota_used(self._units)
        self._events.reconnecting(reason, delay)

    def quota_used(self, units: int) -> None:
        self._quota.spend(units)
        self._events.quota_used(units)


class _Verdict(Enum):
    QUOTA = "quota"  # the day's quota is spent: wait for the reset
    RETRY = "retry"  # a rate limit or a passing failure: back off, ask again
    KEY = "key"  # the key is refused: nothing to wait for
    STALE_PAGE = "stale_page"  # our page token is no longer valid: read the target from its top
    TARGET = "target"  # this video or channel cannot be read: skip it


_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
_RETRY_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", "processingFailure",
                            "backendError"})
_KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "accessNotConfigured", "ipRefererBlocked", "SERVICE_DISABLED",
                          "CONSUMER_INVALID"})
_TARGET_REASONS = frozenset({"commentsDisabled", "videoNotFound", "channelNotFound", "commentThreadNotFound"})


def error_reasons(body: bytes) -> list[str]:
    """The `reason`s of a Google error body (`error.errors[]` and `google.rpc.ErrorInfo` details), in order."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return []
    if not isinstance(error, dict):
        return []
    reasons: list[str] = []
    for part in ("errors", "details"):
        for entry in error.get(part) or ():
            if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
                reasons.append(entry["reason"])
    if not reasons and isinstance(error.get("status"), str):
        reasons.append(error["status"])
    return reasons


def _verdict(status: int, body: bytes, *, key_worked: bool) -> tuple[_Verdict, str]:
    reasons = error_reasons(body)
    named = set(reasons)
    reason = next((r for r in reasons if r not in ("badRequest", "INVALID_ARGUMENT", "PERMISSION_DENIED")),
                  reasons[0] if reasons else f"HTTP {status}")
    if named & _QUOTA_REASONS:
        return _Verdict.QUOTA, reason
    if named & _RETRY_REASONS:
        return _Verdict.RETRY, reason
    if "invalidPageToken" in named:
        return _Verdict.STALE_PAGE, reason
    if named & _TARGET_REASONS:
        return _Verdict.TARGET, reason
    if status == 401 or named & _KEY_REASONS or any(r.startswith("API_KEY_") for r in reasons) \
            or (status == 400 and b"API key" in body):
        return _Verdict.KEY, reason
    if status == 403:
        # forbidden for every call is the key; for one target, once the key has worked, it is that target
        return (_Verdict.TARGET if key_worked else _Verdict.KEY), reason
    return _Verdict.TARGET, reason


def _published(thread: Any) -> tuple[datetime | None, str]:
    """A commentThread's top-level publishedAt (parsed, and as written) and its id; (None, ...) when unreadable."""
    if not isinstance(thread, dict):
        return None, ""
    thread_id = thread.get("id") if isinstance(thread.get("id"), str) else ""
    try:
        text = thread["snippet"]["topLevelComment"]["snippet"]["publishedAt"]
        at = datetime.fromisoformat(text)
    except (KeyError, TypeError, ValueError):
        return None, str(thread_id)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at, str(thread_id)


def _page(body: bytes) -> dict[str, Any] | None:
    """A commentThreadListResponse, or None when the body is not one."""
    try:
        page = json.loads(body)
    except ValueError:
        return None
    if not isinstance(page, dict) or not str(page.get("kind", "")).endswith("ListResponse") \
            or not isinstance(page.get("items", []), list):
        return None
    return page


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Gone:
    reason: str


class _Restart:
    pass


class YouTubeConnector:
    network = Network.YOUTUBE

    def __init__(self, targets: Sequence[Target], *, api_key: SecretStr | str, source_id: str,
                 api_base: str = API_BASE, poll_seconds: float = 60.0, daily_quota: int = 10_000,
                 quota_reserve: int = 500, units_per_call: int = 1, lookback_minutes: float = 60.0,
                 max_results: int = 100, backoffs: Backoffs | None = None, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if not targets:
            raise ConnectorConfigError("no video or channel to listen to")
        if not 0 <= quota_reserve < daily_quota:
            raise ConnectorConfigError("need 0 <= --quota-reserve < --daily-quota")
        if not 1 <= units_per_call <= daily_quota - quota_reserve:
            raise ConnectorConfigError("need 1 <= --units-per-call <= --daily-quota minus --quota-reserve")
        if poll_seconds <= 0 or lookback_minutes < 0 or not 1 <= max_results <= 100:
            raise ConnectorConfigError("need --poll-seconds > 0 and --lookback-minutes >= 0")
        self.targets = tuple(dict.fromkeys(targets))
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.source_id, self.api_base = source_id, api_base.rstrip("/")
        self.poll_seconds, self.daily_quota, self.quota_reserve = poll_seconds, daily_quota, quota_reserve
        self.units_per_call, self.lookback = units_per_call, timedelta(minutes=lookback_minutes)
        self.max_results = max_results
        self.backoffs = backoffs or Backoffs()
        self._sleep, self._clock = sleep, clock

    def describe(self) -> str:
        what = ", ".join(f"{t.kind} {t.id}" for t in self.targets)
        return (f"YouTube comment threads of {what} from {safe_url(self.api_base)} every {self.poll_seconds:g}s "
                f"(budget {self.daily_quota - self.quota_reserve} of {self.daily_quota} units a Pacific day, "
                f"{self.units_per_call} a call)")

    def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        return _Poller(self, resume, events).run()


@dataclass
class _Poller:
    """One `stream()` call: its session, marks, quota and the targets still readable."""

    conn: YouTubeConnector
    resume: Cursor | None
    events: SourceEvents
    marks: dict[str, _Mark] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)  # target key → why it is skipped
    key_worked: bool = False

    def __post_init__(self) -> None:
        c = self.conn
        self.quota = _Quota(daily=c.daily_quota, reserve=c.quota_reserve, clock=c._clock)
        self.quota.restore(self.resume)
        self.counted = _Counted(self.events, self.quota, c.units_per_call)
        for target in c.targets:
            mark = _restore_mark(self.resume, target)
            if mark is not None:
                self.marks[target.key] = mark

    def cursor(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, mark in self.marks.items():
            out[key] = mark.text
            if mark.seen:
                out[f"{key}:seen"] = ",".join(sorted(mark.seen))
        out["quota_day"], out["quota_used"] = self.quota.day, str(self.quota.used)
        return out

    async def run(self) -> AsyncIterator[Fetched]:
        c = self.conn
        per_day = len(c.targets) * 86_400 / c.poll_seconds * c.units_per_call
        if per_day > self.quota.budget:
            log.warning("%s: polling %d target(s) every %gs needs at least %d units a day, over the budget of %d: "
                        "the connector will wait for the quota reset part of the day (raise --poll-seconds)",
                        c.source_id, len(c.targets), c.poll_seconds, per_day, self.quota.budget)
        timeout = aiohttp.ClientTimeout(total=120, sock_connect=30, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                started = c._clock()
                for target in c.targets:
                    if target.key not in self.gone:
                        async for fetched in self._poll(session, target):
                            yield fetched
                if len(self.gone) == len(c.targets):
                    raise ConnectorConfigError("no video or channel can be read: " + "; ".join(
                        f"{key}: {why}" for key, why in self.gone.items()))
                await c._sleep(max(0.0, c.poll_seconds - (c._clock() - started)))

    async def _poll(self, session: aiohttp.ClientSession, target: Target) -> AsyncIterator[Fetched]:
        """Pages of one target, newest first, down to its mark; the mark moves with the last page."""
        c = self.conn
        start = self.marks.get(target.key)
        if start is None:
            since = datetime.fromtimestamp(c._clock(), UTC) - c.lookback
            start = _Mark(_iso(since), since.replace(microsecond=0))
        newest = start
        forwarded: set[str] = set()  # thread ids forwarded in this poll (a restarted read meets them again)
        token: str | None = None
        malformed = restarts = 0
        while True:
            outcome = await self._call(session, target, token)
            if isinstance(outcome, _Gone):
                self.gone[target.key] = outcome.reason
                log.warning("%s: skipping %s %s: %s (the other targets go on)", c.source_id, target.kind, target.id,
                            outcome.reason)
                return
            if isinstance(outcome, _Restart):
                restarts += 1
                if restarts > 3:  # the mark has not moved: the next poll reads this target again, no gap
                    log.warning("%s: %s: page tokens keep being refused; trying again next poll", c.source_id,
                                target.key)
                    return
                log.warning("%s: %s: the page token is no longer valid; reading it again from the newest",
                            c.source_id, target.key)
                token = None
                continue
            page = _page(outcome.body)
            if page is None:
                malformed += 1
                delay = c.backoffs.server.delay(malformed)
                log.warning("%s: %s: the answer is not a comment thread list (%d bytes); forwarded for the dead "
                            "letters, asking again in %.1fs", c.source_id, target.key, len(outcome.body), delay)
                yield Fetched((outcome.body,), self.cursor())
                self.events.reconnecting("malformed", delay)
                await c._sleep(delay)
                continue
            malformed = 0
            items: list[Any] = page.get("items") or []
            fresh: list[Any] = []
            oldest: datetime | None = None
            for item in items:
                at, thread_id = _published(item)
                if at is None:  # unreadable: forwarded for the worker to judge; it moves nothing
                    fresh.append(item)
                    continue
                oldest = at if oldest is None or at < oldest else oldest
                if start.is_new(at, thread_id) and thread_id not in forwarded:
                    fresh.append(item)
                    forwarded.add(thread_id)
                    newest = newest.after(at, item["snippet"]["topLevelComment"]["snippet"]["publishedAt"], thread_id)
            token = page.get("nextPageToken") if isinstance(page.get("nextPageToken"), str) else None
            more = token is not None and (oldest is None or oldest >= start.at)
            if not more:
                self.marks[target.key] = newest
            if not fresh:
                yield Fetched((), self.cursor())
            elif len(fresh) == len(items):
                yield Fetched((outcome.body,), self.cursor())
            else:
                yield Fetched((json.dumps({**page, "items": fresh}, ensure_ascii=False).encode(),), self.cursor())
            if not more:
                return

    async def _call(self, session: aiohttp.ClientSession, target: Target,
                    token: str | None) -> Response | _Gone | _Restart:
        """One commentThreads.list page, within the quota; what to do when it is refused."""
        c = self.conn
        params = {"part": "snippet,replies", target.param: target.id, "order": "time",
                  "maxResults": str(c.max_results), "textFormat": "plainText", "key": c._key.get_secret_value()}
        if token is not None:
            params["pageToken"] = token
        url = f"{c.api_base}/commentThreads"
        retries = 0
        while True:
            if not self.quota.room(c.units_per_call):
                await self._wait_for_reset()
                continue
            try:
                response = await request(session, "GET", url, params=params, events=self.counted,
                                         backoffs=c.backoffs, sleep=c._sleep, clock=c._clock,
                                         max_body_bytes=-1)  # -1: the whole body (http.request reads one chunk)
            except HttpRefused as refused:
                self.counted.quota_used(c.units_per_call)
                verdict, reason = _verdict(refused.status, refused.body, key_worked=self.key_worked)
                if verdict is _Verdict.KEY:
                    raise ConnectorConfigError(
                        f"YouTube refused the API key ({reason}, HTTP {refused.status}): check {KEY_ENV} and that "
                        "the YouTube Data API v3 is enabled for the key's project") from None
                if verdict is _Verdict.STALE_PAGE and token is not None:
                    return _Restart()
                if verdict is _Verdict.TARGET:
                    return _Gone(f"{reason} (HTTP {refused.status})")
                if verdict is _Verdict.QUOTA and self.quota.seconds_since_reset() >= 3600:
                    log.warning("%s: YouTube answered %s after %d units of our count today", c.source_id, reason,
                                self.quota.used)
                    self.quota.exhaust()
                    continue
                retries += 1  # RETRY, or QUOTA in the first hour of the day: the reset may lag
                delay = c.backoffs.rate_limited.delay(retries)
                self.counted.faulted = True
                self.events.reconnecting("rate_limited", delay)
                log.warning("%s: %s: %s; asking again in %.1fs", c.source_id, target.key, reason, delay)
                await c._sleep(delay)
                continue
            self.counted.quota_used(c.units_per_call)
            self.key_worked = True
            if self.counted.faulted:
                self.counted.faulted = False
                self.counted.connected()
            return response

    async def _wait_for_reset(self) -> None:
        c = self.conn
        delay = self.quota.seconds_to_reset()
        self.events.reconnecting("quota", delay)
        log.warning("%s: %d of %d quota units spent on %s (Pacific); waiting %.0fs for the reset at midnight "
                    "America/Los_Angeles", c.source_id, self.quota.used, c.daily_quota, self.quota.day, delay)
        await c._sleep(delay)
        self.quota.roll()
        self.counted.faulted = True


def _restore_mark(resume: Cursor | None, target: Target) -> _Mark | None:
    if not resume or target.key not in resume:
        return None
    text = resume[target.key]
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        log.warning("checkpoint %s = %r is not a time; that target starts afresh", target.key, text)
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seen = frozenset(s for s in resume.get(f"{target.key}:seen", "").split(",") if s)
    return _Mark(text, at, seen)


def default_source_id(targets: Sequence[Target]) -> str:
    """`youtube:<video ids and channel ids, joined>`; a long list is shortened with a hash of the whole."""
    joined = ",".join(t.id for t in targets)
    if len(joined) <= 80:
        return f"youtube:{joined}"
    digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
    return f"youtube:{','.join(t.id for t in targets[:2])},+{len(targets) - 2}-{digest}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", action="append", default=[], metavar="ID",
                        help="a video id (the v= of its URL), repeatable")
    parser.add_argument("--channel", action="append", default=[], metavar="ID",
                        help="a channel id (UC...): every thread about the channel and its videos, repeatable")
    parser.add_argument("--api-base", default=API_BASE, metavar="URL", help="the Data API v3 base (%(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=60.0, metavar="S",
                        help="poll each video/channel this often (%(default)s)")
    parser.add_argument("--daily-quota", type=int, default=10_000, metavar="UNITS",
                        help="the project's quota a Pacific day (%(default)s)")
    parser.add_argument("--quota-reserve", type=int, default=500, metavar="UNITS",
                        help="units a day left for other uses of the key: no call past daily-quota minus this "
                             "(%(default)s)")
    parser.add_argument("--units-per-call", type=int, default=1, metavar="UNITS",
                        help="quota cost of one commentThreads.list call (%(default)s)")
    parser.add_argument("--lookback-minutes", type=float, default=60.0, metavar="M",
                        help="without a checkpoint, start with the threads of the last M minutes (%(default)s)")


def from_args(args: argparse.Namespace, sources: SourcesSettings) -> YouTubeConnector:
    targets = [Target("video", v) for v in args.video] + [Target("channel", c) for c in args.channel]
    if not targets:
        raise ConnectorConfigError("name what to listen to: --video ID and/or --channel ID (repeatable)")
    bad = [t.id for t in targets if not _ID.match(t.id)]
    if bad:
        raise ConnectorConfigError(f"not a YouTube id: {', '.join(bad)} (give the id itself, e.g. the v= part of a "
                                   "video URL, or the UC... id of a channel)")
    if not args.api_base.startswith(("http://", "https://")):
        raise ConnectorConfigError("--api-base must be an http:// or https:// URL")
    key = sources.secret("youtube_api_key")
    if key is None or not key.get_secret_value():
        raise ConnectorConfigError(f"the YouTube Data API needs an API key: set {KEY_ENV} (or {KEY_ENV}_FILE, a "
                                   "file holding it)")
    targets = list(dict.fromkeys(targets))
    return YouTubeConnector(targets, api_key=key, source_id=args.source_id or default_source_id(targets),
                            api_base=args.api_base, poll_seconds=args.poll_seconds, daily_quota=args.daily_quota,
                            quota_reserve=args.quota_reserve, units_per_call=args.units_per_call,
                            lookback_minutes=args.lookback_minutes)

