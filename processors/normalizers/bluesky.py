"""Bluesky Jetstream commit event for `app.bsky.feed.post` (https://github.com/bluesky-social/jetstream).

`{did, time_us, kind: "commit", commit: {rev, operation, collection, rkey, cid, record: {text,
createdAt, langs, reply: {root: {uri}, parent: {uri}}}}}`. `native_id` is the post's at-uri
`at://<did>/app.bsky.feed.post/<rkey>`; thread and parent are at-uris too, so they join.
Jetstream does not carry the handle: `author.handle` stays empty (resolve the DID downstream).

Links: the app writes a shortened label into the text (`example.com/some-lo...`) and the complete URL only into
an `app.bsky.richtext.facet#link` facet, whose `index` is a UTF-8 byte range of the text (https://docs.bsky.app/
docs/advanced-guides/post-richtext; lexicon app.bsky.richtext.facet: "The text URL may have been simplified or
truncated, but the facet reference should be a complete URL"). `expand_links` puts the full URL into the text, so
URL extraction finds it: a label that is the URL shortened (scheme, `www.` dropped, path cut, `...`/`…` added)
is replaced by the URL; any other label (anchor text such as "this site") is kept and followed by ` (<url>)`.
Facets are decoration, so a malformed one (not a byte range of this text, splitting a UTF-8 character,
overlapping an earlier one) is skipped, as the docs tell renderers to do, and never costs the post.
"""

from __future__ import annotations

import re
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
LINK_FEATURE = "app.bsky.richtext.facet#link"
_SCHEME = ("https://", "http://")
_ELLIPSES = ("...", "\u2026")


def looks_like_bluesky(obj: Mapping[str, Any]) -> bool:
    return "did" in obj and obj.get("kind") in ("commit", "identity", "account")


def at_uri(did: str, rkey: str, collection: str = POST_COLLECTION) -> str:
    return f"at://{did}/{collection}/{rkey}"


def _byte_range(facet: Mapping[str, Any], size: int) -> tuple[int, int] | None:
    index = facet.get("index")
    if not isinstance(index, Mapping):
        return None
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return None
    return (start, end) if 0 <= start < end <= size else None


def _link_uri(facet: Mapping[str, Any]) -> str | None:
    features = facet.get("features")
    for feature in features if isinstance(features, list) else ():
        if isinstance(feature, Mapping) and feature.get("$type") == LINK_FEATURE:
            uri = feature.get("uri")
            if isinstance(uri, str) and uri and not any(c.isspace() for c in uri):
                return uri
    return None


def _without_scheme(url: str) -> str:
    lowered = url.lower()
    for scheme in _SCHEME:
        if lowered.startswith(scheme):
            return url[len(scheme):]
    return url


def is_shortened(label: str, uri: str) -> bool:
    """True when `label` is `uri` as the app shows it: without scheme (and maybe `www.`), maybe cut and `...`-ended,
    but always with the whole host (so anchor text that happens to be a prefix, such as "ex", is not)."""
    stem = label.strip()
    for ellipsis in _ELLIPSES:
        if stem.endswith(ellipsis):
            stem = stem[: -len(ellipsis)]
            break
    stem = stem.lower()
    bare = _without_scheme(uri).lower()
    host = re.split(r"[/?#]", bare, maxsplit=1)[0]
    candidates = [(uri.lower(), len(uri) - len(bare) + len(host)), (bare, len(host))]
    if bare.startswith("www."):
        candidates.append((bare[4:], len(host) - 4))
    return any(len(stem) >= min_len > 0 and c.startswith(stem) for c, min_len in candidates)


def expand_links(text: str, facets: object) -> str:
    """`text` with each link facet's full URI in place of a shortened label (or after any other label)."""
    if not isinstance(facets, list) or not facets:
        return text
    data = text.encode("utf-8", "surrogatepass")
    links: list[tuple[int, int, str]] = []
    for facet in facets:
        if not isinstance(facet, Mapping):
            continue
        uri = _link_uri(facet)
        span = _byte_range(facet, len(data)) if uri else None
        if uri and span:
            links.append((span[0], span[1], uri))
    out: list[bytes] = []
    done = 0
    for start, end, uri in sorted(links):
        if start < done:  # overlaps the previous link: skipped, as the docs tell renderers to do
            continue
        try:
            label = data[start:end].decode("utf-8")
        except UnicodeDecodeError:  # the range splits a character: not this text's offsets
            continue
        if label == uri:
            continue
        replacement = uri if is_shortened(label, uri) else f"{label} ({uri})"
        out += [data[done:start], replacement.encode("utf-8", "surrogatepass")]
        done = end
    if not out:
        return text
    out.append(data[done:])
    return b"".join(out).decode("utf-8", "surrogatepass")


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
        text=expand_links(req_str(record, "text", allow_empty=True), record.get("facets")),
        lang_hint=langs[0] if langs else None,
        created_at=created_at,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        thread_id=root or (None if parent else native_id),
        reply_to_id=parent,
        ingested_at=now,
    )
