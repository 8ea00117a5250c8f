"""A fake Reddit: the app-only OAuth token endpoint and the OAuth API's listings, on one 127.0.0.1 server.

- `POST /api/v1/access_token`: HTTP Basic client_id:client_secret (else 401 `{"message": "Unauthorized", "error":
  401}`), form `grant_type=client_credentials` (else 400 `{"error": "unsupported_grant_type"}`) → the documented
  token JSON (tests/unit/fixtures/reddit/access_token.jsonc) with a fresh token valid `token_ttl` seconds.
- `GET /r/<a+b>/new`, `/r/<a+b>/comments`, `/r/<a+b>/search` and `/search` (`q`, `sort=new`, `restrict_sr`): a
  Listing newest first with Reddit's paging: `limit` (default 25, at most 100), `after` / `before` (a fullname; one
  no longer listed gives an empty page), `after` in the answer naming the page's last thing while more follow, at
  most 1000 things reachable. `Authorization: bearer <token>` is required (else 401 with `www-authenticate: Bearer
  realm="reddit", error="invalid_token"`), and so is a User-Agent of the app's own (Python's default gets 429, as
  Reddit throttles default agents). Every answer has X-Ratelimit-Used / -Remaining (a float) / -Reset (seconds to
  the end of the window) for `quota` requests per `window_seconds`; a request beyond the quota gets 429.
- Subreddits other than `subreddits` redirect to `/subreddits/search?q=<name>` (302), as Reddit does; those in
  `private` answer 403 `{"reason": "private", "message": "Forbidden", "error": 403}`.

The things: `count` distinct submissions and comments (two thirds submissions) made from the documented fixtures
(tests/unit/fixtures/reddit/{new,comments}_listing.jsonc, info_one_link.jsonc, networks/reddit_*.json) with fresh
ids, `created_utc` spread over the last three hours and a numbered text. They are listed `per_poll` at a time: each
first-page request (no `after`/`before`) shows the next `per_poll` things once its page is made, so a connector that
polls finds new things, and one that stops and comes back finds what appeared meanwhile (`show(n)` lists more at
once, as if posted while it was away).

Fault switches: `fail_next` answers the next API requests with (status, Retry-After) pairs; `drop_after` cuts the
next non-empty listing body after that many things and closes the connection; `malformed_next` answers the next
listings with a cut (non-JSON) body; `oversize_at` lists, with the thing at each of those positions, an extra
submission of `oversize_bytes` of text (not an expected post); `revoke_tokens()` invalidates the tokens issued;
`delete(fullname)` takes a thing out of the listings; `delete_page_end = <path>` deletes the thing the next page of
that listing names as `after`, just after making that page (once).
"""

from __future__ import annotations

import base64
import copy
import json
import math
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from processors.normalizers.reddit import normalize_reddit
from tests.fakes.server import FakeServer
from tests.unit.fixture_files import FIXTURES, load_jsonc

CLIENT_ID = "fake-reddit-client-Zq8P3"
CLIENT_SECRET = "fake-reddit-secret-7XkQ2wLmN9"
USER_AGENT = "test:socialpulse-fake:0.1 (by /u/socialpulse_tests)"
_T3_BASE = int("1h00000", 36)
_T1_BASE = int("lzq0000", 36)
_SPAN_SECONDS = 3 * 3600


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _templates() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    links = load_jsonc("reddit/new_listing.jsonc")["data"]["children"]
    links += load_jsonc("reddit/info_one_link.jsonc")["data"]["children"]
    links.append(json.loads((FIXTURES / "networks" / "reddit_submission.json").read_text()))
    comments = load_jsonc("reddit/comments_listing.jsonc")["data"]["children"]
    comments.append(json.loads((FIXTURES / "networks" / "reddit_comment.json").read_text()))
    comments += json.loads((FIXTURES / "networks" / "reddit_listing.json").read_text())["data"]["children"]
    return links, comments


