"""Mastodon: a Status (https://docs.joinmastodon.org/entities/Status/), a streaming frame carrying one, or a
notification/conversation that is not a post.

Identity. `native_id` is the status `uri` (its ActivityPub id): unique across the fediverse, so the same status
seen through two instances gets one event_id (the local `id` only when `uri` is absent). `reply_to_id` is in the
same id space, the parent's `uri`, or None when the payload cannot give it:
- A Status carries only `in_reply_to_id` and `in_reply_to_account_id`, both local ids *of the instance that
  served it*; the parent is not embedded and there is no `in_reply_to_uri`.
- The parent's uri is derivable when its author is local to the serving instance: the author is the status's
  own account (a self-reply) or the entry of `mentions` whose `id` is `in_reply_to_account_id` (Mastodon
  mentions the parent's author in a reply), with an `acct` without a domain (local) and Mastodon's profile url
  `<origin>/@<username>`. Mastodon gives a local status the uri `<origin>/users/<username>/statuses/<id>`
  (ActivityPub::TagManager#uri_for) with the same `id` the API serves, so the parent is
  `<origin>/users/<username>/statuses/<in_reply_to_id>`.
- When the parent's author is remote to the serving instance, or not among the mentions, or the server does
  not use Mastodon's url scheme (Pleroma: `<origin>/users/<name>`, `/objects/<uuid>`), the parent's uri is on
  its home server under an id the payload does not hold: `reply_to_id` is None (the kind stays REPLY). The
  local id is not kept: without the serving instance's host, which a remote status does not carry, it joins
  nothing; `<host>:<local id>` for every status is impossible for the same reason and would split one status
  seen through two instances into two events.
`thread_id` is the root of the conversation when the payload gives it: a status that is not a reply is its own
root (`native_id`, as for X's conversation_id and Bluesky); a reply's root is not in a Status (only in
`GET /api/v1/statuses/:id/context`, not normalised here), so it is None.

Reblogs are REPOSTs carrying the reblogged text, `reply_to_id` = the reblogged status's uri. A status with
`visibility: "direct"` is a private message, not a post: `unsupported_event`.

Streaming (https://docs.joinmastodon.org/methods/streaming/): a WebSocket frame `{"stream": [...], "event",
"payload"}` whose `payload` is the entity as a JSON *string* (an already-decoded object is accepted too).
`update` and `status.update` (an edit: same uri, so the same event_id) are statuses; `notification` is
handled as a Notification; `delete`, `conversation`, `filters_changed`, `announcement*`, ... are
`unsupported_event` naming the event (the Deletion contract is later work).

Notifications (https://docs.joinmastodon.org/entities/Notification/): `mention`, `status` (someone you enabled
notifications for posted) and `update` (a status you boosted was edited) carry a status that is someone's post,
normalised as that status (same event_id as when it arrives on a timeline). Every other type (favourite,
reblog, follow, poll, admin.*, ...) is an action on or about a post, not one: `unsupported_event`. A
Conversation (direct messages) is `unsupported_event` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from processors.normalizers._fields import (
    build_event,
    opt_count,
    opt_list,
    opt_str,
    parse_iso,
    req_id,
    req_obj,
    req_str,
)
from processors.normalizers.errors import NormalizationError
from processors.normalizers.html_text import html_to_text
from schemas.errors import ErrorCode
from schemas.events import Author, Engagement, EventKind, Network, RawEvent, make_event_id

# Streaming events whose payload is a Status (https://docs.joinmastodon.org/methods/streaming/#events).
STATUS_EVENTS = frozenset({"update", "status.update"})
STREAM_EVENTS = STATUS_EVENTS | {
    "delete", "notification", "filters_changed", "conversation", "announcement", "announcement.reaction",
    "announcement.delete", "encrypted_message", "notifications_merged",
}
# Notification types whose `status` is a post by someone else (the rest are actions on a post or an account).
POST_NOTIFICATIONS = frozenset({"mention", "status", "update"})


def _is_status(obj: Mapping[str, Any]) -> bool:
    return "account" in obj and "content" in obj and "id" in obj


def _is_frame(obj: Mapping[str, Any]) -> bool:
    event = obj.get("event")
    # `stream` is in every WebSocket frame since Mastodon 3.3; older frames are recognised by a known event name.
    return isinstance(event, str) and ("stream" in obj or (event in STREAM_EVENTS and "payload" in obj))


def _is_notification(obj: Mapping[str, Any]) -> bool:
    return isinstance(obj.get("type"), str) and isinstance(obj.get("account"), Mapping) and "id" in obj


def _is_conversation(obj: Mapping[str, Any]) -> bool:
    return "accounts" in obj and "last_status" in obj and "id" in obj


def looks_like_mastodon(obj: Mapping[str, Any]) -> bool:
    return _is_status(obj) or _is_frame(obj) or _is_notification(obj) or _is_conversation(obj)


def normalize_mastodon(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    if _is_status(obj):
        return _normalize_status(obj, now=now)
    if _is_frame(obj):
        return _normalize_frame(obj, now=now)
    if _is_notification(obj):
        return _normalize_notification(obj, now=now)
    if _is_conversation(obj):
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, "Mastodon conversation (direct messages) is not a post", field="last_status"
        )
    raise NormalizationError(ErrorCode.UNKNOWN_SHAPE, "not a Mastodon status, streaming frame or notification")


def _normalize_frame(frame: Mapping[str, Any], *, now: datetime) -> RawEvent:
    event = req_str(frame, "event")
    if event in STATUS_EVENTS:
        return _normalize_status(_payload(frame, event), now=now)
    if event == "notification":
        return _normalize_notification(_payload(frame, event), now=now)
    detail = ""
    if event == "delete" and isinstance(frame.get("payload"), str):
        detail = f" (status {frame['payload'][:64]!r} deleted)"
    raise NormalizationError(
        ErrorCode.UNSUPPORTED_EVENT, f"Mastodon streaming {event[:64]!r} event is not a post{detail}", field="event"
    )


def _payload(frame: Mapping[str, Any], event: str) -> Mapping[str, Any]:
    """The frame's entity: `payload` is JSON in a string (as documented) or an object a client decoded."""
    raw = frame.get("payload")
    if raw is None:
        raise NormalizationError(ErrorCode.MISSING_FIELD, f"{event!r} frame without a payload", field="payload")
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"'payload' must be a JSON string, got {type(raw).__name__}", field="payload"
        )
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise NormalizationError(ErrorCode.INVALID_JSON, "payload JSON nested too deeply", field="payload") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers beyond the str->int digit limit
        raise NormalizationError(ErrorCode.INVALID_JSON, f"payload: {str(exc)[:200]}", field="payload") from None
    if not isinstance(value, Mapping):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{event!r} payload must be a JSON object, got {type(value).__name__}",
            field="payload",
        )
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _normalize_notification(notification: Mapping[str, Any], *, now: datetime) -> RawEvent:
    kind = req_str(notification, "type")
    if kind not in POST_NOTIFICATIONS:
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, f"Mastodon {kind[:64]!r} notification is not a post", field="type"
        )
    if notification.get("status") is None:
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, f"Mastodon {kind!r} notification without a status", field="status"
        )
    return _normalize_status(req_obj(notification, "status"), now=now)


