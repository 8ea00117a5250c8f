"""Normalizers: each network's documented payload (fixtures written from the API docs) → RawEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processors.normalizers import (
    NormalizationError,
    detect_and_normalize,
    detect_network,
    explode,
    html_to_text,
)
from schemas import ErrorCode, EventKind, Network, RawEvent

FIXTURES = Path(__file__).parent / "fixtures" / "networks"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def norm(name: str) -> RawEvent:
    return detect_and_normalize(load(name), now=NOW)


def test_normalizers_x_post_with_author_from_includes() -> None:
    e = norm("x_tweet.json")
    assert e.event_id == "x:1861423378612428800"
    assert e.network is Network.X and e.kind is EventKind.POST
    assert (e.author.id, e.author.handle, e.author.name, e.author.followers) == (
        "2244994945", "danawhit", "Dana Whitfield", 1843
    )
    assert e.text.startswith("Just switched to the Nimbus X5") and "🔋🔥" in e.text
    assert e.lang_hint == "en"
    assert e.created_at == datetime(2026, 11, 25, 14, 3, 12, tzinfo=UTC)
    assert e.url == "https://x.com/danawhit/status/1861423378612428800"
    assert e.thread_id == "1861423378612428800" and e.reply_to_id is None
    assert (e.engagement.likes, e.engagement.reposts, e.engagement.replies, e.engagement.quotes) == (148, 12, 3, 2)
    assert e.ingested_at == NOW


def test_normalizers_x_reply_and_retweet_kinds() -> None:
    reply = norm("x_reply.json")
    assert reply.kind is EventKind.REPLY and reply.reply_to_id == "1861429000000000000"
    assert reply.thread_id == "1861429000000000000" and reply.lang_hint == "es"
    rt = norm("x_retweet.json")
    assert rt.kind is EventKind.REPOST and rt.reply_to_id == "1861423378612428800"
    assert rt.author.followers is None  # user without public_metrics


def test_normalizers_x_quote_stays_post() -> None:
    obj = load("x_tweet.json")
    obj["data"]["referenced_tweets"] = [{"type": "quoted", "id": "1"}]
    assert detect_and_normalize(obj, now=NOW).kind is EventKind.POST


def test_normalizers_x_missing_user_in_includes_keeps_author_id() -> None:
    obj = load("x_tweet.json")
    del obj["includes"]
    e = detect_and_normalize(obj, now=NOW)
    assert e.author.id == "2244994945" and e.author.handle == ""
    assert e.url == "https://x.com/i/status/1861423378612428800"


def test_normalizers_x_und_language_is_no_hint() -> None:
    obj = load("x_tweet.json")
    obj["data"]["lang"] = "und"
    assert detect_and_normalize(obj, now=NOW).lang_hint is None


def test_normalizers_x_search_page_explodes_into_posts() -> None:
    items = explode(load("x_search_page.json"))
    events = [detect_and_normalize(i, now=NOW) for i in items]
    assert [e.native_id for e in events] == ["1861500000000000001", "1861500000000000002"]
    assert [e.author.handle for e in events] == ["ari_k", "pablo_mad"]
    assert events[1].text == "El café de Brewster & Co en Madrid está buenísimo ☕"  # X escapes & < >
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(load("x_search_page.json"), now=NOW)
    assert err.value.code is ErrorCode.UNKNOWN_SHAPE


def test_normalizers_mastodon_html_to_text_and_counts() -> None:
    e = norm("mastodon_status.json")
    assert e.network is Network.MASTODON and e.kind is EventKind.POST
    assert e.native_id == "https://mastodon.social/users/ferngully/statuses/113544219304885123"
    assert e.text == (
        "Tried the new oat flat white at #BrewsterCo in Lisbon & honestly <3 it\n\n"
        "cc @coffeefriends\nmenu: https://brewster.example/menu/autumn"
    )
    assert (e.author.id, e.author.handle, e.author.name, e.author.followers) == (
        "109302112233445566", "ferngully", "Fern 🌿", 877
    )
    assert (e.engagement.likes, e.engagement.reposts, e.engagement.replies) == (21, 5, 2)
    assert e.lang_hint == "en" and e.url == "https://mastodon.social/@ferngully/113544219304885123"


def test_normalizers_mastodon_reblog_is_repost_with_original_text() -> None:
    e = norm("mastodon_reblog.json")
    assert e.kind is EventKind.REPOST
    assert e.author.handle == "kemal"
    assert e.text.startswith("Tried the new oat flat white")
    assert e.reply_to_id == "https://mastodon.social/users/ferngully/statuses/113544219304885123"
    assert e.lang_hint == "en" and e.engagement.reposts == 6
    assert e.url == "https://mastodon.social/@ferngully/113544219304885123"


def test_normalizers_mastodon_reply_with_spoiler() -> None:
    e = norm("mastodon_reply.json")
    # The parent's uri, derived from the local author mentioned (was the instance-local id, which joined nothing).
    assert e.kind is EventKind.REPLY
    assert e.reply_to_id == "https://mastodon.social/users/ferngully/statuses/113544219304885123"
    assert e.text == "café opinions\n\n@ferngully o da Café Luna no Porto é melhor 😉"
    assert e.lang_hint == "pt" and e.author.handle == "joana@masto.pt"


def test_normalizers_bluesky_post_uses_at_uri() -> None:
    e = norm("bluesky_post.json")
    uri = "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3lbuzbf4tzc2o"
    assert e.native_id == uri and e.event_id == f"bluesky:{uri}"
    assert e.kind is EventKind.POST and e.thread_id == uri and e.reply_to_id is None
    assert e.author.id == "did:plc:eygmaihciaxprqvxpfvl6flk" and e.lang_hint == "es"
    assert "🇨🇴" in e.text
    assert e.created_at == datetime(2026, 11, 25, 14, 23, 20, 870000, tzinfo=UTC)
    assert e.url == "https://bsky.app/profile/did:plc:eygmaihciaxprqvxpfvl6flk/post/3lbuzbf4tzc2o"


def test_normalizers_bluesky_reply_links_parent_and_root() -> None:
    e = norm("bluesky_reply.json")
    parent = "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3lbuzbf4tzc2o"
    assert e.kind is EventKind.REPLY and e.reply_to_id == parent and e.thread_id == parent
    assert e.lang_hint == "es"


def test_normalizers_bluesky_without_created_at_uses_time_us() -> None:
    obj = load("bluesky_post.json")
    del obj["commit"]["record"]["createdAt"]
    e = detect_and_normalize(obj, now=NOW)
    assert e.created_at == datetime.fromtimestamp(1795614201.123456, tz=UTC)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["commit"].update(operation="delete"),
        lambda o: o["commit"].update(collection="app.bsky.feed.like"),
        lambda o: o.update(kind="identity"),
    ],
)
def test_normalizers_bluesky_non_posts_are_unsupported(mutate: Any) -> None:
    obj = load("bluesky_post.json")
    mutate(obj)
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(obj, now=NOW)
    assert err.value.code is ErrorCode.UNSUPPORTED_EVENT
    with pytest.raises(NormalizationError):
        norm("bluesky_delete.json")


def test_normalizers_reddit_comment() -> None:
    e = norm("reddit_comment.json")
    assert e.event_id == "reddit:t1_lzq4k2m" and e.kind is EventKind.COMMENT
    assert e.author.id == "t2_8x7y6z" and e.author.handle == "pixel_pusher_88"
    assert e.thread_id == "t3_1h0abcd" and e.reply_to_id == "t3_1h0abcd"
    assert e.created_at == datetime.fromtimestamp(1795615000, tz=UTC)
    assert e.url == "https://www.reddit.com/r/Android/comments/1h0abcd/nimbus_x5_vs_vertex_pro_12/lzq4k2m/"
    assert e.engagement.likes == 42 and e.lang_hint is None


def test_normalizers_reddit_submission_title_and_body_negative_score() -> None:
    e = norm("reddit_submission.json")
    assert e.kind is EventKind.POST and e.native_id == "t3_1h0abcd" and e.thread_id == "t3_1h0abcd"
    assert e.text.startswith("Nimbus X5 vs Vertex Pro 12 — long-term review\n\nUsed both")
    assert e.engagement.likes == 0 and e.engagement.replies == 87


def test_normalizers_reddit_listing_explodes_and_deleted_author() -> None:
    events = [detect_and_normalize(i, now=NOW) for i in explode(load("reddit_listing.json"))]
    assert [e.native_id for e in events] == ["t1_aaa111", "t1_bbb222"]
    assert events[1].author.id == "[deleted]" and events[1].reply_to_id == "t1_aaa111"


def test_normalizers_youtube_comment_thread() -> None:
    e = norm("youtube_comment_thread.json")
    assert e.event_id == "youtube:UgzDE2tasfmrYLyNkGt4AaABAg" and e.kind is EventKind.COMMENT
    assert e.text == 'Great review! The Nimbus X5 camera at night is "wow" 😍\nSubscribed.'
    assert e.author.id == "UCa1b2c3d4e5f6g7h8i9j0kL"
    assert e.author.handle == "MariaTechES" and e.author.name == "@MariaTechES"
    assert e.thread_id == "dQw4w9WgXcQ"
    assert e.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=UgzDE2tasfmrYLyNkGt4AaABAg"
    assert e.engagement.likes == 318 and e.engagement.replies == 4


def test_normalizers_youtube_reply_falls_back_to_text_display() -> None:
    e = norm("youtube_reply.json")
    assert e.kind is EventKind.REPLY and e.reply_to_id == "UgzDE2tasfmrYLyNkGt4AaABAg"
    assert e.text == "Totalmente de acuerdo, la mía también 👍🏽"
    assert e.author.handle == "" and e.author.name == "Carlos Méndez"


def test_normalizers_youtube_list_response_explodes_with_replies() -> None:
    thread = load("youtube_comment_thread.json")
    thread["replies"] = {"comments": [load("youtube_reply.json")]}
    page = {"kind": "youtube#commentThreadListResponse", "items": [thread]}
    events = [detect_and_normalize(i, now=NOW) for i in explode(page)]
    assert [e.kind for e in events] == [EventKind.COMMENT, EventKind.REPLY]


@pytest.mark.parametrize(
    ("name", "network"),
    [
        ("x_tweet.json", Network.X),
        ("mastodon_status.json", Network.MASTODON),
        ("bluesky_post.json", Network.BLUESKY),
        ("reddit_comment.json", Network.REDDIT),
        ("reddit_submission.json", Network.REDDIT),
        ("youtube_comment_thread.json", Network.YOUTUBE),
    ],
)
def test_normalizers_detect_network_and_round_trip_as_raw_event_dict(name: str, network: Network) -> None:
    obj = load(name)
    assert detect_network(obj) is network
    event = detect_and_normalize(obj, now=NOW)
    as_dict = event.model_dump(mode="json")
    assert detect_network(as_dict) is None
    assert detect_and_normalize(as_dict, now=datetime(2030, 1, 1, tzinfo=UTC)) == event


def test_normalizers_raw_event_dict_without_ingested_at_gets_now() -> None:
    d = norm("x_tweet.json").model_dump(mode="json")
    del d["ingested_at"]
    assert detect_and_normalize(d, now=NOW).ingested_at == NOW


def _set(path: str, value: Any) -> Any:
    def mutate(o: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        cur = o
        for p in parents:
            cur = cur[p]
        if value is KeyError:
            del cur[last]
        else:
            cur[last] = value

    return mutate


@pytest.mark.parametrize(
    ("fixture", "mutate", "code"),
    [
        ("x_tweet.json", _set("data.author_id", KeyError), ErrorCode.MISSING_FIELD),
        ("x_tweet.json", _set("data.created_at", KeyError), ErrorCode.MISSING_FIELD),
        ("x_tweet.json", _set("data.text", 42), ErrorCode.WRONG_TYPE),
        ("x_tweet.json", _set("data.created_at", "yesterday"), ErrorCode.INVALID_VALUE),
        ("x_tweet.json", _set("data.public_metrics", {"like_count": "many"}), ErrorCode.WRONG_TYPE),
        ("x_tweet.json", _set("data.referenced_tweets", "nope"), ErrorCode.WRONG_TYPE),
        ("mastodon_status.json", _set("account", KeyError), ErrorCode.UNKNOWN_SHAPE),
        ("mastodon_status.json", _set("account", "bob"), ErrorCode.WRONG_TYPE),
        ("mastodon_status.json", _set("reblog", []), ErrorCode.WRONG_TYPE),
        ("mastodon_status.json", _set("content", None), ErrorCode.MISSING_FIELD),
        ("bluesky_post.json", _set("commit.rkey", KeyError), ErrorCode.MISSING_FIELD),
        ("bluesky_post.json", _set("commit.record", "text"), ErrorCode.WRONG_TYPE),
        ("bluesky_post.json", _set("commit.record.reply", {"root": {}}), ErrorCode.MISSING_FIELD),
        ("reddit_comment.json", _set("data.created_utc", "now"), ErrorCode.WRONG_TYPE),
        ("reddit_comment.json", _set("data.created_utc", 1e20), ErrorCode.TIMESTAMP_OUT_OF_RANGE),
        ("reddit_submission.json", _set("data.title", KeyError), ErrorCode.MISSING_FIELD),
        ("youtube_comment_thread.json", _set("snippet.topLevelComment", KeyError), ErrorCode.MISSING_FIELD),
        ("youtube_comment_thread.json", _set("kind", "youtube#video"), ErrorCode.UNKNOWN_SHAPE),
    ],
)
def test_normalizers_bad_payloads_raise_coded_errors(fixture: str, mutate: Any, code: ErrorCode) -> None:
    obj = load(fixture)
    mutate(obj)
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(obj, now=NOW)
    assert err.value.code is code, err.value


@pytest.mark.parametrize(
    ("obj", "code"),
    [
        ([], ErrorCode.NOT_AN_OBJECT),
        ({}, ErrorCode.UNKNOWN_SHAPE),
        ({"hello": "world"}, ErrorCode.UNKNOWN_SHAPE),
        ({"network": "tiktok", "id": "1"}, ErrorCode.UNKNOWN_NETWORK),
        ({"event_id": "tiktok:1", "network": "tiktok", "native_id": "1"}, ErrorCode.UNKNOWN_NETWORK),
        ({"event_id": "x:1", "network": "x", "native_id": "1"}, ErrorCode.MISSING_FIELD),
        (
            {"event_id": "x:2", "network": "x", "native_id": "1", "kind": "post", "author": {"id": "a"},
             "text": "t", "created_at": "2026-01-01T00:00:00Z"},
            ErrorCode.INVALID_VALUE,
        ),
        (
            {"event_id": "x:1", "network": "x", "native_id": "1", "kind": "post", "author": {"id": "a"},
             "text": "t", "created_at": "2026-01-01T00:00:00"},
            ErrorCode.INVALID_VALUE,
        ),
        (
            {"event_id": "x:1", "network": "x", "native_id": "1", "kind": "post", "author": "a",
             "text": "t", "created_at": "2026-01-01T00:00:00Z"},
            ErrorCode.WRONG_TYPE,
        ),
        (
            {"event_id": "x:1", "network": "x", "native_id": "1", "kind": "post", "author": {"id": "a"},
             "text": "t", "created_at": "2026-01-01T00:00:00Z", "surprise": 1},
            ErrorCode.UNKNOWN_SHAPE,
        ),
    ],
)
def test_normalizers_detect_rejects_with_codes(obj: Any, code: ErrorCode) -> None:
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(obj, now=NOW)
    assert err.value.code is code, err.value


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain", "plain"),
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<p>a<br>b<br/>c</p>", "a\nb\nc"),
        ("<p>&lt;3 &amp; &quot;x&quot; &#128512;</p>", '<3 & "x" 😀'),
        ("<p>x</p><script>alert(1)</script>", "x"),
    ],
)
def test_normalizers_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
