"""X (Twitter) API v2: one Post from a tweet lookup/search/stream response (`data` + `includes`).

https://docs.x.com/x-api/fundamentals/data-dictionary — fields used: id, text, note_tweet.text, author_id,
created_at, lang, conversation_id, referenced_tweets[{type, id}], public_metrics{retweet,reply,like,quote}_count;
includes.users[{id, username, name, public_metrics.followers_count}]; includes.tweets (expansion
`referenced_tweets.id`) for the original of a retweet.

Text: `text` is cut at 280 characters for a long post; `note_tweet.text` (tweet.fields=note_tweet) holds the
whole post and is preferred. A retweet's own `text` is "RT @user: " + the original cut near 140 characters;
when `includes.tweets` holds the original, the stored text is that prefix + the original's full text.

Valid X payloads that are not posts — compliance stream events (`{"data": {"delete": {...}}}`,
`user_suspend`, ...) and error-only responses (`{"errors": [...]}`, e.g. a stream's operational
disconnect) — are recognised here too and get `unsupported_event` naming the event.
"""

from __future__ import annotations

import re
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

# The event keys of the v2 Post and User compliance streams (GET /2/tweets/compliance/stream,
# GET /2/users/compliance/stream): `{"data": {"<event>": {...}}}`.
# https://docs.x.com/x-api/compliance/streams/introduction and "Compliance Data Objects"; the official SDK's
# TweetComplianceData / UserComplianceData (xdevplatform/twitter-api-java-sdk docs/).
COMPLIANCE_EVENTS = frozenset({
    "delete", "withheld", "drop", "undrop", "tweet_edit",
    "user_delete", "user_undelete", "user_protect", "user_unprotect", "user_suspend", "user_unsuspend",
    "user_withheld", "scrub_geo", "user_profile_modification",
})  # fmt: skip

# The classic retweet prefix X puts in a retweet's `text`; usernames are [A-Za-z0-9_]{1,15}.
_RT_PREFIX = re.compile(r"RT @\w{1,15}: ")


def _is_compliance_event(obj: Mapping[str, Any]) -> bool:
    data = obj.get("data")
    return isinstance(data, Mapping) and "text" not in data and any(k in COMPLIANCE_EVENTS for k in data)


def _is_error_only(obj: Mapping[str, Any]) -> bool:
    """`{"errors": [problem, ...]}` without `data`: an RFC 7807 problem list (title/type/detail) or a
    v1.1-style error list (code/message) — a failed lookup, or a stream's operational disconnect."""
    errors = obj.get("errors")
    if obj.get("data") is not None or not isinstance(errors, list) or not errors:
        return False
    return all(
        isinstance(e, Mapping) and any(k in e for k in ("title", "type", "detail", "message")) for e in errors
    )


def looks_like_x(obj: Mapping[str, Any]) -> bool:
    """An X API v2 response: a Post (or a page of them), a compliance event, or an error-only response."""
    data = obj.get("data")
    if "kind" in obj:  # Reddit things also have `data`
        return False
    if isinstance(data, list):
        return bool(data) and isinstance(data[0], Mapping) and "text" in data[0]
    if isinstance(data, Mapping) and "text" in data and "id" in data:
        return True
    return _is_compliance_event(obj) or _is_error_only(obj)


def _find_user(obj: Mapping[str, Any], author_id: str) -> Mapping[str, Any] | None:
    for user in opt_list(obj, "includes.users"):
        if isinstance(user, Mapping) and str(user.get("id")) == author_id:
            return user
    return None


def _reject_non_post(obj: Mapping[str, Any]) -> None:
    """Raise `unsupported_event` naming the event when `obj` is a valid X payload that is not a post."""
    if _is_compliance_event(obj):
        data = obj["data"]
        event = next(str(k) for k in data if k in COMPLIANCE_EVENTS)
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT, f"X compliance event {event!r} is not a post", field=f"data.{event}"
        )
    if _is_error_only(obj):
        errors = obj["errors"]
        first = errors[0]
        name = first.get("title") or first.get("type") or first.get("message") or first.get("detail")
        detail = first.get("detail")
        about = f": {str(detail)[:200]}" if detail and detail != name else ""
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise NormalizationError(
            ErrorCode.UNSUPPORTED_EVENT,
            f"X error response {str(name)[:120]!r} is not a post{about}{more}",
            field="errors",
        )


def _post_text(tweet: Mapping[str, Any]) -> str:
    """The whole text of a Post: `note_tweet.text` for a post over 280 characters, else `text`."""
    note = tweet.get("note_tweet")
    path = "note_tweet.text" if isinstance(note, Mapping) and note.get("text") is not None else "text"
    return unescape_api_text(req_str(tweet, path, allow_empty=True))


def _included_text(obj: Mapping[str, Any], tweet_id: str) -> tuple[Mapping[str, Any], str] | None:
    """The expanded Post `tweet_id` from `includes.tweets` and its whole text, or None when it is absent.

    Lenient on purpose: `includes` is context, so an unusable entry means "not expanded", not a bad post.
    """
    for tweet in opt_list(obj, "includes.tweets"):
        if isinstance(tweet, Mapping) and str(tweet.get("id")) == tweet_id:
            note = tweet.get("note_tweet")
            text = note.get("text") if isinstance(note, Mapping) else None
            if not isinstance(text, str):
                text = tweet.get("text")
            return (tweet, unescape_api_text(text)) if isinstance(text, str) else None
    return None


def _retweet_text(obj: Mapping[str, Any], api_text: str, original: Mapping[str, Any], original_text: str) -> str:
    """The retweet's text: X's "RT @user: " prefix + the original's full text (`api_text`: X's cut RT text).

    The prefix is kept on purpose: the stored text stays recognisably a repost (as X itself writes it), the
    original author's @mention is extracted as before, and the enricher works on
    `processors.normalize_text.body_of(text)`, which strips "RT @user:" — so language id, NLP and the
    duplicate cache see exactly the original's text (a retweet shares its original's cache entry), and
    entity offsets are shifted back onto this text.
    """
    m = _RT_PREFIX.match(api_text)
    if m:
        return m.group(0) + original_text
    user = _find_user(obj, str(original.get("author_id")))
    username = user.get("username") if user is not None else None
    return f"RT @{username}: {original_text}" if isinstance(username, str) and username else original_text


def normalize_x(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    """A single-Post response. `data` may also be a one-element list (search page of one)."""
    _reject_non_post(obj)
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
    text = _post_text(tweet)
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
            included = _included_text(obj, ref_id)
            if included is not None:  # else X's own cut "RT @user: ..." text, as before
                text = _retweet_text(obj, text, *included)
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
