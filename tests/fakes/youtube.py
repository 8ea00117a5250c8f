"""A fake YouTube Data API v3 `commentThreads.list` (https://developers.google.com/youtube/v3/docs/commentThreads/list):
`GET /youtube/v3/commentThreads` on 127.0.0.1.

It serves `count` posts (comment threads, and the replies every `replies_every`-th thread carries in
`replies.comments`) made from the documented fixtures (tests/unit/fixtures/networks/youtube_comment_thread.json and
youtube_reply.json, tests/unit/fixtures/youtube/comment_threads_one.jsonc) with fresh ids, texts and publishedAt,
spread over `videos` of the channel UC_x5XG1OV2P6uZZ5FSM9Ttw, published four a second (ties, as real threads have)
up to the start, at most three hours back. The first `initial` threads are there from the first call; the others
appear after it, `pace` seconds a post, always newer than those already there. By default half are there and the
others appear within `appear_seconds` (2 s); with a `pace` set (before start), none is there at first; `pace=0`: all
are there at once; `manual=True`: the others appear only when a test calls `release(n)`. After a connector restart
the same threads are served again; its cursor decides what it reads twice.

What it checks, as the API does:
- `key`: missing → 403 forbidden, wrong → 400 keyInvalid (or, `key_error="apiKeyInvalid"`, the ErrorInfo form);
- exactly one of videoId / allThreadsRelatedToChannelId / id; `part` among id, snippet, replies (replies are only
  sent when asked for); maxResults 1..100, default 20 (and at most `page_cap`); textFormat html (default) or
  plainText; order=time (newest first, the same second in the order they appeared);
- pageToken: opaque, "after this thread" (a thread appearing between two pages moves nothing); unknown → 400
  invalidPageToken;
- videos: `disabled` ones answer 403 commentsDisabled, unknown ones 404 videoNotFound; unknown channels 404
  channelNotFound (error bodies: tests/unit/fixtures/youtube/error_responses.jsonc);
- quota: `units_per_call` for every answered call with a good key; once `daily_quota` is spent, 403 quotaExceeded.
Fault switches: `fail_next` [(status, retry_after)] answers the next calls so (429 / 403 rateLimitExceeded / 5xx
backendError, with Retry-After when given); `drop_next = N` sends the next page's first N threads and cuts the
connection; `malformed_next` answers the next pages with a truncated JSON body; `expire_tokens_next` refuses the next
page tokens; `latency` delays every answer; `oversize_at` (set before start) makes those thread positions 1.2 MB
comments, which are not expected posts. `calls` records each call's query (without the key) and `key_ok`.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import html
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from processors.normalizers import detect_and_normalize, explode
from tests.fakes.server import FakeServer
from tests.unit.fixture_files import FIXTURES, load_jsonc

CHANNEL = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
API_KEY = "AIzaSyFakeKey-socialpulse-0123456789abc"
_PARTS = {"id", "snippet", "replies"}


def _templates() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    threads = [json.loads((FIXTURES / "networks" / "youtube_comment_thread.json").read_text()),
               load_jsonc("youtube/comment_threads_one.jsonc")["items"][0]]
    reply = json.loads((FIXTURES / "networks" / "youtube_reply.json").read_text())
    return threads, reply


def errors() -> dict[str, Any]:
    return load_jsonc("youtube/error_responses.jsonc")


def _posts(thread: dict[str, Any]) -> int:
    return 1 + len(thread.get("replies", {}).get("comments", []))


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeYouTube(FakeServer):
    network = "youtube"

    def __init__(self, count: int = 40, *, videos: tuple[str, ...] = ("dQw4w9WgXcQ", "M7lc1UVf-VE"),
                 disabled: tuple[str, ...] = ("noComments1",), initial: int | None = None,
                 pace: float | None = None, appear_seconds: float = 2.0, manual: bool = False,
                 replies_every: int = 4, api_key: str = API_KEY, daily_quota: int = 1_000_000,
                 units_per_call: int = 1, page_cap: int = 100) -> None:
        super().__init__()
        self.count, self.videos, self.disabled = count, videos, disabled
        self.initial, self.pace, self.appear_seconds, self.manual = initial, pace, appear_seconds, manual
        self.replies_every = replies_every
        self.api_key, self.daily_quota, self.units_per_call = api_key, daily_quota, units_per_call
        self.page_cap = page_cap
        self.quota_used = 0
        self.key_error = "keyInvalid"
        self.fail_next: list[tuple[int, int | None]] = []
        self.drop_next: int | None = None
        self.malformed_next = 0
        self.expire_tokens_next = 0
        self.oversize_at: set[int] = set()
        self.oversize_bytes = 1_200_000
        self.latency = 0.0  # seconds before each answer
        self.calls: list[dict[str, Any]] = []
        self.released = 0
        self._build()

    # -- the threads
    def _build(self) -> None:
        """Threads in the order they appear (so also by publishedAt); built again at start, from the switches then."""
        templates, reply_template = _templates()
        self._t0_wall, self._first_call = datetime.now(UTC), None
        threads: list[dict[str, Any]] = []
        posts, i = 0, 0
        while posts < self.count:
            threads.append(self._make_thread(i, templates[i % len(templates)], reply_template,
                                        with_reply=posts + 2 <= self.count and self.replies_every > 0
                                        and i % self.replies_every == self.replies_every - 1))
            posts += _posts(threads[-1])
            i += 1
        self.threads = threads
        if self.initial is not None:
            self._initial = min(self.initial, len(threads))
        else:  # half there at once; with a pace set, none (the whole stream is paced, as the other fakes do)
            self._initial = 0 if self.pace is not None and not self.manual else len(threads) - len(threads) // 2
        later_posts = sum(_posts(t) for t in threads[self._initial:])
        pace = self.pace if self.pace is not None else self.appear_seconds / max(1, later_posts)
        self._appear_at: list[float] = []  # seconds after the first call; a thread comes with its replies
        elapsed = 0.0
        for n, thread in enumerate(threads):
            if n >= self._initial:
                elapsed += _posts(thread) * pace
            self._appear_at.append(0.0 if n < self._initial else elapsed)
        step = min(0.25, 3 * 3600 / len(threads)) if threads else 0.25
        for n, thread in enumerate(threads):
            at = _iso(self._t0_wall - timedelta(seconds=(len(threads) - 1 - n) * step))
            thread["snippet"]["topLevelComment"]["snippet"]["publishedAt"] = at
            thread["snippet"]["topLevelComment"]["snippet"]["updatedAt"] = at
            for reply in thread.get("replies", {}).get("comments", []):
                reply["snippet"]["publishedAt"] = reply["snippet"]["updatedAt"] = at

    def _make_thread(self, i: int, template: dict[str, Any], reply_template: dict[str, Any], *,
                with_reply: bool) -> dict[str, Any]:
        video = self.videos[i % len(self.videos)]
        thread_id = f"UgzFake{i:012d}x4AaABAg"
        thread = copy.deepcopy(template)
        thread["id"] = thread_id
        thread["etag"] = f"etagThread{i:012d}"
        snippet = thread["snippet"]
        snippet["videoId"], snippet["channelId"] = video, CHANNEL
        top = snippet["topLevelComment"]
        top["id"], top["etag"] = thread_id, f"etagComment{i:012d}"
        top["snippet"]["videoId"], top["snippet"]["channelId"] = video, CHANNEL
        text = f"{top['snippet']['textOriginal']} #{i}"
        if i in self.oversize_at:
            text = "x" * self.oversize_bytes
        top["snippet"]["textOriginal"] = text
        top["snippet"]["likeCount"] = i % 50
        snippet["totalReplyCount"] = 0
        thread.pop("replies", None)
        if with_reply and i not in self.oversize_at:
            reply = copy.deepcopy(reply_template)
            reply["id"] = f"{thread_id}.A1b2C3d4E5f{i:011d}"
            reply["etag"] = f"etagReply{i:012d}"
            reply["snippet"]["parentId"] = thread_id
            reply["snippet"]["videoId"] = video  # the comment resource's snippet.videoId
            reply["snippet"]["textOriginal"] = f"{reply['snippet']['textDisplay']} #{i}"
            thread["replies"] = {"comments": [reply]}
            snippet["totalReplyCount"] = 1
        return thread

    def release(self, n: int) -> None:
        """Make the next `n` threads appear (manual=True)."""
        self.released += n

    def visible(self) -> int:
        """How many threads have appeared: the initial ones, then the others at `pace` seconds a post from the first
        call (or as `release` says, when manual)."""
        if self.manual:
            return min(len(self.threads), self._initial + self.released)
        if self.pace == 0 or self._first_call is None:
            return len(self.threads) if self.pace == 0 else self._initial
        return bisect.bisect_right(self._appear_at, time.monotonic() - self._first_call)

    def start(self) -> FakeYouTube:
        self._build()
        super().start()
        return self

    # -- what a connector run against it must deliver
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/youtube/v3/commentThreads", self._comment_threads)

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/youtube/v3"

    def listen_args(self) -> list[str]:
        args = ["--api-base", self.api_base]
        for video in (*self.videos, *self.disabled):
            args += ["--video", video]
        return [*args, "--poll-seconds", "0.5", "--lookback-minutes", "1440", "--daily-quota",
                str(self.daily_quota), "--quota-reserve", "0", "--units-per-call", str(self.units_per_call)]

    def env(self) -> dict[str, str]:
        return {"SOCIALPULSE_SOURCES__YOUTUBE_API_KEY": self.api_key}

    def expected_event_ids(self) -> set[str]:
        now = datetime.now(UTC)
        ids: set[str] = set()
        for n, thread in enumerate(self.threads):
            if n in self.oversize_at:
                continue
            for item in explode(thread):
                ids.add(detect_and_normalize(item, now=now).event_id)
        return ids

    def expected_deletion_ids(self) -> set[str]:
        return set()  # the Data API has no deletion feed

    def oversize_event_ids(self) -> set[str]:
        return {f"youtube:{self.threads[n]['id']}" for n in self.oversize_at if n < len(self.threads)}

    # -- the endpoint
    @staticmethod
    def _error(name: str, *, headers: dict[str, str] | None = None) -> web.Response:
        body = errors()[name]
        return web.json_response(body, status=body["error"]["code"], headers=headers)

    async def _comment_threads(self, request: web.Request) -> web.StreamResponse:
        if self._first_call is None:
            self._first_call = time.monotonic()
        if self.latency:
            await asyncio.sleep(self.latency)
        query = request.query
        key = query.get("key")
        self.calls.append({**{k: v for k, v in query.items() if k != "key"}, "key_ok": key == self.api_key})
        if not key:
            return self._error("missingKey")
        if key != self.api_key:
            return self._error(self.key_error)
        if self.fail_next:
            status, retry_after = self.fail_next.pop(0)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            self.quota_used += self.units_per_call
            name = "rateLimitExceeded" if status in (403, 429) else "backendError"
            body = errors()[name]
            return web.json_response({"error": {**body["error"], "code": status}}, status=status, headers=headers)
        if self.quota_used + self.units_per_call > self.daily_quota:
            return self._error("quotaExceeded")
        self.quota_used += self.units_per_call
        filters = [f for f in ("videoId", "allThreadsRelatedToChannelId", "id") if f in query]
        parts = set(query.get("part", "").split(","))
        if len(filters) != 1 or not parts or not parts <= _PARTS:
            return web.json_response({"error": {"code": 400, "message": "Bad filters or parts", "errors": [
                {"domain": "youtube.parameter", "reason": "invalidFilters" if len(filters) != 1 else "invalidPart",
                 "message": "Bad filters or parts"}]}}, status=400)
        max_results = int(query.get("maxResults", "20"))
        if not 1 <= max_results <= 100:
            return web.json_response({"error": {"code": 400, "message": "Invalid value for maxResults", "errors": [
                {"domain": "global", "reason": "invalidParameter", "message": "Invalid value for maxResults",
                 "locationType": "parameter", "location": "maxResults"}]}}, status=400)
        shown = self.threads[:self.visible()]
        if "videoId" in query:
            video = query["videoId"]
            if video in self.disabled:
                return self._error("commentsDisabled")
            if video not in self.videos:
                return self._error("videoNotFound")
            matching = [n for n, t in enumerate(shown) if t["snippet"]["videoId"] == video]
        elif "allThreadsRelatedToChannelId" in query:
            if query["allThreadsRelatedToChannelId"] != CHANNEL:
                return self._error("channelNotFound")
            matching = list(range(len(shown)))
        else:
            wanted = set(query["id"].split(","))
            matching = [n for n, t in enumerate(shown) if t["id"] in wanted]
        newest_first = matching[::-1]
        token = query.get("pageToken")
        if token is not None:
            after = _read_token(token)
            if after is None or self.expire_tokens_next > 0:
                self.expire_tokens_next = max(0, self.expire_tokens_next - 1)
                return self._error("invalidPageToken")
            newest_first = [n for n in newest_first if n < after]
        size = min(max_results, self.page_cap)
        chosen, rest = newest_first[:size], newest_first[size:]
        items = [self._render(self.threads[n], parts, plain=query.get("textFormat") == "plainText") for n in chosen]
        page: dict[str, Any] = {"kind": "youtube#commentThreadListResponse", "etag": f"etagPage{len(self.calls)}"}
        if rest:
            page["nextPageToken"] = _token(chosen[-1])
        page["pageInfo"] = {"totalResults": len(items), "resultsPerPage": size}
        page["items"] = items
        body = json.dumps(page, ensure_ascii=False).encode()
        if self.malformed_next > 0:
            self.malformed_next -= 1
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        if self.drop_next is not None:
            cut = len(json.dumps({**page, "items": items[: self.drop_next]}, ensure_ascii=False).encode()) - 2
            self.drop_next = None
            response = web.StreamResponse(status=200)
            response.content_type = "application/json"
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[:cut])
            assert request.transport is not None
            request.transport.close()  # mid-body: the client sees fewer bytes than Content-Length
            return response
        return web.Response(body=body, content_type="application/json")

    @staticmethod
    def _render(thread: dict[str, Any], parts: set[str], *, plain: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": thread["kind"], "etag": thread["etag"], "id": thread["id"]}
        comments = [thread["snippet"]["topLevelComment"], *thread.get("replies", {}).get("comments", [])]
        for comment in comments:
            original = comment["snippet"].get("textOriginal", comment["snippet"].get("textDisplay", ""))
            comment["snippet"]["textDisplay"] = original if plain else html.escape(original).replace("\n", "<br>")
        if "snippet" in parts:
            out["snippet"] = thread["snippet"]
        if "replies" in parts and "replies" in thread:
            out["replies"] = thread["replies"]
        return out


def _token(after: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode().rstrip("=")


def _read_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("after:")) if text.startswith("after:") else None
    except (ValueError, UnicodeDecodeError):
        return None
