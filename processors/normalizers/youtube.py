"""YouTube Data API v3: `commentThread` (top-level comment) and `comment` (a reply) resources.

https://developers.google.com/youtube/v3/docs/commentThreads and /comments. `native_id` is the
comment id; `thread_id` is the video id; replies carry `snippet.parentId` as `reply_to_id`.
`textOriginal` is preferred; `textDisplay` (HTML) is the fallback when the key lacks that scope.
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
    parse_iso,
    req_obj,
    req_str,
)
from processors.normalizers.errors import NormalizationError
from processors.normalizers.html_text import html_to_text
from schemas.errors import ErrorCode
from schemas.events import Author, Engagement, EventKind, Network, RawEvent, make_event_id


def looks_like_youtube(obj: Mapping[str, Any]) -> bool:
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.startswith("youtube#")


def _comment_event(
    comment: Mapping[str, Any], *, now: datetime, total_replies: int, video_id: str | None
) -> RawEvent:
    native_id = req_str(comment, "id")
    snippet = req_obj(comment, "snippet")
    text = opt_str(snippet, "textOriginal")
    if text is None:
        text = html_to_text(req_str(snippet, "textDisplay", allow_empty=True))
    display = opt_str(snippet, "authorDisplayName") or ""
    author_id = opt_str(snippet, "authorChannelId.value") if isinstance(
        snippet.get("authorChannelId"), Mapping
    ) else opt_str(snippet, "authorChannelId")
    video = opt_str(snippet, "videoId") or video_id
    parent = opt_str(snippet, "parentId")
    return build_event(
        event_id=make_event_id(Network.YOUTUBE, native_id),
        network=Network.YOUTUBE,
        native_id=native_id,
        kind=EventKind.REPLY if parent else EventKind.COMMENT,
        author=Author(
            id=author_id or display or "unknown",
            handle=display[1:] if display.startswith("@") else "",
            name=display,
        ),
        text=text,
        lang_hint=None,
        created_at=parse_iso(snippet, "publishedAt"),
        url=f"https://www.youtube.com/watch?v={video}&lc={native_id}" if video else None,
        thread_id=video,
        reply_to_id=parent,
        engagement=Engagement(likes=opt_count(snippet, "likeCount"), replies=total_replies),
        ingested_at=now,
    )


def normalize_youtube(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    kind = req_str(obj, "kind")
    if kind == "youtube#commentThread":
        snippet = req_obj(obj, "snippet")
        top = req_obj(snippet, "topLevelComment")
        return _comment_event(
            top,
            now=now,
            total_replies=opt_count(snippet, "totalReplyCount"),
            video_id=opt_str(snippet, "videoId"),
        )
    if kind == "youtube#comment":
        return _comment_event(obj, now=now, total_replies=0, video_id=None)
    raise NormalizationError(
        ErrorCode.UNKNOWN_SHAPE, f"YouTube resource {kind!r} is not a comment; explode() list responses"
    )


def explode_youtube(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A *ListResponse as its items; a commentThread with `replies` as the thread plus each reply."""
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("ListResponse"):
        out: list[dict[str, Any]] = []
        for item in opt_list(obj, "items"):
            if isinstance(item, Mapping):
                out.extend(explode_youtube(item))
        return out
    if kind == "youtube#commentThread" and isinstance(obj.get("replies"), Mapping):
        replies = [dict(c) for c in opt_list(obj["replies"], "comments") if isinstance(c, Mapping)]
        thread = {k: v for k, v in obj.items() if k != "replies"}
        return [thread, *replies]
    return [dict(obj)]
