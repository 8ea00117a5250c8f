"""X normalizer (issue 18): retweets keep the original's full text, long posts use note_tweet, and valid
non-post payloads (compliance events, error-only responses) get `unsupported_event`.

Fixtures in tests/unit/fixtures/x/ come from X's documentation; each names its source in its leading `//` lines,
which `load` drops so the payload under test is the documented one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalize_text import body_of
from processors.normalizers import NormalizationError, detect_and_normalize, detect_network, explode
from schemas import DeadLetter, ErrorCode, EventKind, Network, RawEvent
from streams.codec import decode_raw
from tests.unit.fixture_files import load_jsonc

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

ORIGINAL_TEXT = (
    "I built an Alexa Skill for Twitter using APL that allows you to view Tweets and Trends on the echo show!"
    "\n\nCheck it out here 👇\n\nhttps://t.co/l5J8wq748G"
)
RT_API_TEXT = (
    "RT @suhemparack: I built an Alexa Skill for Twitter using APL that allows you to view Tweets and Trends on"
    " the echo show!\n\nCheck it out her…"
)


def load(name: str) -> dict[str, Any]:
    return load_jsonc(f"x/{name}c")  # type: ignore[no-any-return]


def norm(obj: object) -> RawEvent:
    return detect_and_normalize(obj, now=NOW)


def long_text() -> str:
    """The long post's full text as the user wrote it (X escapes its `&` in the payload)."""
    note = load("long_post.json")["data"]["note_tweet"]["text"]
    return str(note).replace("&amp;", "&")


def unsupported(obj: dict[str, Any]) -> NormalizationError:
    with pytest.raises(NormalizationError) as err:
        norm(obj)
    assert err.value.code is ErrorCode.UNSUPPORTED_EVENT, err.value
    return err.value


# -- defect 1: retweets ------------------------------------------------------------------------------------


def test_normalizer_x_retweet_text_is_the_full_original() -> None:
    e = norm(load("retweet_expanded.json"))
    assert e.kind is EventKind.REPOST and e.native_id == "1229851574555508737"
    assert e.reply_to_id == "1229843515603144704"  # the original's id
    assert e.text == "RT @suhemparack: " + ORIGINAL_TEXT
    assert "…" not in e.text and e.text != RT_API_TEXT
    # the enricher strips the RT prefix: NLP and the duplicate cache see exactly the original's text
    assert body_of(e.text).text == ORIGINAL_TEXT
    assert e.text[body_of(e.text).offset :] == ORIGINAL_TEXT
    # everything else still describes the retweet, not the original
    assert (e.author.id, e.author.handle, e.author.followers) == ("2244994945", "TwitterDev", 513962)
    assert e.url == "https://x.com/TwitterDev/status/1229851574555508737"
    assert e.created_at == datetime(2020, 2, 18, 19, 33, 59, tzinfo=UTC)
    assert e.engagement.reposts == 19 and e.engagement.likes == 0


def test_normalizer_x_retweet_and_its_original_share_the_body() -> None:
    page = load("retweet_expanded.json")
    original = {"data": page["includes"]["tweets"][0], "includes": {"users": page["includes"]["users"]}}
    rt, orig = norm(page), norm(original)
    assert orig.kind is EventKind.POST and orig.native_id == rt.reply_to_id
    assert body_of(rt.text).text == body_of(orig.text).text == orig.text


@pytest.mark.parametrize(
    "includes_tweets",
    [
        None,  # expansion not requested
        [],
        [{"id": "1", "text": "some other post"}],  # the original is not among them
        [{"id": "1229843515603144704"}],  # expanded without a text: unusable
        ["1229843515603144704"],  # not an object
    ],
)
def test_normalizer_x_retweet_without_its_original_keeps_the_api_text(includes_tweets: Any) -> None:
    obj = load("retweet_expanded.json")
    if includes_tweets is None:
        del obj["includes"]["tweets"]
    else:
        obj["includes"]["tweets"] = includes_tweets
    e = norm(obj)
    assert e.kind is EventKind.REPOST and e.reply_to_id == "1229843515603144704"
    assert e.text == RT_API_TEXT  # today's behaviour


def test_normalizer_x_retweet_prefix_from_the_original_author_when_text_has_none() -> None:
    obj = load("retweet_expanded.json")
    obj["data"][0]["text"] = "I built an Alexa Skill for Twitter using APL that…"  # no "RT @user: " to copy
    assert norm(obj).text == "RT @suhemparack: " + ORIGINAL_TEXT
    obj["includes"]["users"] = obj["includes"]["users"][:1]  # and the original's author not expanded
    assert norm(obj).text == ORIGINAL_TEXT


def test_normalizer_x_retweet_of_a_long_post_uses_the_originals_note_tweet() -> None:
    page = load("search_page_retweets.json")
    item = {**page, "data": page["data"][2]}
    e = norm(item)
    assert e.kind is EventKind.REPOST and e.reply_to_id == "1861600000000000001"
    assert e.text == "RT @danawhit: " + long_text()
    assert body_of(e.text).text == long_text()


