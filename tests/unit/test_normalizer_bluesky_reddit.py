"""Issue 18, defects 4 and 6 (Reddit): Bluesky link facets keep the full URL; Reddit things that are not posts get
`unsupported_event`. Fixtures (tests/unit/fixtures/<network>/*.jsonc) are built from the networks' documentation,
cited in each file's leading `//` comment."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalizers import NormalizationError, detect_and_normalize, detect_network, explode
from processors.normalizers.bluesky import expand_links, is_shortened
from processors.social import find_urls
from schemas import ErrorCode, EventKind, Network
from tests.unit.fixture_files import load_jsonc

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LINK = "app.bsky.richtext.facet#link"


def link_facet(text: str, label: str, uri: str) -> dict[str, Any]:
    start = text.encode("utf-8").index(label.encode("utf-8"))
    return {"index": {"byteStart": start, "byteEnd": start + len(label.encode("utf-8"))},
            "features": [{"$type": LINK, "uri": uri}]}


# ---------------------------------------------------------------------- Bluesky links (defect 4)


def test_normalizer_bluesky_shortened_link_label_becomes_the_facets_full_url() -> None:
    obj = load_jsonc("bluesky/jetstream_post_short_link.jsonc")
    record = obj["commit"]["record"]
    assert "www.example.com/reviews/nimb..." in record["text"]  # what the app wrote
    event = detect_and_normalize(obj, now=NOW)
    full = "https://www.example.com/reviews/nimbus-x5-teardown?ref=bsky"
    assert event.text == f"Teardown of the Nimbus X5 by @fixit.example.com 🔧📱🇨🇴 {full} #Nimbus"
    assert [u.value for u in find_urls(event.text)] == [full]  # URL extraction now finds the whole URL
    assert event.native_id == "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3lbv2kq6wzk2p"


def test_normalizer_bluesky_link_on_anchor_text_keeps_the_text_and_adds_the_url() -> None:
    event = detect_and_normalize(load_jsonc("bluesky/jetstream_post_anchor_link.jsonc"), now=NOW)
    assert event.text == "Go to this site (https://example.com)"
    assert [u.value for u in find_urls(event.text)] == ["https://example.com"]


@pytest.mark.parametrize(
    ("prefix", "label", "uri"),
    [
        ("", "example.com/some-lo...", "https://example.com/some-long-path"),  # link first
        ("🙂🙂 ", "example.com/some-lo...", "https://example.com/some-long-path"),  # 4-byte emoji before it
        ("👩🏽‍💻 café ", "example.com/some-lo…", "https://example.com/some-long-path"),  # ZWJ sequence, é; "…"
        ("日本語 ", "example.com", "https://example.com/"),  # CJK; whole URL shown without scheme
        ("x ", "www.example.com/abc", "https://www.example.com/abc"),
        ("x ", "example.com/abc", "https://www.example.com/abc"),  # www. dropped too
        ("x ", "HTTPS://Example.com/abc", "https://example.com/abc"),
    ],
)
def test_normalizer_bluesky_expand_links_counts_utf8_bytes(prefix: str, label: str, uri: str) -> None:
    text = f"{prefix}{label} end"
    assert expand_links(text, [link_facet(text, label, uri)]) == f"{prefix}{uri} end"


def test_normalizer_bluesky_expand_links_several_links_and_other_facets() -> None:
    text = "🚀 a.example/x... and @bob.example and b.example/y..."
    facets = [
        link_facet(text, "b.example/y...", "https://b.example/yyyyyyyyyyyyyyyyy"),  # out of order
        {"index": {"byteStart": text.encode().index(b"@bob"), "byteEnd": text.encode().index(b"@bob") + 12},
         "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}]},
        link_facet(text, "a.example/x...", "https://a.example/xxxxxxxxxxxxxxxxxx"),
    ]
    assert expand_links(text, facets) == (
        "🚀 https://a.example/xxxxxxxxxxxxxxxxxx and @bob.example and https://b.example/yyyyyyyyyyyyyyyyy"
    )


@pytest.mark.parametrize(
    "facets",
    [
        None,
        "not a list",
        [],
        ["not an object"],
        [{"index": {"byteStart": 2, "byteEnd": 200}, "features": [{"$type": LINK, "uri": "https://e.example/"}]}],
        [{"index": {"byteStart": 5, "byteEnd": 2}, "features": [{"$type": LINK, "uri": "https://e.example/"}]}],
        [{"index": {"byteStart": "0", "byteEnd": 4}, "features": [{"$type": LINK, "uri": "https://e.example/"}]}],
        [{"index": {"byteStart": True, "byteEnd": 4}, "features": [{"$type": LINK, "uri": "https://e.example/"}]}],
        [{"index": {"byteStart": 1, "byteEnd": 6}, "features": [{"$type": LINK, "uri": "https://e.example/"}]}],
        [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [{"$type": LINK}]}],
        [{"index": {"byteStart": 0, "byteEnd": 4}, "features": "link"}],
        [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [{"$type": LINK, "uri": "https://e x/"}]}],
    ],
    ids=["none", "string", "empty", "item", "past-end", "reversed", "str-offset", "bool-offset", "mid-emoji",
         "no-uri", "features-string", "uri-with-space"],
)
def test_normalizer_bluesky_malformed_facets_leave_the_text_alone(facets: Any) -> None:
    text = "🙂 e.example/... ok"  # 🙂 is bytes 0-3: a range starting at byte 1 splits it
    assert expand_links(text, facets) == text
    obj = load_jsonc("bluesky/jetstream_post_short_link.jsonc")
    obj["commit"]["record"].update(text=text, facets=facets)
    assert detect_and_normalize(obj, now=NOW).text == text  # a bad facet never costs the post


def test_normalizer_bluesky_overlapping_link_facets_keep_the_first() -> None:
    text = "see a.example/long... now"
    first = link_facet(text, "a.example/long...", "https://a.example/long-path-here")
    overlapping = link_facet(text, "long... now", "https://other.example/")
    assert expand_links(text, [overlapping, first]) == "see https://a.example/long-path-here now"


def test_normalizer_bluesky_label_already_the_url_is_unchanged() -> None:
    text = "read https://example.com/a today"
    assert expand_links(text, [link_facet(text, "https://example.com/a", "https://example.com/a")]) == text


@pytest.mark.parametrize(
    ("label", "uri", "shortened"),
    [
        ("example.com/some-lo...", "https://example.com/some-long-path", True),
        ("example.com", "https://example.com", True),
        ("ex", "https://example.com", False),  # not the whole host: anchor text
        ("this site", "https://example.com", False),
        ("other.example/a...", "https://example.com/a", False),
        ("...", "https://example.com", False),
    ],
)
def test_normalizer_bluesky_is_shortened(label: str, uri: str, shortened: bool) -> None:
    assert is_shortened(label, uri) is shortened


def test_normalizer_bluesky_reply_with_link_keeps_thread_fields() -> None:
    obj = load_jsonc("bluesky/jetstream_post_short_link.jsonc")
    parent = "at://did:plc:other/app.bsky.feed.post/3lbuzbf4tzc2o"
    ref = {"uri": parent, "cid": "bafyreib2rxk3rh6kzwq"}
    obj["commit"]["record"]["reply"] = {"root": ref, "parent": ref}
    event = detect_and_normalize(obj, now=NOW)
    assert event.kind is EventKind.REPLY and event.reply_to_id == parent and event.thread_id == parent
    assert "https://www.example.com/reviews/nimbus-x5-teardown?ref=bsky" in event.text


# ---------------------------------------------------------------------- Reddit non-posts (defect 6)


THINGS = load_jsonc("reddit/things_not_posts.jsonc")


@pytest.mark.parametrize("thing", THINGS, ids=[t["kind"] for t in THINGS])
def test_normalizer_reddit_things_that_are_not_posts_are_unsupported_events(thing: dict[str, Any]) -> None:
    assert detect_network(thing) is Network.REDDIT
    assert explode(thing) == [thing]  # a thing, not a page
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(thing, now=NOW)
    assert err.value.code is ErrorCode.UNSUPPORTED_EVENT
    assert repr(thing["kind"]) in err.value.message


def test_normalizer_reddit_unsupported_messages_name_what_the_thing_is() -> None:
    messages = {}
    for thing in THINGS:
        with pytest.raises(NormalizationError) as err:
            detect_and_normalize(thing, now=NOW)
        messages[thing["kind"]] = err.value.message
    assert "message" in messages["t4"] and "subreddit" in messages["t5"] and "account" in messages["t2"]
    assert "more" in messages["more"] and "award" in messages["t6"]


def test_normalizer_reddit_listing_unexploded_is_a_page_not_a_post() -> None:
    listing = load_jsonc("reddit/info_one_link.jsonc")
    with pytest.raises(NormalizationError) as err:
        detect_and_normalize(listing, now=NOW)
    assert err.value.code is ErrorCode.UNKNOWN_SHAPE and "explode" in err.value.message


def test_normalizer_reddit_listing_mixing_posts_and_other_things() -> None:
    listing = load_jsonc("reddit/info_one_link.jsonc")
    post = listing["data"]["children"][0]
    listing["data"]["children"] = [copy.deepcopy(post), *THINGS]
    results: list[str] = []
    for item in explode(listing):
        try:
            results.append(detect_and_normalize(item, now=NOW).native_id)
        except NormalizationError as exc:
            results.append(exc.code.value)
    assert results == ["t3_1h0abcd", *["unsupported_event"] * len(THINGS)]


def test_normalizer_reddit_other_networks_kinds_are_not_reddit() -> None:
    assert detect_network({"kind": "youtube#comment", "data": {}}) is not Network.REDDIT
    assert detect_network({"kind": "commit", "did": "did:plc:x", "data": {}}) is Network.BLUESKY
    assert detect_network({"kind": "t9", "data": {}}) is None  # not a kind Reddit documents
