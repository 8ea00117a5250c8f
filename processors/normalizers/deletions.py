"""Upstream deletions: the network payloads that say a post was deleted (or must no longer be shown) → `Deletion`.

Pure, like the normalizers: `now` and the connector's `source` are parameters. `deletion_of` returns None for
anything that is not a deletion, so a connector asks it first and normalises the rest as posts. The same payloads
given to `detect_and_normalize` are `unsupported_event` (a replayed file keeps them as dead letters, not posts).

- Bluesky Jetstream: a commit with `operation: "delete"` on `app.bsky.feed.post`; the post is its at-uri.
- Mastodon streaming: a frame `{"event": "delete", "payload": "<local status id>"}`; the id is the serving
  instance's, which the connector passes as `instance` (a status's `native_id` is its URI, so `event_id` stays None).
- X compliance stream: `{"data": {"delete" | "drop" | "withheld": {"tweet": {"id", "author_id"}, "event_at"}}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.normalizers._fields import get
from processors.normalizers.bluesky import POST_COLLECTION, at_uri
from processors.normalizers.errors import NormalizationError
from schemas.deletion import Deletion, DeletionKind
from schemas.events import Network, make_event_id

_X_KINDS: Mapping[str, DeletionKind] = {"delete": "compliance_delete", "drop": "compliance_drop",
                                        "withheld": "withheld"}


def deletion_of(obj: object, *, source: str, now: datetime, instance: str | None = None) -> Deletion | None:
    """The Deletion `obj` announces, or None when it is not a deletion (or too malformed to name a post)."""
    if not isinstance(obj, Mapping):
        return None
    try:
        return _jetstream(obj, source, now) or _mastodon(obj, source, now, instance) or _x(obj, source, now)
    except (NormalizationError, ValueError):  # a deletion naming nothing usable: the normalizer's code applies
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _jetstream(obj: Mapping[str, Any], source: str, now: datetime) -> Deletion | None:
    if obj.get("kind") != "commit" or get(obj, "commit.operation") != "delete" \
            or get(obj, "commit.collection") != POST_COLLECTION:
        return None
    did, rkey = _text(obj.get("did")), _text(get(obj, "commit.rkey"))
    if did is None or rkey is None:
        return None
    uri = at_uri(did, rkey)
    time_us = obj.get("time_us")
    deleted_at = (datetime.fromtimestamp(time_us / 1e6, tz=now.tzinfo)
                  if isinstance(time_us, int) and not isinstance(time_us, bool) and 0 < time_us < 2**62 else None)
    return Deletion(deletion_id=Deletion.make_id(Network.BLUESKY, uri), network=Network.BLUESKY, kind="delete",
                    native_ref=uri, event_id=make_event_id(Network.BLUESKY, uri), author_id=did,
                    deleted_at=deleted_at, received_at=now, source=source)


def _mastodon(obj: Mapping[str, Any], source: str, now: datetime, instance: str | None) -> Deletion | None:
    if obj.get("event") != "delete" or "stream" not in obj:
        return None
    status_id = _text(obj.get("payload"))
    if status_id is None:
        return None
    return Deletion(deletion_id=Deletion.make_id(Network.MASTODON, status_id, instance), network=Network.MASTODON,
                    kind="delete", native_ref=status_id, instance=instance, received_at=now, source=source)


def _x(obj: Mapping[str, Any], source: str, now: datetime) -> Deletion | None:
    data = obj.get("data")
    if not isinstance(data, Mapping) or len(data) != 1:
        return None
    (event, body), = data.items()
    kind = _X_KINDS.get(event)
    if kind is None or not isinstance(body, Mapping):
        return None
    tweet_id = _text(get(body, "tweet.id"))
    if tweet_id is None:
        return None
    event_at = body.get("event_at")
    deleted_at = datetime.fromisoformat(event_at.replace("Z", "+00:00")) if isinstance(event_at, str) else None
    return Deletion(deletion_id=Deletion.make_id(Network.X, tweet_id), network=Network.X, kind=kind,
                    native_ref=tweet_id, event_id=make_event_id(Network.X, tweet_id),
                    author_id=_text(get(body, "tweet.author_id")), deleted_at=deleted_at, received_at=now,
                    source=source)
