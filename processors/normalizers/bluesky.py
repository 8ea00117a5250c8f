"""Bluesky Jetstream commit event for `app.bsky.feed.post` (https://github.com/bluesky-social/jetstream).

`{did, time_us, kind: "commit", commit: {rev, operation, collection, rkey, cid, record: {text,
createdAt, langs, reply: {root: {uri}, parent: {uri}}}}}`. `native_id` is the post's at-uri
`at://<did>/app.bsky.feed.post/<rkey>`; thread and parent are at-uris too, so they join.
Jetstream does not carry the handle: `author.handle` stays empty (resolve the DID downstream).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.normalizers._fields import (
    build_event,
    opt_list,
    opt_str,
    parse_epoch,
    parse_iso,
    req_obj,
    req_str,
)
from processors.normalizers.errors import NormalizationError
from schemas.errors import ErrorCode
from schemas.events import Author, EventKind, Network, RawEvent, make_event_id

POST_COLLECTION = "app.bsky.feed.post"


def looks_like_bluesky(obj: Mapping[str, Any]) -> bool:
    return "did" in obj and obj.get("kind") in ("commit", "identity", "account")


def at_uri(did: str, rkey: str, collection: str = POST_COLLECTION) -> str:
    return f"at://{did}/{collection}/{rkey}"


def normalize_bluesky(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    did = req_str(obj, "did")
    kind = req_str(obj, "kind")
    if kind != "commit":
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, f"Jetstream {kind!r} event is not a post", field="kind"
        )
    commit = req_obj(obj, "commit")
    collection = req_str(commit, "collection")
    operation = req_str(commit, "operation")
    if collection != POST_COLLECTION or operation != "create":
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT,
            f"Jetstream commit {operation!r} on {collection!r} is not a new post",
            field="commit",
        )
    rkey = req_str(commit, "rkey")
    record = req_obj(commit, "record")
    native_id = at_uri(did, rkey)
    if record.get("createdAt") is not None:
        created_at = parse_iso(record, "createdAt")
    else:
        created_at = parse_epoch(obj, "time_us", scale=1_000_000)
    reply = req_obj(record, "reply") if record.get("reply") is not None else None
    parent = req_str(reply, "parent.uri") if reply is not None else None
    root = opt_str(reply, "root.uri") if reply is not None else None
    langs = [lang for lang in opt_list(record, "langs") if isinstance(lang, str) and lang]
    return build_event(
        event_id=make_event_id(Network.BLUESKY, native_id),
        network=Network.BLUESKY,
        native_id=native_id,
        kind=EventKind.REPLY if parent else EventKind.POST,
        author=Author(id=did),
        text=req_str(record, "text", allow_empty=True),
        lang_hint=langs[0] if langs else None,
        created_at=created_at,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        thread_id=root or (None if parent else native_id),
        reply_to_id=parent,
        ingested_at=now,
    )
