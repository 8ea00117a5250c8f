"""Reddit things: comment (`t1`) and submission (`t3`) as returned in listings: `{kind, data}`.

Every other thing Reddit documents (https://www.reddit.com/dev/api#fullnames and the `more` and `Listing`
kinds of https://github.com/reddit-archive/reddit/wiki/JSON) is recognised as Reddit too: an account (`t2`),
message (`t4`), subreddit (`t5`), award (`t6`) or `more` stub is a valid payload that is not a post, and gets
`unsupported_event` naming its kind; a `Listing` is a page that `explode()` splits before normalising.

`native_id` is the fullname (`t1_abc`, `t3_xyz`), unique across types, so `reply_to_id` (`parent_id`)
and `thread_id` (`link_id`) join directly. Reddit scores can be negative: `likes` is max(score, 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.normalizers._fields import (
    build_event,
    opt_count,
    opt_list,
    opt_str,
    parse_epoch,
    req_id,
    req_obj,
    req_str,
    unescape_api_text,
)
from processors.normalizers.errors import NormalizationError
from schemas.errors import ErrorCode
from schemas.events import Author, Engagement, EventKind, Network, RawEvent, make_event_id

REDDIT = "https://www.reddit.com"


# Kinds of the things Reddit's API returns, by the type prefix of their fullnames, plus the two structural kinds.
THING_KINDS: dict[str, str] = {
    "t1": "comment",
    "t2": "account",
    "t3": "link (submission)",
    "t4": "message",
    "t5": "subreddit",
    "t6": "award",
    "more": "'more' stub (ids of comments not loaded)",
    "Listing": "listing (a page of things)",
}


def looks_like_reddit(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") in THING_KINDS and isinstance(obj.get("data"), Mapping)


def _author(data: Mapping[str, Any]) -> Author:
    handle = opt_str(data, "author") or "[deleted]"
    return Author(id=opt_str(data, "author_fullname") or handle, handle=handle, name="")


def normalize_reddit(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    kind = req_str(obj, "kind")
    data = req_obj(obj, "data")
    if kind == "Listing":
        raise NormalizationError(ErrorCode.UNKNOWN_SHAPE, "a Reddit Listing is a page: explode() it into its things")
    if kind not in ("t1", "t3"):
        what = THING_KINDS.get(kind, "thing")
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, f"Reddit {kind!r} ({what}) is not a post or comment", field="kind"
        )
    native_id = opt_str(data, "name") or f"{kind}_{req_id(data, 'id')}"
    permalink = opt_str(data, "permalink")
    common: dict[str, Any] = {
        "event_id": make_event_id(Network.REDDIT, native_id),
        "network": Network.REDDIT,
        "native_id": native_id,
        "author": _author(data),
        "created_at": parse_epoch(data, "created_utc"),
        "url": f"{REDDIT}{permalink}" if permalink and permalink.startswith("/") else permalink,
        "ingested_at": now,
    }
    if kind == "t1":
        return build_event(
            **common,
            kind=EventKind.COMMENT,
            text=unescape_api_text(req_str(data, "body", allow_empty=True)),
            thread_id=opt_str(data, "link_id"),
            reply_to_id=opt_str(data, "parent_id"),
            engagement=Engagement(likes=opt_count(data, "score")),
        )
    title = unescape_api_text(req_str(data, "title"))
    body = unescape_api_text(opt_str(data, "selftext") or "")
    return build_event(
        **common,
        kind=EventKind.POST,
        text=f"{title}\n\n{body}" if body else title,
        thread_id=native_id,
        reply_to_id=None,
        engagement=Engagement(likes=opt_count(data, "score"), replies=opt_count(data, "num_comments")),
    )


def explode_reddit(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    if obj.get("kind") != "Listing":
        return [dict(obj)]
    data = req_obj(obj, "data")
    return [dict(child) for child in opt_list(data, "children") if isinstance(child, Mapping)]
