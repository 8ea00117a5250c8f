"""A fake X API v2 (filtered stream) on 127.0.0.1, serving X's documented payloads.

Endpoints, as X documents them (https://docs.x.com/x-api/posts/filtered-stream/introduction):
- `GET /2/tweets/search/stream/rules` (ids, max_results, pagination_token → meta.next_token) and
  `POST /2/tweets/search/stream/rules` ({"add": [...]} → 201 with meta.summary created/not_created/valid/invalid,
  DuplicateRule errors; {"delete": {"ids": [...]}} → 200 with meta.summary deleted/not_deleted; `dry_run`). A rule
  over `max_rule_length` is refused (400, invalid-rules). Shapes: tests/unit/fixtures/x/stream_rules.jsonc.
- `GET /2/tweets/search/stream`: chunked, one JSON message per `\\r\\n` line with `matching_rules`, a bare `\\r\\n`
  keep-alive when idle for `keepalive_seconds`; nothing but keep-alives while no rule exists; `backfill_minutes`
  (1..5) replays, oldest first, the posts published in that many minutes before the connection. A new connection
  replaces the current one (one connection per app), which is closed.
- `GET /2/tweets/compliance/stream?partition=1..4`: the same line protocol, serving compliance events.
- `GET /2/tweets/search/recent`: query (one of the active rules' values), since_id or start_time, max_results,
  next_token; the published posts of that rule, newest first.
Every endpoint wants `Authorization: Bearer <token>` (else 401, X's body) and answers 403 (client-forbidden) when
`enrolled` is False. Bodies: tests/unit/fixtures/x/stream_refusals.jsonc.

Posts: `count` distinct stream messages made from the documented payloads (tests/unit/fixtures/networks/x_*.json,
tests/unit/fixtures/x/*.jsonc, pages split into single-post messages with the includes each post refers to): the
n-th copy of a payload gets a new snowflake id for a created_at within the last three hours, and posts that are
not retweets get " (n)" appended to their text. A post is "published" when it is first written to a connection (or
by `publish_while_disconnected`); published posts are what backfill and recent search return, so a restarted
connector asking for backfill gets the same posts again.

Fault switches (set by the tests; each fires once, counted in posts published so far):
`drop_after` (close the connection abruptly), `stall_after` (stop writing, not even keep-alives, until replaced),
`error_after` (send X's operational-disconnect error line, then end the response), `malformed_after` (a line that is
not JSON), `oversize_after` (a 1.2 MiB post), `publish_while_disconnected` (on the next reconnect, that many posts
are published without being sent: only backfill or search brings them), `stream_failures` / `rules_failures`
(answers for the next connections/calls: [(status, headers)], e.g. (429, {"Retry-After": "2"})), `empty_closes`
(the next N connections end after their first keep-alive), `pace` (seconds between posts). `connections` records
every accepted stream connection with its resume hint (`cursor`: the backfill_minutes it asked for, or None).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from processors.normalizers.deletions import deletion_of
from processors.normalizers.x import explode_x, normalize_x
from tests.fakes.server import FakeServer
from tests.unit.fixture_files import load_jsonc

TOKEN = "AAAAAAAAAAAAAAAAAAAAAfake%2Bbearer%2Btoken%3Dsocialpulse"
_EPOCH_MS = 1288834974657
_TEMPLATE_FILES = (
    "networks/x_tweet.json", "networks/x_reply.json", "networks/x_retweet.json", "networks/x_search_page.json",
    "x/long_post.jsonc", "x/retweet_expanded.jsonc", "x/search_page_retweets.jsonc",
)
_RULES = load_jsonc("x/stream_rules.jsonc")
_REFUSALS = load_jsonc("x/stream_refusals.jsonc")
_OPERATIONAL_DISCONNECT = load_jsonc("x/error_responses.jsonc")["responses"][1]
_COMPLIANCE = load_jsonc("x/compliance_events.jsonc")["events"]


def _line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def snowflake(when: datetime, sequence: int) -> str:
    return str(((int(when.timestamp() * 1000) - _EPOCH_MS) << 22) | (sequence & 0x3FFFFF))


def stream_templates() -> list[dict[str, Any]]:
    """The documented payloads as single-post stream messages (data + the includes that post refers to)."""
    out: list[dict[str, Any]] = []
    for name in _TEMPLATE_FILES:
        doc = load_jsonc(name)
        for single in explode_x(doc):
            data = single["data"]
            data = data[0] if isinstance(data, list) else data
            refs = {r["id"] for r in data.get("referenced_tweets", ())}
            includes = single.get("includes", {})
            tweets = [t for t in includes.get("tweets", ()) if t["id"] in refs]
            user_ids = {data["author_id"], *(t.get("author_id") for t in tweets)}
            message: dict[str, Any] = {"data": data}
            kept = {"users": [u for u in includes.get("users", ()) if u["id"] in user_ids], "tweets": tweets}
            if any(kept.values()):
                message["includes"] = {k: v for k, v in kept.items() if v}
            out.append(message)
    return out


def make_posts(count: int, *, now: datetime) -> list[dict[str, Any]]:
    templates = stream_templates()
    start = now - timedelta(hours=3)
    step = min(1.0, 3 * 3600 / max(count, 1))
    posts = []
    for i in range(count):
        message = copy.deepcopy(templates[i % len(templates)])
        copy_no = i // len(templates)
        data = message["data"]
        created = start + timedelta(seconds=i * step)
        old_id, new_id = data["id"], snowflake(created, i)
        data["id"], data["created_at"] = new_id, _iso(created)
        if data.get("conversation_id") == old_id:
            data["conversation_id"] = new_id
        if "edit_history_tweet_ids" in data:
            data["edit_history_tweet_ids"] = [new_id]
        retweet = any(r["type"] == "retweeted" for r in data.get("referenced_tweets", ()))
        if copy_no and not retweet:
            data["text"] += f" ({copy_no})"
            if "note_tweet" in data:
                data["note_tweet"]["text"] += f" ({copy_no})"
        posts.append(message)
    return posts


def make_compliance(posts: list[dict[str, Any]], count: int, *, edits: bool, now: datetime) -> list[dict[str, Any]]:
    """`count` delete / withheld / drop events (X's documented event shapes) about distinct served posts."""
    kinds = [e for e in _COMPLIANCE if next(iter(e["data"])) in ("delete", "withheld", "drop")]
    events = []
    for j in range(count):
        event = copy.deepcopy(kinds[j % len(kinds)])
        body = next(iter(event["data"].values()))
        target = posts[j % len(posts)]["data"]
        body["tweet"] = {"id": target["id"], "author_id": target["author_id"]}
        body["event_at"] = _iso(now)
        if "quote_tweet_id" in body:
            body["quote_tweet_id"] = target["id"]
        events.append(event)
    if edits:
        events.append(copy.deepcopy(next(e for e in _COMPLIANCE if "tweet_edit" in e["data"])))
    return events


@dataclass
class _Feed:
    items: list[dict[str, Any]]
    next: int = 0
    published_at: dict[int, float] = field(default_factory=dict)
    generation: int = 0  # bumped by each connection; an older connection sees it and closes
    connections: int = 0


class FakeX(FakeServer):
    network = "x"

    def __init__(self, count: int = 12, *, deletions: int = 0, compliance_edits: bool = False,
                 keepalive_seconds: float = 1.0, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.keepalive_seconds = keepalive_seconds
        self.enrolled = True
        self.max_rule_length = 512
        self.rules_page_size = 1000
        now = datetime.now(UTC)
        self.posts = make_posts(count, now=now)
        self.compliance = make_compliance(self.posts, deletions, edits=compliance_edits, now=now) \
            if deletions or compliance_edits else []
        self.rules: dict[str, dict[str, str]] = {}
        self.rule_posts: list[dict[str, Any]] = []  # bodies POSTed to the rules endpoint
        self._next_rule_id = 1_900_000_000_000_000_000
        self._feeds = {"posts": _Feed(self.posts), "compliance": _Feed(self.compliance)}
        # fault switches
        self.drop_after: int | None = None
        self.stall_after: int | None = None
        self.error_after: int | None = None
        self.malformed_after: int | None = None
        self.oversize_after: int | None = None
        self.publish_while_disconnected = 0
        self.stream_failures: list[tuple[int, dict[str, str]]] = []
        self.rules_failures: list[tuple[int, dict[str, str]]] = []
        self.pace = 0.0
        self.empty_closes = 0  # the next N connections end right after their first keep-alive
        self.extra_lines: list[bytes] = []  # non-post lines written (malformed, oversize, errors)
        # every stream connection accepted: its feed, query and the resume hint it carried (backfill_minutes;
        # None when the connector started from X's present)
        self.connections: list[dict[str, Any]] = []

    # -- what a run must deliver

    def listen_args(self) -> list[str]:
        args = ["--api-base", self.base_url, "--backfill-minutes", "5"]
        return [*args, "--compliance-partition", "1"] if self.compliance else args

    def env(self) -> dict[str, str]:
        return {"SOCIALPULSE_SOURCES__X_BEARER_TOKEN": self.token}

    def expected_event_ids(self) -> set[str]:
        now = datetime.now(UTC)
        return {normalize_x(post, now=now).event_id for post in self.posts}

    def expected_deletion_ids(self) -> set[str]:
        now = datetime.now(UTC)
        found = (deletion_of(e, source="fake", now=now) for e in self.compliance)
        return {d.deletion_id for d in found if d is not None}

    def published(self) -> int:
        return self._feeds["posts"].next

    def publish_now(self, n: int) -> None:
        """Publish the next `n` posts without sending them (matched while no connector was connected)."""
        feed = self._feeds["posts"]
        for _ in range(min(n, len(feed.items) - feed.next)):
            feed.published_at[feed.next] = time.time()
            feed.next += 1

    def stream_connects(self) -> list[dict[str, str]]:
        """The query of every connection attempt to the filtered stream, in order."""
        return [dict(r.query) for r in self.requests if r.path == "/2/tweets/search/stream"]

    # -- routes

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/2/tweets/search/stream/rules", self._get_rules)
        app.router.add_post("/2/tweets/search/stream/rules", self._post_rules)
        app.router.add_get("/2/tweets/search/stream", self._stream_posts)
        app.router.add_get("/2/tweets/compliance/stream", self._stream_compliance)
        app.router.add_get("/2/tweets/search/recent", self._search_recent)

    def _refused(self, request: web.Request, failures: list[tuple[int, dict[str, str]]]) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(_REFUSALS["unauthorized"], status=401)
        if not self.enrolled:
            return web.json_response(_REFUSALS["client_forbidden"], status=403)
        if failures:
            status, headers = failures.pop(0)
            body = {429: _REFUSALS["too_many_connections"], 401: _REFUSALS["unauthorized"],
                    403: _REFUSALS["client_forbidden"]}.get(status) or \
                {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                 "status": status}
            return web.json_response(body, status=status, headers=headers)
        return None

    @staticmethod
    def _sent() -> str:
        return _iso(datetime.now(UTC))

    def _active_rules(self) -> list[dict[str, str]]:
        return sorted(self.rules.values(), key=lambda r: (r.get("tag", ""), r["value"]))

    async def _get_rules(self, request: web.Request) -> web.Response:
        if (refusal := self._refused(request, self.rules_failures)) is not None:
            return refusal
        rules = self._active_rules()
        if "ids" in request.query:
            wanted = set(request.query["ids"].split(","))
            rules = [r for r in rules if r["id"] in wanted]
        size = min(int(request.query.get("max_results", "1000")), self.rules_page_size)
        start = int(request.query.get("pagination_token", "0") or 0)
        page = rules[start:start + size]
        meta: dict[str, Any] = {"sent": self._sent(), "result_count": len(page)}
        if start + size < len(rules):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"data": page, "meta": meta} if page else {"meta": meta}
        return web.json_response(body)

    async def _post_rules(self, request: web.Request) -> web.Response:
        if (refusal := self._refused(request, self.rules_failures)) is not None:
            return refusal
        body = await request.json()
        self.rule_posts.append(body)
        dry_run = request.query.get("dry_run") == "true"
        if "delete" in body:
            ids = [str(i) for i in body["delete"].get("ids", ())]
            found = [i for i in ids if i in self.rules]
            if not dry_run:
                for i in found:
                    del self.rules[i]
            summary = {"deleted": len(found), "not_deleted": len(ids) - len(found)}
            return web.json_response({"meta": {"sent": self._sent(), "summary": summary}})
        invalid = [dict(_REFUSALS["invalid_rule"], value=r["value"]) for r in body.get("add", ())
                   if len(r.get("value", "")) > self.max_rule_length or not r.get("value", "").strip()]
        if invalid:
            for problem in invalid:
                problem["detail"] = f"Rule must be 1 to {self.max_rule_length} characters"
            return web.json_response({"errors": invalid, "title": "Invalid Request", "type":
                                      "https://api.twitter.com/2/problems/invalid-request",
                                      "detail": "One or more parameters to your request was invalid."}, status=400)
        created, errors = [], []
        values = {r["value"]: r["id"] for r in self.rules.values()}
        for rule in body.get("add", ()):
            if rule["value"] in values:
                errors.append(dict(_RULES["duplicate"], value=rule["value"], id=values[rule["value"]]))
                continue
            self._next_rule_id += 1
            new = {"id": str(self._next_rule_id), "value": rule["value"]}
            if rule.get("tag"):
                new["tag"] = rule["tag"]
            values[rule["value"]] = new["id"]
            created.append(new)
        if not dry_run:
            self.rules.update({r["id"]: r for r in created})
        summary = {"created": len(created), "not_created": len(errors), "valid": len(created) + len(errors),
                   "invalid": 0}
        out: dict[str, Any] = {"meta": {"sent": self._sent(), "summary": summary}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return web.json_response(out, status=201)

    async def _search_recent(self, request: web.Request) -> web.Response:
        if (refusal := self._refused(request, [])) is not None:
            return refusal
        rules = self._active_rules()
        values = [r["value"] for r in rules]
        query = request.query.get("query", "")
        if query not in values:
            return web.json_response({"errors": [{"parameters": {"query": [query]}, "message": "no such rule"}],
                                      "title": "Invalid Request", "detail": "One or more parameters to your request "
                                      "was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"},
                                     status=400)
        since = int(request.query.get("since_id", "0") or 0)
        start_time = request.query.get("start_time")
        feed = self._feeds["posts"]
        mine = [i for i in sorted(feed.published_at, reverse=True)
                if i % len(rules) == values.index(query) and int(self.posts[i]["data"]["id"]) > since
                and (start_time is None or self.posts[i]["data"]["created_at"] >= start_time)]
        size = max(10, min(100, int(request.query.get("max_results", "10"))))
        offset = int(request.query.get("next_token", "0") or 0)
        page = mine[offset:offset + size]
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        data = [self.posts[i]["data"] for i in page]
        includes: dict[str, list[Any]] = {"users": [], "tweets": []}
        for i in page:
            for key, items in self.posts[i].get("includes", {}).items():
                includes[key].extend(x for x in items if x not in includes[key])
        meta: dict[str, Any] = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)}
        if offset + size < len(mine):
            meta["next_token"] = str(offset + size)
        return web.json_response({"data": data, "includes": {k: v for k, v in includes.items() if v},
                                  "meta": meta})

    # -- the streams

    async def _stream_posts(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "posts")

    async def _stream_compliance(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("partition") not in ("1", "2", "3", "4"):
            return web.json_response({"errors": [{"parameters": {"partition": [request.query.get("partition")]},
                                                  "message": "partition must be 1 to 4"}],
                                      "title": "Invalid Request", "type":
                                      "https://api.twitter.com/2/problems/invalid-request"}, status=400)
        return await self._stream(request, "compliance")

    def _message(self, feed_name: str, i: int) -> bytes:
        feed = self._feeds[feed_name]
        if feed_name == "compliance":
            return _line(feed.items[i])
        rules = self._active_rules()
        rule = rules[i % len(rules)]
        return _line({**feed.items[i], "matching_rules": [{"id": rule["id"], "tag": rule.get("tag", "")}]})

    async def _stream(self, request: web.Request, feed_name: str) -> web.StreamResponse:
        if (refusal := self._refused(request, self.stream_failures)) is not None:
            return refusal
        minutes = request.query.get("backfill_minutes")
        if minutes is not None and minutes not in ("1", "2", "3", "4", "5"):
            return web.json_response({"errors": [{"parameters": {"backfill_minutes": [minutes]},
                                                  "message": "The `backfill_minutes` query parameter value "
                                                  f"[{minutes}] is not between 1 and 5"}],
                                      "title": "Invalid Request", "type":
                                      "https://api.twitter.com/2/problems/invalid-request"}, status=400)
        feed = self._feeds[feed_name]
        feed.generation += 1
        me = feed.generation
        if feed.connections and self.publish_while_disconnected and feed_name == "posts":
            self.publish_now(self.publish_while_disconnected)
            self.publish_while_disconnected = 0
        feed.connections += 1
        self.connections.append({"feed": feed_name, "query": dict(request.query), "cursor": minutes})
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            await resp.write(b"\r\n")
            if self.empty_closes > 0:
                self.empty_closes -= 1
                await resp.write_eof()
                return resp
            if minutes is not None:
                since = time.time() - int(minutes) * 60
                for i in sorted(i for i, at in feed.published_at.items() if at >= since):
                    await resp.write(self._message(feed_name, i))
            idle_since = time.monotonic()
            while feed.generation == me and request.transport is not None and not request.transport.is_closing():
                ready = feed.next < len(feed.items) and (feed_name == "compliance" or self.rules)
                if not ready:
                    if time.monotonic() - idle_since >= self.keepalive_seconds:
                        await resp.write(b"\r\n")
                        idle_since = time.monotonic()
                    await asyncio.sleep(min(0.02, self.keepalive_seconds))
                    continue
                i = feed.next
                feed.next += 1
                feed.published_at[i] = time.time()
                await resp.write(self._message(feed_name, i))
                idle_since = time.monotonic()
                if feed_name == "posts" and await self._fault(request, resp, feed, me):
                    break
                await asyncio.sleep(self.pace)
        except (ConnectionError, RuntimeError):  # the client went away
            pass
        return resp

    async def _fault(self, request: web.Request, resp: web.StreamResponse, feed: _Feed, me: int) -> bool:
        """Apply the switches due after `feed.next` posts; True when the connection is over."""
        n = feed.next
        if self.malformed_after == n:
            self.malformed_after = None
            line = b'{"data":{"id":"1861499999999999999","text":"cut off' + b"\r\n"
            self.extra_lines.append(line)
            await resp.write(line)
        if self.oversize_after == n:
            self.oversize_after = None
            big = copy.deepcopy(self.posts[0])
            big["data"]["id"] = snowflake(datetime.now(UTC), 4_000_000)
            big["data"]["text"] = "Nimbus " + "x" * (1_200_000)
            line = _line(big)
            self.extra_lines.append(line)
            await resp.write(line)
        if self.error_after == n:
            self.error_after = None
            line = _line(_OPERATIONAL_DISCONNECT)
            self.extra_lines.append(line)
            await resp.write(line)
            await resp.write_eof()
            return True
        if self.drop_after == n:
            self.drop_after = None
            if request.transport is not None:
                request.transport.close()  # abrupt: the chunked body never ends
            return True
        if self.stall_after == n:
            self.stall_after = None
            while feed.generation == me and request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(0.02)
            return True
        return False
