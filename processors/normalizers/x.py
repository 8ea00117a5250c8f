"""X (Twitter) API v2: one Post from a tweet lookup/search/stream response (`data` + `includes.users`).

https://docs.x.com/x-api/fundamentals/data-dictionary — fields used: id, text, author_id, created_at,
lang, conversation_id, referenced_tweets[{type, id}], public_metrics{retweet,reply,like,quote}_count;
users[{id, username, name, public_metrics.followers_count}].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.normalizers._fields import (
    build_event,
    get,
    opt_count,
    opt_list,
    opt_str,
    parse_iso,
    req_id,
    req_obj,
    req_str,
    unescape_api_text,
)
from processors.normalizers.errors import NormalizationError
from schemas.errors import ErrorCode
from schemas.events import Author, Engagement, EventKind, Network, RawEvent, make_event_id

_UNDETERMINED_LANGS = frozenset({"und", "zxx", "qme", "qht", "qam", "qct", "qst"})


def looks_like_x(obj: Mapping[str, Any]) -> bool:
    data = obj.get("data")
    if "kind" in obj:  # Reddit things also have `data`
        return False
    if isinstance(data, list):
        return bool(data) and isinstance(data[0], Mapping) and "text" in data[0]
    return isinstance(data, Mapping) and "text" in data and "id" in data


def _find_user(obj: Mapping[str, Any], author_id: str) -> Mapping[str, Any] | None:
    for user in opt_list(obj, "includes.users"):
        if isinstance(user, Mapping) and str(user.get("id")) == author_id:
            return user
    return None


def normalize_x(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    """A single-Post response. `data` may also be a one-element list (search page of one)."""
    data_value = get(obj, "data")
    if isinstance(data_value, list):
        if len(data_value) != 1:
            raise NormalizationError(
                ErrorCode.UNKNOWN_SHAPE,
                f"X response holds {len(data_value)} posts; split it with explode() first",
                field="data",
            )
        obj = {**obj, "data": data_value[0]}
    tweet = req_obj(obj, "data")
    native_id = req_id(tweet, "id")
    author_id = req_id(tweet, "author_id")
    text = unescape_api_text(req_str(tweet, "text", allow_empty=True))
    created_at = parse_iso(tweet, "created_at")

    kind = EventKind.POST
    reply_to_id: str | None = None
    for i, ref in enumerate(opt_list(tweet, "referenced_tweets")):
        if not isinstance(ref, Mapping):
            raise NormalizationError(
                ErrorCode.WRONG_TYPE, "referenced_tweets items must be objects", field=f"referenced_tweets.{i}"
            )
        ref_type = req_str(ref, "type")
        ref_id = req_id(ref, "id")
        if ref_type == "retweeted":
            kind, reply_to_id = EventKind.REPOST, ref_id
        elif ref_type == "replied_to" and kind is not EventKind.REPOST:
            kind, reply_to_id = EventKind.REPLY, ref_id
        # "quoted": a Post with its own text; stays POST (the quoted id is not part of RawEvent v1).

    user = _find_user(obj, author_id)
    handle = ""
    name = ""
    followers: int | None = None
    if user is not None:
        handle = opt_str(user, "username") or ""
        name = opt_str(user, "name") or ""
        metrics = user.get("public_metrics")
        if isinstance(metrics, Mapping) and metrics.get("followers_count") is not None:
            followers = opt_count(user, "public_metrics.followers_count")

    lang = opt_str(tweet, "lang")
    return build_event(
        event_id=make_event_id(Network.X, native_id),
        network=Network.X,
        native_id=native_id,
        kind=kind,
        author=Author(id=author_id, handle=handle, name=name, followers=followers),
        text=text,
        lang_hint=None if lang in _UNDETERMINED_LANGS else lang,
        created_at=created_at,
        url=f"https://x.com/{handle or 'i'}/status/{native_id}",
        thread_id=opt_str(tweet, "conversation_id"),
        reply_to_id=reply_to_id,
        engagement=Engagement(
            likes=opt_count(tweet, "public_metrics.like_count"),
            reposts=opt_count(tweet, "public_metrics.retweet_count"),
            replies=opt_count(tweet, "public_metrics.reply_count"),
            quotes=opt_count(tweet, "public_metrics.quote_count"),
        ),
        ingested_at=now,
    )


def explode_x(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A multi-Post page (search/timeline) as single-Post responses sharing `includes`."""
    data = obj.get("data")
    if not isinstance(data, list):
        return [dict(obj)]
    return [{**obj, "data": item} for item in data]
