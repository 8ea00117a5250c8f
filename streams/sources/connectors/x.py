"""X (Twitter) API v2 filtered stream: the posts matching rules generated from the brand queries.

Protocol (https://docs.x.com/x-api/posts/filtered-stream/introduction, app-only bearer token):
- **Rules** (https://docs.x.com/x-api/posts/filtered-stream/integrate/build-a-rule): one rule per brand query,
  translated by `to_x_rule` (space = AND, OR, `-` for NOT, parentheses, "phrases", #tag, @mention, $cashtag, lang:xx)
  and tagged `<prefix><name>` (default prefix `socialpulse:`). At start `GET /2/tweets/search/stream/rules` lists
  the rules; `POST .../rules {"delete": {"ids": [...]}}` removes rules tagged with our prefix that are no longer
  wanted, and `POST .../rules {"add": [...]}` adds the missing ones. Rules with any other tag are never touched.
- **Stream**: `GET /2/tweets/search/stream` with the fields the X normalizer reads (processors/normalizers/x.py).
  The body is chunked: one JSON message `{"data", "includes", "matching_rules"}` per `\\r\\n`-terminated line and a
  bare `\\r\\n` keep-alive every 20 s. Each line is yielded as it came (bytes); a keep-alive yields an empty unit.
  An error line (`{"errors": [...]}`, e.g. an operational disconnect) is logged and yielded as it is: the worker
  dead-letters it as `unsupported_event`.
- **Compliance** (optional, `--compliance-partition N`, Enterprise): `GET /2/tweets/compliance/stream?partition=N`,
  the same line protocol; its `delete` / `drop` / `withheld` events become Deletions in the runner.

Cursor: `{"newest_id": <largest post id read>, "at": <ISO time of the last line, post or keep-alive, read from the
stream>}` (and `compliance_at` with a compliance stream); the runner stores it only once everything read before
it is acknowledged. The filtered stream has no resume token: a reconnect (after a drop, or a restart from a
checkpoint) asks for `backfill_minutes=N` when `--backfill-minutes N` is set (1..5, Pro/Enterprise,
https://docs.x.com/x-api/posts/filtered-stream/integrate/recovery-and-redundancy-features): X replays the posts
matched in the last N minutes, older ones first, not deduplicated. The whole N minutes are asked for every time
(posts buffered before a kill were matched earlier than they were read); a gap longer than N is logged. Posts
replayed again within one run are dropped here (the ids of the last 100,000 posts are remembered); after a restart
they are produced again and `event_id` absorbs them downstream. `--recover-with-search` additionally fills a gap
longer than the backfill window, once at start, from `GET /2/tweets/search/recent?query=<rule>&since_id=<newest_id>`
(7 days back at most).
**What can be lost**: without either option, every post matched while disconnected or stopped (between the last
line read and the reconnect) is lost; with backfill only, the part of such a gap older than N minutes; recent search
also misses posts X has not indexed yet, and a gap older than 7 days.

Reconnecting (https://docs.x.com/x-api/fundamentals/handling-disconnections, `http.Backoffs` defaults): an
established connection that dropped, or stalled (no byte, not even a keep-alive, for `--stall-seconds`), is
reconnected at once; a failed attempt backs off: network errors linearly by 250 ms up to 16 s, HTTP 5xx
exponentially from 5 s up to 320 s, 429 exponentially from 1 min; `Retry-After` or `x-rate-limit-reset`, when given,
is the wait. 401/403 (token refused, app not enrolled) and the other 4xx of the rules and stream endpoints (a rule
X refuses, a parameter the access level lacks) stop the connector (`ConnectorConfigError`); a recent-search 4xx
other than 401/403 only skips that rule's recovery.

Not done: one connection only (no redundant connections, no Enterprise `start_time`/`end_time` recovery), no user
compliance stream, rule changes while running need a restart, and `matching_rules` is not used (the enricher matches
the brand queries itself). X has no prefix match: a brand-query term `stream*` becomes the word `stream` (warned).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from processors.brand_queries import (
    DEFAULT_BRAND_QUERIES_PATH,
    And,
    BrandQuery,
    BrandQueryConfigError,
    Expr,
    Lang,
    Not,
    Or,
    Tag,
    Text,
    load_brand_queries,
)
from schemas.events import Network
from streams import codec
from streams.sources.connectors.base import ConnectorConfigError, Cursor, Fetched, SourceEvents
from streams.sources.connectors.http import (
    Backoffs,
    HttpRefused,
    Sleep,
    request,
    retry_of,
    safe_url,
    x_rate_limit_reset,
)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.x.com"
DEFAULT_SOURCE_ID = "x:filtered-stream"
DEFAULT_TAG_PREFIX = "socialpulse:"
DEFAULT_MAX_RULE_LENGTH = 512  # most access levels; Enterprise allows 2048 (build-a-rule, rule limitations)
# X sends a keep-alive every 20 s and documents 20 s as the read timeout; 10 s more, so that a keep-alive that
# arrives a little late is not taken for a stall.
DEFAULT_STALL_SECONDS = 30.0
MAX_BACKFILL_MINUTES = 5
MAX_LINE_BYTES = 8 * 1024 * 1024  # a longer line is cut here (it is over Kafka's limit anyway: a dead letter)
SEEN_IDS = 100_000

# What processors/normalizers/x.py reads, and nothing more: `id` and `text` are default fields; `note_tweet` holds
# the whole text of a long post; `referenced_tweets.id` brings a retweet's original (its full text) and
# `referenced_tweets.id.author_id` its author (the "RT @user:" prefix when X's own text lacks it).
TWEET_FIELDS = "author_id,conversation_id,created_at,lang,note_tweet,public_metrics,referenced_tweets"
EXPANSIONS = "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
USER_FIELDS = "name,public_metrics,username"
FIELDS = {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user.fields": USER_FIELDS}

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
SEARCH_PATH = "/2/tweets/search/recent"
COMPLIANCE_PATH = "/2/tweets/compliance/stream"

_SNOWFLAKE_EPOCH_MS = 1288834974657  # X ids: milliseconds since this epoch << 22


# --- brand query → X rule (pure) -------------------------------------------------------------------------------


class RuleTranslationError(ValueError):
    """A brand query that has no X rule equivalent (or whose rule is too long)."""


@dataclass(frozen=True)
class XRule:
    value: str
    tag: str
    approximations: tuple[str, ...] = ()  # where the rule matches less than the brand query (X has no prefix match)


_BARE_WORD = re.compile(r"\w+")
_X_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


def to_x_rule(expr: Expr) -> tuple[str, tuple[str, ...]]:
    """The X rule for a parsed brand query, and the approximations it makes. Raises RuleTranslationError.

    Negations are pushed down to single operators (X does not negate groups: `-(a OR b)` is written `-a -b`);
    a negated AND group has no X form. Every OR branch, and the whole rule, must keep one operator X calls
    standalone (a word, phrase, #tag, @mention or $cashtag) that is not negated: X refuses rules made only of
    negations and `lang:`. OR groups inside an AND, and AND groups inside an OR, are parenthesised."""
    simple = _push_negations(expr, negated=False)
    if not _has_standalone(simple):
        raise RuleTranslationError(
            "needs, in every OR branch, a word, \"phrase\", #hashtag, @mention or $cashtag that is not negated: "
            "X refuses a rule (or a branch) made only of negations and lang:")
    approximations: list[str] = []
    return _render(simple, parent=None, approximations=approximations), tuple(approximations)


def rule_for(query: BrandQuery, *, tag_prefix: str = DEFAULT_TAG_PREFIX,
             max_length: int = DEFAULT_MAX_RULE_LENGTH) -> XRule:
    """The tagged X rule of one brand query; RuleTranslationError names the query and the problem."""
    try:
        value, approximations = to_x_rule(query.expr)
    except RuleTranslationError as exc:
        raise RuleTranslationError(f"brand query {query.name!r} ({query.query}) cannot be an X rule: {exc}") \
            from None
    if len(value) > max_length:
        raise RuleTranslationError(
            f"brand query {query.name!r}: its X rule is {len(value)} characters, over the limit of {max_length} "
            f"(--max-rule-length; 512 for most access levels, 1024 Pro, 2048 Enterprise): {value}")
    return XRule(value, f"{tag_prefix}{query.name}", approximations)


def rules_for(queries: Iterable[BrandQuery], *, tag_prefix: str = DEFAULT_TAG_PREFIX,
              max_length: int = DEFAULT_MAX_RULE_LENGTH) -> list[XRule]:
    """One rule per brand query; every untranslatable query is reported at once."""
    rules: list[XRule] = []
    problems: list[str] = []
    for query in queries:
        try:
            rules.append(rule_for(query, tag_prefix=tag_prefix, max_length=max_length))
        except RuleTranslationError as exc:
            problems.append(str(exc))
    if problems:
        raise RuleTranslationError("\n".join(problems))
    return rules


def _push_negations(expr: Expr, *, negated: bool) -> Expr:
    if isinstance(expr, Not):
        return _push_negations(expr.operand, negated=not negated)
    if isinstance(expr, Or):
        ops = tuple(_push_negations(o, negated=negated) for o in expr.operands)
        return _flat(And(ops)) if negated else _flat(Or(ops))  # NOT (a OR b) = -a -b
    if isinstance(expr, And):
        if negated:
            raise RuleTranslationError(
                "NOT applied to an AND group: X cannot negate a group, and its equivalent (-a OR -b) is an OR of "
                "negations, which X refuses; negate single words instead")
        return _flat(And(tuple(_push_negations(o, negated=False) for o in expr.operands)))
    return Not(expr) if negated else expr


def _flat(expr: And | Or) -> Expr:
    kind = type(expr)
    ops: list[Expr] = []
    for o in expr.operands:
        ops.extend(o.operands if isinstance(o, kind) else (o,))
    return ops[0] if len(ops) == 1 else kind(tuple(ops))


def _has_standalone(expr: Expr) -> bool:
    if isinstance(expr, Text | Tag):
        return True
    if isinstance(expr, And):
        return any(_has_standalone(o) for o in expr.operands)
    if isinstance(expr, Or):
        return all(_has_standalone(o) for o in expr.operands)
    return False  # Lang, Not


def _render(expr: Expr, *, parent: type | None, approximations: list[str]) -> str:
    if isinstance(expr, And | Or):
        joiner = " " if isinstance(expr, And) else " OR "
        body = joiner.join(_render(o, parent=type(expr), approximations=approximations) for o in expr.operands)
        return f"({body})" if parent is not None else body
    if isinstance(expr, Not):
        return "-" + _render(expr.operand, parent=Not, approximations=approximations)
    if isinstance(expr, Lang):
        return f"lang:{expr.code}"
    if isinstance(expr, Tag):
        return _render_tag(expr)
    assert isinstance(expr, Text)
    source = expr.source
    if source.startswith('"'):
        return '"' + " ".join(source[1:-1].split()) + '"'
    if source.endswith("*"):
        source = source[:-1]
        approximations.append(f"{expr.source}: X has no prefix match, the rule matches the word {source!r} only")
    # X matches keywords on tokens split at punctuation; a word with punctuation (e-mail, from:me) must be quoted.
    return source if _BARE_WORD.fullmatch(source) else f'"{source}"'


def _render_tag(tag: Tag) -> str:
    if tag.kind == "hashtag":
        return f"#{tag.value}"
    if tag.kind == "mention":
        if not _X_USERNAME.fullmatch(tag.value):
            raise RuleTranslationError(f"@{tag.value} is not an X username (1-15 letters, digits or _)")
        return f"@{tag.value}"
    return f"${tag.value}"


# --- the connector -----------------------------------------------------------------------------------------------


def snowflake_time(post_id: int) -> datetime:
    """When an X id was created (ids are milliseconds since X's epoch, shifted left by 22 bits)."""
    return datetime.fromtimestamp(((post_id >> 22) + _SNOWFLAKE_EPOCH_MS) / 1000, tz=UTC)


@dataclass
class _Position:
    newest_id: int | None = None
    at: datetime | None = None  # when the filtered stream was last read
    compliance_at: datetime | None = None

    @classmethod
    def parse(cls, cursor: Cursor | None) -> _Position:
        pos = cls()
        if not cursor:
            return pos
        newest = cursor.get("newest_id", "")
        pos.newest_id = int(newest) if newest.isdigit() else None
        pos.at, pos.compliance_at = _parse_time(cursor.get("at")), _parse_time(cursor.get("compliance_at"))
        return pos

    def cursor(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.newest_id is not None:
            out["newest_id"] = str(self.newest_id)
        if self.at is not None:
            out["at"] = self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.compliance_at is not None:
            out["compliance_at"] = self.compliance_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return out


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.warning("x: ignoring an unreadable time %r in the checkpoint", value[:40])
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Feed:
    kind: str  # "posts" | "compliance"
    path: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class _Line:
    feed: str
    payload: bytes | None  # None: a keep-alive
    read_at: float


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Stalled(Exception):
    pass


class _SeenIds:
    """The ids of the last `size` posts yielded: backfill replays them on every reconnect."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self._order: collections.deque[int] = collections.deque()
        self._ids: set[int] = set()
        self._size = size

    def add(self, post_id: int) -> bool:
        """False when `post_id` was already seen."""
        if post_id in self._ids:
            return False
        self._ids.add(post_id)
        self._order.append(post_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return True


@dataclass
class XFilteredStream:
    """The X filtered stream (module docstring). `rules` are kept in sync with X at the start of each `stream()`."""

    bearer_token: SecretStr
    rules: Sequence[XRule]
    api_base: str = DEFAULT_API_BASE
    source_id: str = DEFAULT_SOURCE_ID
    tag_prefix: str = DEFAULT_TAG_PREFIX
    backfill_minutes: int = 0
    recover_with_search: bool = False
    compliance_partition: int | None = None
    stall_seconds: float = DEFAULT_STALL_SECONDS
    backoffs: Backoffs = field(default_factory=Backoffs)
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.time
    max_line_bytes: int = MAX_LINE_BYTES
    network: Network = field(default=Network.X, init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.backfill_minutes <= MAX_BACKFILL_MINUTES:
            raise ConnectorConfigError(f"--backfill-minutes must be 0..{MAX_BACKFILL_MINUTES} (X's limit)")
        if self.compliance_partition is not None and not 1 <= self.compliance_partition <= 4:
            raise ConnectorConfigError("--compliance-partition must be 1..4 (X's post compliance partitions)")
        if self.stall_seconds <= 0:
            raise ConnectorConfigError("--stall-seconds must be positive")
        if not self.rules:
            raise ConnectorConfigError("no brand queries to make X rules of")
        self.api_base = self.api_base.rstrip("/")

    def describe(self) -> str:
        tags = ", ".join(r.tag.removeprefix(self.tag_prefix) for r in self.rules)
        extras = [f"backfill {self.backfill_minutes} min" if self.backfill_minutes else "no backfill"]
        if self.recover_with_search:
            extras.append("gaps recovered with recent search")
        if self.compliance_partition is not None:
            extras.append(f"compliance partition {self.compliance_partition}")
        return (f"X filtered stream at {safe_url(self.api_base)}, {len(self.rules)} rules tagged "
                f"{self.tag_prefix}* ({tags}); {', '.join(extras)}")

    async def stream(self, resume: Cursor | None, events: SourceEvents) -> AsyncIterator[Fetched]:
        position = _Position.parse(resume)
        seen = _SeenIds()
        headers = {"Authorization": f"Bearer {self.bearer_token.get_secret_value()}", "User-Agent": "socialpulse"}
        timeout = aiohttp.ClientTimeout(total=60, sock_connect=15)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            await self.sync_rules(session, events)
            if self.recover_with_search and position.newest_id is not None and self._gap_exceeds_backfill(position):
                async for unit in self._recover(session, position, seen, events):
                    yield unit
            feeds = [_Feed("posts", STREAM_PATH, FIELDS)]
            if self.compliance_partition is not None:
                feeds.append(_Feed("compliance", COMPLIANCE_PATH, {"partition": str(self.compliance_partition)}))
            queue: asyncio.Queue[_Line | _Failed] = asyncio.Queue(maxsize=256)
            resumed = {"posts": position.at is not None, "compliance": position.compliance_at is not None}
            if resumed["posts"] and position.at is not None:
                self._warn_gap("posts", position.at)
            readers = [asyncio.create_task(self._feed(session, feed, resumed[feed.kind], events, queue),
                                           name=f"{self.source_id} {feed.kind}") for feed in feeds]
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, _Failed):
                        raise item.error
                    yield self._unit(item, position, seen)
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)

    # -- rules

    async def sync_rules(self, session: aiohttp.ClientSession, events: SourceEvents) -> None:
        """Make X's rules tagged with our prefix exactly `self.rules`; leave every other rule alone."""
        existing = await self._list_rules(session, events)
        wanted = {(r.value, r.tag) for r in self.rules}
        ours = [r for r in existing if str(r.get("tag", "")).startswith(self.tag_prefix)]
        stale = [str(r["id"]) for r in ours if (r.get("value"), r.get("tag")) not in wanted]
        present = {(r.get("value"), r.get("tag")) for r in ours}
        foreign_values = {r.get("value"): r.get("tag") for r in existing if r not in ours}
        missing: list[XRule] = []
        for rule in self.rules:
            if (rule.value, rule.tag) in present:
                continue
            if rule.value in foreign_values:  # X refuses a second rule with the same value (DuplicateRule)
                log.info("%s: rule %s is already on the stream, tagged %r", self.source_id, rule.tag,
                         foreign_values[rule.value])
                continue
            missing.append(rule)
        for rule in self.rules:
            for note in rule.approximations:
                log.warning("%s: rule %s: %s", self.source_id, rule.tag, note)
        if stale:
            body = await self._post_rules(session, events, {"delete": {"ids": stale}})
            for problem in body.get("errors") or ():
                log.warning("%s: deleting a stale rule: %s", self.source_id, _problem(problem))
        if missing:
            body = await self._post_rules(session, events,
                                          {"add": [{"value": r.value, "tag": r.tag} for r in missing]})
            refused = [p for p in body.get("errors") or () if not _is_duplicate(p)]
            for problem in body.get("errors") or ():
                if _is_duplicate(problem):
                    log.info("%s: rule already exists: %s", self.source_id, _problem(problem))
            if refused:
                raise ConnectorConfigError("X refused rules: " + "; ".join(_problem(p) for p in refused))
        log.info("%s: rules in sync: %d kept, %d added, %d deleted", self.source_id,
                 len(self.rules) - len(missing), len(missing), len(stale))

    async def _list_rules(self, session: aiohttp.ClientSession, events: SourceEvents) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        params = {"max_results": "1000"}
        while True:
            body = await self._rules_call(session, events, "GET", params=params)
            rules.extend(r for r in body.get("data") or () if isinstance(r, dict) and "id" in r)
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return rules
            params = {"max_results": "1000", "pagination_token": str(token)}

    async def _post_rules(self, session: aiohttp.ClientSession, events: SourceEvents,
                          body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._rules_call(session, events, "POST", json_body=body)

    async def _rules_call(self, session: aiohttp.ClientSession, events: SourceEvents, method: str, *,
                          params: Mapping[str, str] | None = None, json_body: Any = None) -> dict[str, Any]:
        url = self.api_base + RULES_PATH
        attempt = 0
        while True:
            try:
                response = await request(session, method, url, events=events, backoffs=self.backoffs,
                                         params=params, json_body=json_body, rate_limit_reset=x_rate_limit_reset,
                                         sleep=self.sleep, clock=self.clock)
            except HttpRefused as exc:
                raise ConnectorConfigError(_refusal(exc.status, exc.body, f"{method} {safe_url(url)}")) from None
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            attempt += 1  # a 2xx that is not X's JSON (a proxy's page): a server fault, retried
            delay = self.backoffs.server.delay(attempt)
            events.reconnecting("http_5xx", delay)
            log.warning("%s %s: not a JSON object (%r); retrying in %.1fs", method, safe_url(url),
                        response.body[:80], delay)
            await self.sleep(delay)

    # -- recovery with recent search

    def _gap_exceeds_backfill(self, position: _Position) -> bool:
        if position.at is None:
            return True
        gap = self.clock() - position.at.timestamp()
        return gap > self.backfill_minutes * 60 - 30

    async def _recover(self, session: aiohttp.ClientSession, position: _Position, seen: _SeenIds,
                       events: SourceEvents) -> AsyncIterator[Fetched]:
        """Posts newer than `newest_id` from recent search, rule by rule, as pages (the runner splits them)."""
        assert position.newest_id is not None
        since = position.newest_id
        oldest_allowed = datetime.fromtimestamp(self.clock(), tz=UTC) - timedelta(days=7) + timedelta(minutes=1)
        window: dict[str, str] = {"since_id": str(since)}
        if snowflake_time(since) < oldest_allowed:  # recent search refuses a since_id older than 7 days
            window = {"start_time": oldest_allowed.strftime("%Y-%m-%dT%H:%M:%SZ")}
            log.warning("%s: the gap began more than 7 days ago; recent search recovers the last 7 days only",
                        self.source_id)
        newest = since
        found = 0
        url = self.api_base + SEARCH_PATH
        for rule in self.rules:
            params = {"query": rule.value, "max_results": "100", **window, **FIELDS}
            while True:
                try:
                    response = await request(session, "GET", url, events=events, backoffs=self.backoffs,
                                             params=params, rate_limit_reset=x_rate_limit_reset, sleep=self.sleep,
                                             clock=self.clock)
                except HttpRefused as exc:
                    if exc.status in (401, 403):
                        raise ConnectorConfigError(_refusal(exc.status, exc.body, f"GET {safe_url(url)}")) from None
                    log.warning("%s: recent search for %s refused (HTTP %d); that part of the gap is not recovered",
                                self.source_id, rule.tag, exc.status)
                    break
                try:
                    page = json.loads(response.body)
                except ValueError:
                    page = None
                items = page.get("data") if isinstance(page, dict) else None
                if isinstance(items, list) and items:
                    for item in items:
                        post_id = str(item.get("id", "")) if isinstance(item, dict) else ""
                        if post_id.isdigit():
                            seen.add(int(post_id))
                            newest = max(newest, int(post_id))
                    found += len(items)
                    yield Fetched([response.body])
                token = (page.get("meta") or {}).get("next_token") if isinstance(page, dict) else None
                if not token:
                    break
                params = {**params, "next_token": str(token)}
        position.newest_id = newest
        log.info("%s: recent search recovered %d posts newer than %d", self.source_id, found, since)
        yield Fetched([], position.cursor())

    # -- the streams

    def _unit(self, line: _Line, position: _Position, seen: _SeenIds) -> Fetched:
        when = datetime.fromtimestamp(line.read_at, tz=UTC)
        if line.feed == "compliance":
            position.compliance_at = when
            return Fetched([line.payload] if line.payload is not None else [], position.cursor())
        position.at = when
        if line.payload is None:
            return Fetched([], position.cursor())
        post_id = self._inspect(line.payload)
        if post_id is not None:
            if not seen.add(post_id):
                return Fetched([], position.cursor())  # replayed by backfill within this run
            position.newest_id = post_id if position.newest_id is None else max(position.newest_id, post_id)
        return Fetched([line.payload], position.cursor())

    def _inspect(self, payload: bytes) -> int | None:
        """The post id of a stream message; logs an error message. None when it is not a post."""
        try:
            obj = codec.parse_json_object(payload)
        except codec.CodecError:
            return None
        data = obj.get("data")
        if isinstance(data, dict):
            post_id = data.get("id")
            return int(post_id) if isinstance(post_id, str) and post_id.isdigit() else None
        for problem in obj.get("errors") or ():
            log.warning("%s: X stream message: %s", self.source_id, _problem(problem))
        return None

    def _warn_gap(self, feed: str, since: datetime) -> None:
        gap = self.clock() - since.timestamp()
        window = self.backfill_minutes * 60
        if gap > window + 30 and not self.recover_with_search:
            log.warning("%s: %s last read %.0f s ago; %s", self.source_id, feed, gap,
                        f"backfill recovers the last {self.backfill_minutes} min of that gap only" if window
                        else "posts matched since then are not recovered (no --backfill-minutes)")

    async def _feed(self, session: aiohttp.ClientSession, feed: _Feed, resumed: bool, events: SourceEvents,
                    out: asyncio.Queue[_Line | _Failed]) -> None:
        try:
            await self._follow(session, feed, resumed, events, out)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to stream(), which raises it
            await out.put(_Failed(exc))

    async def _follow(self, session: aiohttp.ClientSession, feed: _Feed, resumed: bool, events: SourceEvents,
                      out: asyncio.Queue[_Line | _Failed]) -> None:
        """Connect, read lines into `out`, reconnect, forever (module docstring: backoff rules)."""
        url = self.api_base + feed.path
        stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=None)
        attempts = {"network": 0, "server": 0, "rate_limited": 0}
        while True:
            params = dict(feed.params)
            if resumed and self.backfill_minutes:
                params["backfill_minutes"] = str(self.backfill_minutes)
            connected_at: float | None = None
            established = False  # a data line came, or the connection lived for stall_seconds
            wait: float | None = None
            try:
                async with session.get(url, params=params, timeout=stream_timeout) as resp:
                    if resp.status == 200:
                        connected_at = time.monotonic()
                        events.connected()
                        log.info("%s: %s stream connected%s", self.source_id, feed.kind,
                                 f" (backfill {params['backfill_minutes']} min)" if "backfill_minutes" in params
                                 else "")
                        async for payload in self._lines(resp):
                            if payload is not None and not established:
                                established = True
                                attempts = dict.fromkeys(attempts, 0)
                            await out.put(_Line(feed.kind, payload, self.clock()))
                        reason = "closed"
                    else:
                        body = await resp.content.read(64 * 1024)
                        retry = retry_of(resp.status, resp.headers, now=self.clock(),
                                         rate_limit_reset=x_rate_limit_reset)
                        if retry is None:
                            raise ConnectorConfigError(_refusal(resp.status, body, f"GET {safe_url(url)}"))
                        reason, wait = retry
                        if reason == "rate_limited":
                            log.warning("%s: %s stream: %s", self.source_id, feed.kind, _problem_of(body))
            except _Stalled:
                reason = "stalled"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                reason = "closed" if connected_at is not None else "network"
                log.debug("%s: %s stream: %s", self.source_id, feed.kind, type(exc).__name__)
            resumed = True
            if connected_at is not None and time.monotonic() - connected_at >= self.stall_seconds:
                established = True
            if established:  # an established connection dropped: reconnect at once (X's advice)
                attempts = dict.fromkeys(attempts, 0)
                events.reconnecting(reason, 0.0)
                log.warning("%s: %s stream %s; reconnecting", self.source_id, feed.kind, reason)
                continue
            kind = "network" if reason in ("closed", "stalled") else reason
            attempts[kind] += 1
            delay = wait if wait is not None else getattr(self.backoffs, kind).delay(attempts[kind])
            label = "http_5xx" if reason == "server" else reason
            events.reconnecting(label, delay)
            log.warning("%s: %s stream: %s; reconnecting in %.1fs", self.source_id, feed.kind, label, delay)
            await self.sleep(delay)

    async def _lines(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes | None]:
        """The lines of a streaming body (None for a keep-alive); _Stalled when no byte came for stall_seconds.

        Lines are split here rather than by aiohttp's readline, which refuses lines over 128 KiB: a line over
        `max_line_bytes` is cut there (and is a dead letter anyway)."""
        buffer = bytearray()
        cut = False
        while True:
            try:
                async with asyncio.timeout(self.stall_seconds):
                    chunk = await resp.content.readany()
            except TimeoutError:
                raise _Stalled() from None
            if not chunk:
                return
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                if not cut:
                    buffer += chunk[start:end]
                line = bytes(buffer[: self.max_line_bytes]).rstrip(b"\r")
                buffer.clear()
                cut = False
                start = end + 1
                yield line if line.strip() else None
            if not cut:
                buffer += chunk[start:]
                if len(buffer) > self.max_line_bytes:
                    del buffer[self.max_line_bytes:]
                    cut = True  # keep the prefix, drop the rest of the line


def _is_duplicate(problem: Any) -> bool:
    return isinstance(problem, Mapping) and (problem.get("title") == "DuplicateRule"
                                             or "duplicate-rules" in str(problem.get("type", "")))


def _problem(problem: Any) -> str:
    """One X problem (RFC 7807 object) as a short line: title, detail, the rule value it is about."""
    if not isinstance(problem, Mapping):
        return str(problem)[:300]
    keys = ("title", "detail", "reason", "connection_issue", "disconnect_type", "value")
    parts = [str(problem.get(k)) for k in keys if problem.get(k)]
    details = problem.get("details")
    if isinstance(details, list):
        parts.extend(str(d) for d in details)
    return ": ".join(parts)[:500] or json.dumps(problem)[:300]


def _problem_of(body: bytes) -> str:
    try:
        obj = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(obj, Mapping) and isinstance(obj.get("errors"), list):
        return "; ".join(_problem(p) for p in obj["errors"])
    return _problem(obj)


def _refusal(status: int, body: bytes, what: str) -> str:
    problem = _problem_of(body)
    if status == 401:
        return (f"{what}: HTTP 401, the bearer token was refused ({problem}); check "
                "SOCIALPULSE_SOURCES__X_BEARER_TOKEN")
    if status == 403:
        return (f"{what}: HTTP 403, this app may not use this endpoint ({problem}); it needs an app in a Project "
                "with filtered stream access (and Pro/Enterprise for backfill, Enterprise for compliance)")
    return f"{what}: HTTP {status}: {problem}"


# --- the command ---------------------------------------------------------------------------------------------------

HELP = "X (Twitter) API v2 filtered stream, one rule per brand query"
DESCRIPTION = """\
Streams the X posts that match the brand queries (config/brand_queries.yaml): each query becomes one filtered-stream
rule tagged socialpulse:<name>, kept in sync at start (rules with other tags are left alone). Needs an app-only
bearer token of an X app in a Project with filtered stream access (https://docs.x.com/x-api/getting-started).

  SOCIALPULSE_SOURCES__X_BEARER_TOKEN=AAAA... socialpulse listen x --metrics-port 9103

Resume: X's stream has no cursor. After a restart or a drop, posts matched meanwhile are lost unless
--backfill-minutes N (1-5, Pro/Enterprise) replays the last N minutes, or --recover-with-search fills a longer gap
from recent search. Deletions come only with --compliance-partition (Enterprise)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("x")
    g.add_argument("--api-base", default=DEFAULT_API_BASE, metavar="URL", help="X API base URL (%(default)s)")
    g.add_argument("--brand-queries", type=Path, default=DEFAULT_BRAND_QUERIES_PATH, metavar="PATH",
                   help="the brand queries that become rules (default: config/brand_queries.yaml)")
    g.add_argument("--brand-query", action="append", default=[], metavar="NAME", dest="brand_query_names",
                   help="only this brand query (repeatable; default: all of them)")
    g.add_argument("--max-rule-length", type=int, default=DEFAULT_MAX_RULE_LENGTH, metavar="N",
                   help="X's rule length limit of your access level (%(default)s; Pro 1024, Enterprise 2048)")
    g.add_argument("--rule-tag-prefix", default=DEFAULT_TAG_PREFIX, metavar="PREFIX",
                   help="tag prefix of the rules this connector owns and may delete (%(default)s)")
    g.add_argument("--backfill-minutes", type=int, default=0, metavar="N",
                   help="on reconnect, ask X to replay the last N minutes (1-5, Pro/Enterprise; default 0: off)")
    g.add_argument("--recover-with-search", action="store_true",
                   help="at start, fill a gap longer than the backfill from recent search (since the newest id)")
    g.add_argument("--compliance-partition", type=int, default=None, metavar="N",
                   help="also read the post compliance stream, partition N (1-4, Enterprise): upstream deletions")
    g.add_argument("--stall-seconds", type=float, default=DEFAULT_STALL_SECONDS, metavar="S",
                   help="reconnect when no byte (not even the 20 s keep-alive) came for S seconds (%(default)s)")


def from_args(args: argparse.Namespace, sources: Any) -> XFilteredStream:
    token: SecretStr | None = sources.secret("x_bearer_token")
    if token is None or not token.get_secret_value():
        raise ConnectorConfigError("X needs an app-only bearer token: set SOCIALPULSE_SOURCES__X_BEARER_TOKEN "
                                   "(or SOCIALPULSE_SOURCES__X_BEARER_TOKEN_FILE)")
    try:
        queries = load_brand_queries(args.brand_queries)
    except (OSError, BrandQueryConfigError) as exc:
        raise ConnectorConfigError(f"--brand-queries {args.brand_queries}: {exc}") from None
    selected = list(queries.queries)
    if args.brand_query_names:
        unknown = sorted(set(args.brand_query_names) - {q.name for q in selected})
        if unknown:
            raise ConnectorConfigError(f"--brand-query: no brand query named {', '.join(unknown)} in "
                                       f"{args.brand_queries}; known: {', '.join(q.name for q in selected)}")
        selected = [q for q in selected if q.name in args.brand_query_names]
    try:
        rules = rules_for(selected, tag_prefix=args.rule_tag_prefix, max_length=args.max_rule_length)
    except RuleTranslationError as exc:
        raise ConnectorConfigError(str(exc)) from None
    return XFilteredStream(
        bearer_token=token, rules=rules, api_base=args.api_base, source_id=args.source_id or DEFAULT_SOURCE_ID,
        tag_prefix=args.rule_tag_prefix, backfill_minutes=args.backfill_minutes,
        recover_with_search=args.recover_with_search, compliance_partition=args.compliance_partition,
        stall_seconds=args.stall_seconds,
    )