def _listing_body(children: list[dict[str, Any]], *, after: str | None, before: str | None,
                  extra: dict[str, Any] | None = None) -> tuple[bytes, list[int]]:
    """A Listing's bytes, and where each child ends in them (to cut a body after the n-th thing)."""
    head = {"after": after, "dist": len(children), **(extra or {}), "modhash": None, "geo_filter": ""}
    out = bytearray(b'{"kind": "Listing", "data": ' + json.dumps(head).encode()[:-1] + b', "children": [')
    ends: list[int] = []
    for n, child in enumerate(children):
        out += (b", " if n else b"") + json.dumps(child).encode()
        ends.append(len(out))
    out += b'], "before": ' + json.dumps(before).encode() + b"}}"
    return bytes(out), ends


class FakeReddit(FakeServer):
    network = "reddit"

    def __init__(self, count: int = 60, *, per_poll: int | None = None, subreddits: Sequence[str] = ("technology",),
                 poll_seconds: float = 0.05, start: float | None = None) -> None:
        super().__init__()
        self.subreddits = tuple(subreddits)
        # Default: count/50 things a request, 10 to 300: a benchmark's thousands come in seconds, and with two
        # listings polled in turn at most ~400 submissions appear between two polls of /new, well inside the
        # 1000 things Reddit lets a connector page back through.
        self.per_poll = per_poll if per_poll is not None else min(300, max(10, count // 50))
        self.poll_seconds = poll_seconds
        links, comments = _templates()
        start = start if start is not None else time.time() - _SPAN_SECONDS
        self.things: list[dict[str, Any]] = []
        last_link: dict[str, Any] | None = None
        t3 = t1 = 0
        for i in range(count):
            sub = self.subreddits[i % len(self.subreddits)]
            created = float(int(start + i * _SPAN_SECONDS / max(count, 1)))
            if i % 3 != 2:
                thing = copy.deepcopy(links[t3 % len(links)])
                data = thing["data"]
                data["id"] = _base36(_T3_BASE + t3)
                data["title"] = f"{data['title']} ({i})"
                data["permalink"] = f"/r/{sub}/comments/{data['id']}/fake_{i}/"
                data["url"] = f"https://www.reddit.com{data['permalink']}"
                data["domain"] = f"self.{sub}"
                t3 += 1
                last_link = thing
            else:
                thing = copy.deepcopy(comments[t1 % len(comments)])
                data = thing["data"]
                data["id"] = _base36(_T1_BASE + t1)
                data["body"] = f"{data['body']} ({i})"
                if last_link is not None:
                    data["link_id"] = data["parent_id"] = last_link["data"]["name"]
                    data["link_title"] = last_link["data"]["title"]
                    data["permalink"] = f"{last_link['data']['permalink']}{data['id']}/"
                t1 += 1
            data["name"] = f"{thing['kind']}_{data['id']}"
            data["subreddit"], data["subreddit_name_prefixed"] = sub, f"r/{sub}"
            data["created_utc"] = data["created"] = created
            self.things.append(thing)
        self._shown: list[dict[str, Any]] = []  # listed so far, oldest first (oversize extras included)
        self._next = 0
        self._lock = threading.Lock()
        # protocol state
        self.token_ttl = 3600
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.tokens_issued = 0
        self.issued: list[str] = []  # every token handed out (to check that none is ever logged)
        self.quota: int | None = None  # requests per window (None: Reddit's free tier never reached)
        self.window_seconds = 600.0
        self._window_start: float | None = None
        self._window_used = 0
        self.private: set[str] = set()
        self.calls: list[dict[str, Any]] = []  # every API and token call: path, query, headers that matter
        # fault switches
        self.fail_next: list[tuple[int, int | None]] = []
        self.drop_after: int | None = None
        self.malformed_next = 0
        self.oversize_at: set[int] = set()
        self.oversize_bytes = 1_200_000
        self.delete_page_end: str | None = None  # a path: once, delete the thing its next page's `after` names
        self.answered: list[int] = []  # status of every API answer, in order

    # -- what a connector run against it must deliver
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/access_token", self._token)
        app.router.add_get("/r/{subs}/new", self._new)
        app.router.add_get("/r/{subs}/comments", self._comments)
        app.router.add_get("/r/{subs}/search", self._search)
        app.router.add_get("/search", self._search)
        app.router.add_get("/subreddits/search", self._subreddit_search)

    def listen_args(self) -> list[str]:
        args = ["--api-base", self.base_url, "--auth-url", f"{self.base_url}/api/v1/access_token",
                "--user-agent", USER_AGENT, "--poll-seconds", str(self.poll_seconds)]
        for sub in self.subreddits:
            args += ["--subreddit", sub]
        return args

    def env(self) -> dict[str, str]:
        return {"SOCIALPULSE_SOURCES__REDDIT_CLIENT_ID": CLIENT_ID,
                "SOCIALPULSE_SOURCES__REDDIT_CLIENT_SECRET": CLIENT_SECRET}

    def expected_event_ids(self, *, kind: str | None = None, matching: str | None = None) -> set[str]:
        """Every thing served (of one kind, or submissions matching a search), as the normalizer names it."""
        now = datetime.now(UTC)
        return {normalize_reddit(t, now=now).event_id for t in self.things
                if (kind is None or t["kind"] == kind) and (matching is None or _matches(t, matching))}

    def expected_deletion_ids(self) -> set[str]:
        return set()  # Reddit's listings announce no deletions

    # -- switches
    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def show(self, n: int) -> None:
        """List the next `n` things now (as if they had been posted)."""
        with self._lock:
            for _ in range(n):
                if self._next >= len(self.things):
                    return
                if self._next in self.oversize_at:
                    self._shown.append(self._oversize(self._next))
                self._shown.append(self.things[self._next])
                self._next += 1

    def delete(self, fullname: str) -> None:
        """The thing leaves every listing, as a deleted or removed one does."""
        with self._lock:
            self._shown = [t for t in self._shown if t["data"]["name"] != fullname]

    @property
    def shown(self) -> int:
        return self._next

    def _oversize(self, position: int) -> dict[str, Any]:
        thing = copy.deepcopy(self.things[position]) if self.things[position]["kind"] == "t3" else \
            copy.deepcopy(next(t for t in self.things if t["kind"] == "t3"))
        data = thing["data"]
        data["id"] = f"big{position}"
        data["name"] = f"t3_big{position}"
        data["selftext"] = "x" * self.oversize_bytes
        data["created_utc"] = data["created"] = self.things[position]["data"]["created_utc"]
        return thing

    # -- handlers
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls.append({"path": request.path, "method": request.method, "form": dict(form),
                           "user_agent": request.headers.get("User-Agent", ""),
                           "authorization": request.headers.get("Authorization", "")})
        if _basic(request.headers.get("Authorization", "")) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response(load_jsonc("reddit/oauth_errors.jsonc")["token_refused"], status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response(load_jsonc("reddit/oauth_errors.jsonc")["unsupported_grant_type"], status=400)
        token = "-" + secrets.token_hex(15)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.tokens_issued += 1
        self.issued.append(token)
        return web.json_response({**load_jsonc("reddit/access_token.jsonc"), "access_token": token,
                                  "expires_in": self.token_ttl})

    async def _new(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, lambda subs: [t for t in self._newest() if t["kind"] == "t3" and
                                                        t["data"]["subreddit"].lower() in subs])

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, lambda subs: [t for t in self._newest() if t["kind"] == "t1" and
                                                        t["data"]["subreddit"].lower() in subs])

    async def _search(self, request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "")
        restrict = request.query.get("restrict_sr") in ("1", "true", "on")

        def things(subs: set[str] | None) -> list[dict[str, Any]]:
            return [t for t in self._newest() if t["kind"] == "t3" and _matches(t, q)
                    and (not restrict or subs is None or t["data"]["subreddit"].lower() in subs)]

        return await self._serve(request, things, extra={"facets": {}})

    async def _subreddit_search(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(load_jsonc("reddit/search_empty.jsonc"))

    def _newest(self) -> list[dict[str, Any]]:
        with self._lock:
            shown = list(self._shown)
        return sorted(shown, key=lambda t: (t["data"]["created_utc"], int(t["data"]["id"], 36)
                                            if t["data"]["id"].isalnum() else 0), reverse=True)

    async def _serve(self, request: web.Request, select: Any, *, extra: dict[str, Any] | None = None,
                     ) -> web.StreamResponse:
        query = dict(request.query)
        self.calls.append({"path": request.path, "method": request.method, "query": query,
                           "user_agent": request.headers.get("User-Agent", ""),
                           "authorization": request.headers.get("Authorization", "")})
        refusal = self._check(request)
        if refusal is not None:
            self.answered.append(refusal.status)
            return refusal
        subs: set[str] | None = None
        if "subs" in request.match_info:
            subs = {s.lower() for s in request.match_info["subs"].split("+")}
            unknown = sorted(subs - {s.lower() for s in self.subreddits})
            if unknown:
                self.answered.append(302)
                raise web.HTTPFound(location=f"/subreddits/search?q={unknown[0]}", headers=self._window())
            if subs & {s.lower() for s in self.private}:
                self.answered.append(403)
                return web.json_response({"reason": "private", "message": "Forbidden", "error": 403}, status=403,
                                         headers=self._window())
        first_page = "after" not in query and "before" not in query
        things = select(subs)[:1000]
        page, after, before = _page(things, query)
        headers = {**self._window(), "Content-Type": "application/json; charset=UTF-8"}
        body, ends = _listing_body(page, after=after, before=before, extra=extra)
        if self.delete_page_end == request.path and after is not None:
            self.delete_page_end = None
            self.delete(after)  # deleted between this page and the next: `after=<it>` now finds nothing
        self.answered.append(200)
        if self.malformed_next > 0:
            self.malformed_next -= 1
            return web.Response(body=body[: max(1, len(body) // 2)], headers=headers)
        if self.drop_after is not None and len(page) > self.drop_after:
            cut, self.drop_after = body[: ends[self.drop_after - 1] if self.drop_after else 60], None
            resp = web.StreamResponse(status=200, headers=headers)
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(cut)
            if request.transport is not None:
                request.transport.close()  # mid-body: the client sees the connection end before Content-Length
            return resp
        if first_page:
            self.show(self.per_poll)  # new things appear once this page has been made
        return web.Response(body=body, headers=headers)

    def _check(self, request: web.Request) -> web.Response | None:
        """The refusals every API request may get: a fault switched on, the user agent, the token, the quota."""
        if self.fail_next:
            status, retry_after = self.fail_next.pop(0)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return web.Response(status=status, headers=headers, text="")
        agent = request.headers.get("User-Agent", "")
        if not agent or agent.startswith(("Python/", "python-requests")):
            return web.Response(status=429, text="Too Many Requests: use a unique and descriptive User-Agent")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.tokens.get(token, 0.0) < time.monotonic():
            errors = load_jsonc("reddit/oauth_errors.jsonc")
            return web.json_response(errors["invalid_token"], status=401,
                                     headers={"www-authenticate": errors["invalid_token_www_authenticate"]})
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= self.window_seconds:
            self._window_start, self._window_used = now, 0
        if self.quota is not None and self._window_used >= self.quota:
            return web.Response(status=429, headers=self._window(count=False), text="")
        self._window_used += 1
        return None

    def _window(self, *, count: bool = True) -> dict[str, str]:
        now = time.monotonic()
        start = self._window_start if self._window_start is not None else now
        quota = self.quota if self.quota is not None else 1_000_000
        reset = max(0, math.ceil(start + self.window_seconds - now))
        return {"x-ratelimit-used": str(self._window_used),
                "x-ratelimit-remaining": f"{max(0, quota - self._window_used):.1f}",
                "x-ratelimit-reset": str(reset)}

    def api_calls(self, path: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"] != "/api/v1/access_token" and (path is None or c["path"] == path)]


def _page(things: list[dict[str, Any]], query: dict[str, str]) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """Reddit's listing paging: (page, after, before) for `limit`, `after`, `before`."""
    try:
        limit = min(100, max(1, int(query.get("limit", "25"))))
    except ValueError:
        limit = 25
    names = [t["data"]["name"] for t in things]
    if "after" in query:
        if query["after"] not in names:
            return [], None, None
        start = names.index(query["after"]) + 1
    elif "before" in query:
        if query["before"] not in names:
            return [], None, None
        start = max(0, names.index(query["before"]) - limit)
    else:
        start = 0
    end = start + limit if "before" not in query else names.index(query["before"])
    page = things[start:end]
    after = page[-1]["data"]["name"] if page and end < len(things) else None
    before = page[0]["data"]["name"] if page and ("after" in query or "before" in query) and start > 0 else None
    return page, after, before


def _matches(thing: dict[str, Any], q: str) -> bool:
    data = thing["data"]
    text = f"{data.get('title', '')} {data.get('selftext', '')}".lower()
    return all(word in text for word in q.lower().split())


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password

