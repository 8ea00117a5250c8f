"""HTTP for the polling and streaming connectors: one request with the retries every network asks for.

`request` sends one request and returns the response's body once it is a 2xx:
- a network fault (refused, reset, DNS, timeout) → `network` backoff, retried;
- 429 → wait `Retry-After` (seconds or an HTTP date) or the network's rate-limit reset header when given, else the
  `rate_limited` backoff, retried;
- 5xx → wait `Retry-After` when given, else the `server` backoff, retried;
- any other status (400, 401, 403, 404, ..., and 3xx with `allow_redirects=False`) → `HttpRefused` with the status,
  the start of the body and the headers: waiting does not help, and the connector decides (refresh an OAuth token,
  or stop with ConnectorConfigError).

Each wait is reported to `SourceEvents.reconnecting` and counted in the source's metrics. URLs are logged without
their query string, where API keys travel (YouTube's `key=`); headers are never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict

from streams.runtime.failure_policy import RetryPolicy
from streams.sources.connectors.base import SourceEvents

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Backoffs:
    """A network's documented schedules. Defaults: X's (docs.x.com "Handling disconnections": network errors back off
    linearly by 250 ms up to 16 s, HTTP errors exponentially from 5 s up to 320 s, 429 exponentially from 1 min)."""

    network: RetryPolicy = field(default_factory=lambda: RetryPolicy(0.25, 16.0, growth="linear"))
    server: RetryPolicy = field(default_factory=lambda: RetryPolicy(5.0, 320.0))
    rate_limited: RetryPolicy = field(default_factory=lambda: RetryPolicy(60.0, 960.0))

    def scaled(self, factor: float) -> Backoffs:
        """These schedules `factor` times shorter (tests against the fake servers)."""
        def s(p: RetryPolicy) -> RetryPolicy:
            return RetryPolicy(p.first_delay / factor, p.max_delay / factor, growth=p.growth, jitter=p.jitter)
        return Backoffs(s(self.network), s(self.server), s(self.rate_limited))


class HttpRefused(Exception):
    """A status that waiting does not cure (4xx other than 429)."""

    def __init__(self, status: int, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:300].decode('utf-8', 'replace')}")
        self.status, self.url, self.body = status, url, body
        self.headers: Mapping[str, str] = headers or {}  # a redirect's Location, rate-limit headers


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive (a CIMultiDict): proxies lower-case header names
    body: bytes


def safe_url(url: str | Any) -> str:
    """The URL without its query string (API keys, tokens)."""
    return str(url).split("?", 1)[0]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case: responses carry case-insensitive headers, but callers and tests may hand in
    plain dicts, and proxies lower-case names."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lower), None)


def retry_after_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """`Retry-After` as seconds from `now` (Unix seconds): delta-seconds or an HTTP date; None when absent/bad."""
    value = header(headers, "Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


# How a network says when its rate-limit window resets: a header → seconds to wait.
RateLimitReset = Callable[[Mapping[str, str], float], float | None]


def x_rate_limit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """X: `x-rate-limit-reset` is the Unix time (seconds) the window resets."""
    value = header(headers, "x-rate-limit-reset")
    return max(0.0, float(value) - now) if value and value.isdigit() else None


def retry_of(status: int, headers: Mapping[str, str], *, now: float, rate_limit_reset: RateLimitReset | None = None
             ) -> tuple[str, float | None] | None:
    """For an answer worth asking again: which of `Backoffs`' schedules applies (`rate_limited` for 429, `server` for
    5xx) and the seconds the answer itself asks to wait (None: the schedule's delay). None for any other status: a
    refusal that waiting does not cure. Streaming connectors, which cannot use `request`, classify with it too."""
    if status == 429:
        wait = retry_after_seconds(headers, now=now)
        if wait is None and rate_limit_reset is not None:
            wait = rate_limit_reset(headers, now)
        return "rate_limited", wait
    if status >= 500:
        return "server", retry_after_seconds(headers, now=now)
    return None


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or its first `limit` bytes (<= 0: no limit). `content.read(n)` alone returns only what is
    buffered (one chunk of a 260 KB Reddit page); a connection cut mid-body raises ClientPayloadError: retried."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(256 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if 0 < limit <= size:
            break
    body = b"".join(chunks)
    return body[:limit] if limit > 0 else body


async def request(
    session: aiohttp.ClientSession, method: str, url: str, *, events: SourceEvents, backoffs: Backoffs,
    params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None, data: Any = None,
    json_body: Any = None, rate_limit_reset: RateLimitReset | None = None, max_body_bytes: int = 64 * 1024 * 1024,
    allow_redirects: bool = True, sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.time,
) -> Response:
    """One request, retried as the module docstring says until it gets a 2xx (returned) or a refusal (raised)."""
    attempts = {"network": 0, "server": 0, "rate_limited": 0}
    while True:
        reason: str
        wait: float | None = None
        try:
            async with session.request(method, url, params=params, headers=headers, data=data, json=json_body,
                                       allow_redirects=allow_redirects) as resp:
                body = await _read_body(resp, max_body_bytes)
                if 200 <= resp.status < 300:
                    return Response(resp.status, CIMultiDict(resp.headers), body)
                retry = retry_of(resp.status, resp.headers, now=clock(), rate_limit_reset=rate_limit_reset)
                if retry is None:
                    raise HttpRefused(resp.status, safe_url(url), body, CIMultiDict(resp.headers))
                reason, wait = retry
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = "network"
            log.debug("%s %s: %s", method, safe_url(url), type(exc).__name__)
        attempts[reason] += 1
        policy = getattr(backoffs, reason)
        delay = wait if wait is not None else policy.delay(attempts[reason])
        label = "http_5xx" if reason == "server" else reason
        events.reconnecting(label, delay)
        log.warning("%s %s: %s; retrying in %.1fs", method, safe_url(url), label, delay)
        await sleep(delay)