def _status_text(status: Mapping[str, Any]) -> str:
    text = html_to_text(req_str(status, "content", allow_empty=True))
    spoiler = opt_str(status, "spoiler_text")
    return f"{spoiler}\n\n{text}" if spoiler else text


def _opt_id(obj: Mapping[str, Any], path: str) -> str | None:
    return None if obj.get(path) is None else req_id(obj, path)


def _parent_author(status: Mapping[str, Any], account: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The parent's author as the serving instance knows it: the status's own account or one of its mentions."""
    author_id = _opt_id(status, "in_reply_to_account_id")
    if author_id is None:
        return None
    if author_id == req_id(account, "id"):
        return account
    for mention in opt_list(status, "mentions"):
        if isinstance(mention, Mapping) and mention.get("id") is not None and str(mention["id"]) == author_id:
            return mention
    return None


def parent_uri(status: Mapping[str, Any], account: Mapping[str, Any]) -> str | None:
    """The uri of the status `status` replies to, when the payload determines it (see the module docstring)."""
    parent_id = _opt_id(status, "in_reply_to_id")
    author = _parent_author(status, account)
    if parent_id is None or author is None or not parent_id.isalnum():
        return None
    username, acct, url = (author.get(k) for k in ("username", "acct", "url"))
    if not (isinstance(username, str) and username and acct == username and isinstance(url, str)):
        return None  # remote to the serving instance (acct is user@domain): its uri has its home server's id
    origin = url.removesuffix(f"/@{username}")
    parts = urlsplit(origin)
    if origin == url or parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        return None  # not Mastodon's local profile url `<origin>/@<username>`: the uri scheme is unknown
    return f"{origin}/users/{username}/statuses/{parent_id}"


def _normalize_status(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    local_id = req_id(obj, "id")
    native_id = opt_str(obj, "uri") or local_id
    account = req_obj(obj, "account")
    if obj.get("visibility") == "direct":
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, "Mastodon direct message is not a public post", field="visibility"
        )
    reblog = req_obj(obj, "reblog") if obj.get("reblog") is not None else None
    source: Mapping[str, Any] = reblog if reblog is not None else obj

    reply_to_id: str | None
    if reblog is not None:
        kind = EventKind.REPOST
        reply_to_id = opt_str(reblog, "uri") or req_id(reblog, "id")
    elif obj.get("in_reply_to_id") is not None:
        kind = EventKind.REPLY
        reply_to_id = parent_uri(obj, account)
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
        thread_id=None if kind is EventKind.REPLY else native_id,
        reply_to_id=reply_to_id,
        engagement=Engagement(
            likes=opt_count(source, "favourites_count"),
            reposts=opt_count(source, "reblogs_count"),
            replies=opt_count(source, "replies_count"),
        ),
        ingested_at=now,
    )
