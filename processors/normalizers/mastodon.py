"""Mastodon Status entity (https://docs.joinmastodon.org/entities/Status/).

`native_id` is the status `uri` (its ActivityPub id): unique across the fediverse, so the same status
seen through two instances gets one event_id. `reply_to_id` is `in_reply_to_id` as the instance that
served the status sent it (instance-local). A reblog becomes a REPOST carrying the reblogged text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.normalizers._fields import (
    build_event,
    opt_count,
    opt_str,
    parse_iso,
    req_id,
    req_obj,
    req_str,
)
from processors.normalizers.html_text import html_to_text
from schemas.events import Author, Engagement, EventKind, Network, RawEvent, make_event_id


def looks_like_mastodon(obj: Mapping[str, Any]) -> bool:
    return "account" in obj and "content" in obj and "id" in obj


def _status_text(status: Mapping[str, Any]) -> str:
    text = html_to_text(req_str(status, "content", allow_empty=True))
    spoiler = opt_str(status, "spoiler_text")
    return f"{spoiler}\n\n{text}" if spoiler else text


def normalize_mastodon(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    local_id = req_id(obj, "id")
    native_id = opt_str(obj, "uri") or local_id
    account = req_obj(obj, "account")
    reblog = req_obj(obj, "reblog") if obj.get("reblog") is not None else None
    source: Mapping[str, Any] = reblog if reblog is not None else obj

    reply_to_id: str | None
    if reblog is not None:
        kind = EventKind.REPOST
        reply_to_id = opt_str(reblog, "uri") or req_id(reblog, "id")
    elif obj.get("in_reply_to_id") is not None:
        kind = EventKind.REPLY
        reply_to_id = req_id(obj, "in_reply_to_id")
    else:
        kind, reply_to_id = EventKind.POST, None

    followers = opt_count(account, "followers_count") if "followers_count" in account else None
    return build_event(
        event_id=make_event_id(Network.MASTODON, native_id),
        network=Network.MASTODON,
        native_id=native_id,
        kind=kind,
        author=Author(
            id=req_id(account, "id"),
            handle=opt_str(account, "acct") or opt_str(account, "username") or "",
            name=opt_str(account, "display_name") or "",
            followers=followers,
        ),
        text=_status_text(source),
        lang_hint=opt_str(source, "language"),
        created_at=parse_iso(obj, "created_at"),
        url=opt_str(obj, "url") or opt_str(source, "url"),
        thread_id=None,
        reply_to_id=reply_to_id,
        engagement=Engagement(
            likes=opt_count(source, "favourites_count"),
            reposts=opt_count(source, "reblogs_count"),
            replies=opt_count(source, "replies_count"),
        ),
        ingested_at=now,
    )