def test_normalizer_x_search_page_with_two_retweets_of_three() -> None:
    page = load("search_page_retweets.json")
    items = explode(page)
    assert len(items) == 3
    events = [norm(i) for i in items]
    assert [e.native_id for e in events] == ["1229851574555508737", "1296121314218897408", "1861600000000000002"]
    assert [e.kind for e in events] == [EventKind.REPOST, EventKind.POST, EventKind.REPOST]
    assert [e.reply_to_id for e in events] == ["1229843515603144704", None, "1861600000000000001"]
    assert events[0].text == "RT @suhemparack: " + ORIGINAL_TEXT
    assert events[1].text == page["data"][1]["text"]  # a plain post is untouched
    assert events[2].text == "RT @danawhit: " + long_text()
    assert [e.author.handle for e in events] == ["TwitterDev", "TwitterDev", "samtech"]
    assert all("…" not in e.text for e in events)
    # the un-exploded page is still not one post
    with pytest.raises(NormalizationError) as err:
        norm(page)
    assert err.value.code is ErrorCode.UNKNOWN_SHAPE


# -- long posts: note_tweet ------------------------------------------------------------------------------------


def test_normalizer_x_long_post_uses_note_tweet() -> None:
    obj = load("long_post.json")
    assert len(obj["data"]["text"]) <= 280
    e = norm(obj)
    assert e.kind is EventKind.POST
    assert e.text == long_text() and len(e.text) > 280
    assert e.text.endswith("#NimbusX5") and "costs less & lasts longer" in e.text  # unescaped like `text`
    assert e.author.handle == "danawhit"


@pytest.mark.parametrize("note_tweet", [None, {}, {"text": None}])
def test_normalizer_x_without_note_tweet_text_reads_text(note_tweet: Any) -> None:
    obj = load("long_post.json")
    obj["data"]["note_tweet"] = note_tweet
    assert norm(obj).text == obj["data"]["text"].replace("&amp;", "&")


def test_normalizer_x_note_tweet_text_of_wrong_type_is_an_error() -> None:
    obj = load("long_post.json")
    obj["data"]["note_tweet"] = {"text": 42}
    with pytest.raises(NormalizationError) as err:
        norm(obj)
    assert err.value.code is ErrorCode.WRONG_TYPE and err.value.field == "note_tweet.text"


# -- defect 6 for X: valid non-post payloads ----------------------------------------------------------------


COMPLIANCE = load("compliance_events.json")["events"]


@pytest.mark.parametrize("event", COMPLIANCE, ids=[next(iter(e["data"])) for e in COMPLIANCE])
def test_normalizer_x_compliance_events_are_unsupported(event: dict[str, Any]) -> None:
    name = next(iter(event["data"]))
    assert detect_network(event) is Network.X
    assert explode(event) == [event]
    err = unsupported(event)
    assert repr(name) in err.message and "compliance" in err.message
    assert err.field == f"data.{name}"


ERRORS = load("error_responses.json")["responses"]


@pytest.mark.parametrize("response", ERRORS, ids=[r["errors"][0]["title"] for r in ERRORS])
def test_normalizer_x_error_only_responses_are_unsupported(response: dict[str, Any]) -> None:
    assert detect_network(response) is Network.X
    err = unsupported(response)
    assert repr(response["errors"][0]["title"]) in err.message
    assert response["errors"][0]["detail"] in err.message


def test_normalizer_x_error_only_response_counts_further_errors() -> None:
    response = {"errors": ERRORS[0]["errors"] * 3}
    assert "(+2 more)" in unsupported(response).message


def test_normalizer_x_non_post_is_dead_lettered_as_unsupported_event() -> None:
    value = json.dumps(COMPLIANCE[0]).encode()
    out = decode_raw(value, topic="social.raw.v1", partition=0, offset=7, now=NOW)
    assert isinstance(out, DeadLetter)
    assert out.error_code is ErrorCode.UNSUPPORTED_EVENT and out.stage == "validate"
    assert "'delete'" in out.error_message


@pytest.mark.parametrize(
    "obj",
    [
        {"errors": []},
        {"errors": "rate limited"},
        {"errors": [{"nothing": "useful"}]},
        {"data": {"unknown_event": {}}},
        {"data": {"id": "1"}},
    ],
)
def test_normalizer_x_garbage_stays_unknown_shape(obj: dict[str, Any]) -> None:
    with pytest.raises(NormalizationError) as err:
        norm(obj)
    assert err.value.code is ErrorCode.UNKNOWN_SHAPE


def test_normalizer_x_partial_errors_with_data_are_still_posts() -> None:
    obj = load("retweet_expanded.json")
    obj["errors"] = ERRORS[0]["errors"]  # a lookup of two ids, one of them gone
    assert norm(obj).kind is EventKind.REPOST
