"""Mastodon (issue 18, defects 3, 5 and 6): replies join their parent, streaming frames are unwrapped, valid
non-posts are `unsupported_event`. Fixtures: tests/unit/fixtures/mastodon/*.jsonc, each citing its source
(docs.joinmastodon.org examples and Mastodon.py's recorded test-suite responses)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalizers import NormalizationError, detect_and_normalize, detect_network
from processors.normalizers.mastodon import parent_uri
from schemas import ErrorCode, EventKind, Network, RawEvent
from schemas.deadletter import DeadLetter
from streams.codec import decode_raw
from tests.unit.fixture_files import load_jsonc

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PARENT_URI = "http://localhost:3000/users/mastodonpy_test/statuses/109440142472665266"


def load(name: str) -> dict[str, Any]:
    return load_jsonc(f"mastodon/{name}")  # type: ignore[no-any-return]


def norm(obj: object) -> RawEvent:
    return detect_and_normalize(obj, now=NOW)


def frame(event: str, entity: object, stream: str = "user") -> dict[str, Any]:
    """A WebSocket frame as documented: the entity is JSON in the `payload` string."""
    payload = entity if isinstance(entity, str) else json.dumps(entity, ensure_ascii=False, separators=(",", ":"))
    return {"stream": [stream], "event": event, "payload": payload}


def unsupported(obj: object) -> str:
    with pytest.raises(NormalizationError) as info:
        norm(obj)
    assert info.value.code is ErrorCode.UNSUPPORTED_EVENT, info.value
    return info.value.message


# ------------------------------------------------------------------ defect 3: replies join their parent


def test_normalizer_mastodon_self_reply_joins_parent_on_same_instance() -> None:
    parent, reply = norm(load("status_parent.jsonc")), norm(load("status_self_reply.jsonc"))
    # Identity is unchanged: native_id is the status uri, so event_id (the dedup key) is what it was.
    assert parent.native_id == PARENT_URI and parent.event_id == f"mastodon:{PARENT_URI}"
    assert parent.kind is EventKind.POST and parent.thread_id == parent.native_id and parent.reply_to_id is None
    assert reply.kind is EventKind.REPLY
    assert reply.native_id == "http://localhost:3000/users/mastodonpy_test/statuses/109440142475488149"
    assert reply.reply_to_id == parent.native_id  # same id space: the reply joins its parent
    assert reply.thread_id is None  # a Status does not name its conversation's root


def test_normalizer_mastodon_reply_to_mentioned_local_author_joins_parent() -> None:
    """admin's status (a real mention) made a reply to mastodonpy_test's status: the parent's author is found
    among the mentions by `in_reply_to_account_id`, local to the instance, so the parent's uri is derived."""
    status = copy.deepcopy(load("notification_mention.jsonc")["status"])
    status.update(in_reply_to_id="109440142472665266", in_reply_to_account_id="109440137734600341")
    parent = norm(load("status_parent.jsonc"))
    assert norm(status).reply_to_id == parent.native_id
    status["mentions"] = []  # the author removed the mention: the parent's author is unknown
    e = norm(status)
    assert e.kind is EventKind.REPLY and e.reply_to_id is None


@pytest.mark.parametrize("name", ["status_reply_remote_parent.jsonc", "frame_update_public.jsonc"])
def test_normalizer_mastodon_reply_to_remote_parent_has_no_reply_to_id(name: str) -> None:
    """The parent is remote to the serving instance: its uri is on its home server under an id the payload does
    not hold, so reply_to_id is None rather than a local id that joins nothing."""
    e = norm(load(name))
    assert e.kind is EventKind.REPLY and e.reply_to_id is None and e.thread_id is None
    assert e.native_id.startswith("https://") and e.event_id == f"mastodon:{e.native_id}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "http://localhost:3000/users/mastodonpy_test"),  # Pleroma's profile url: unknown uri scheme
        ("url", "http://localhost:3000/@someone_else"),
        ("url", "http://localhost:3000/sub/@mastodonpy_test"),
        ("url", "mailto:x/@mastodonpy_test"),
        ("url", None),
        ("acct", "mastodonpy_test@elsewhere.example"),  # remote to the serving instance
    ],
)
def test_normalizer_mastodon_parent_uri_only_from_a_mastodon_local_author(field: str, value: object) -> None:
    status = load("status_self_reply.jsonc")
    assert parent_uri(status, status["account"]) == PARENT_URI
    status["account"][field] = value
    assert parent_uri(status, status["account"]) is None
    assert norm(status).reply_to_id is None


def test_normalizer_mastodon_parent_uri_rejects_odd_ids() -> None:
    status = load("status_self_reply.jsonc")
    status["in_reply_to_id"] = "1/../../x"
    assert parent_uri(status, status["account"]) is None
    status["in_reply_to_id"] = 109440142472665266  # a number, as some servers send ids
    assert parent_uri(status, status["account"]) == PARENT_URI


# ------------------------------------------------------------------ defect 5: streaming frames


def test_normalizer_mastodon_update_frame_is_its_status() -> None:
    obj = load("frame_update_public.jsonc")
    assert detect_network(obj) is Network.MASTODON
    e = norm(obj)
    assert e == norm(json.loads(obj["payload"]))
    assert e.native_id == "https://fosstodon.org/users/tobtobxx/statuses/108913983628474640"
    assert e.text.startswith("And now I can't exit the inner nvim") and e.author.handle == "tobtobxx@fosstodon.org"


def test_normalizer_mastodon_status_update_frame_is_the_edited_post() -> None:
    status = load("status_edited.jsonc")
    e = norm(frame("status.update", status, stream="hashtag:local"))
    assert e.kind is EventKind.POST and e.text == "#test but edited"
    assert e.event_id == "mastodon:https://mastodon.social/users/trwnh/statuses/108914430312582020"  # same as the post


def test_normalizer_mastodon_frame_payload_already_decoded_is_accepted() -> None:
    status = load("status_parent.jsonc")
    assert norm({"stream": ["public"], "event": "update", "payload": status}) == norm(status)


def test_normalizer_mastodon_notification_frame_mention_is_its_status() -> None:
    notification = load("notification_mention.jsonc")
    e = norm(frame("notification", notification))
    assert e == norm(notification["status"])


@pytest.mark.parametrize(
    ("obj", "named"),
    [
        (load("frame_delete.jsonc"), "'delete'"),
        (load("frame_filters_changed.jsonc"), "'filters_changed'"),
        (frame("conversation", load("conversation.jsonc"), stream="direct"), "'conversation'"),
        (frame("announcement", {"id": "1", "content": "<p>test</p>", "published_at": "2022-11-15T15:55:22.452Z"}),
         "'announcement'"),
        (frame("announcement.reaction", {"name": "🤔", "count": 1, "announcement_id": "1"}),
         "'announcement.reaction'"),
        (frame("announcement.delete", "1"), "'announcement.delete'"),
        (frame("notifications_merged", "{}"), "'notifications_merged'"),
        (frame("some.future_event", "{}"), "'some.future_event'"),
        (frame("notification", load("notification_follow.jsonc")), "'follow'"),
    ],
)
def test_normalizer_mastodon_non_post_frames_are_unsupported_events(obj: dict[str, Any], named: str) -> None:
    assert detect_network(obj) is Network.MASTODON
    assert named in unsupported(obj)


def test_normalizer_mastodon_delete_frame_names_the_deleted_status() -> None:
    assert "106692867363994015" in unsupported(load("frame_delete.jsonc"))


def test_normalizer_mastodon_frame_without_stream_key_is_recognised_by_event() -> None:
    obj = load("frame_update_public.jsonc")
    del obj["stream"]  # frames before Mastodon 3.3
    assert norm(obj).native_id.startswith("https://fosstodon.org/")
    assert detect_network({"event": "made_up", "payload": "x"}) is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (None, ErrorCode.MISSING_FIELD),
        (42, ErrorCode.WRONG_TYPE),
        ("{not json", ErrorCode.INVALID_JSON),
        ('{"id": NaN}', ErrorCode.INVALID_JSON),
        ("[" * 100_000, ErrorCode.INVALID_JSON),
        ("[1]", ErrorCode.WRONG_TYPE),
        ('"108914430312582020"', ErrorCode.WRONG_TYPE),
        ('{"id": "1"}', ErrorCode.MISSING_FIELD),
    ],
)
def test_normalizer_mastodon_bad_update_payload_is_a_coded_error(payload: object, code: ErrorCode) -> None:
    obj: dict[str, Any] = {"stream": ["public"], "event": "update"}
    if payload is not None:
        obj["payload"] = payload
    with pytest.raises(NormalizationError) as info:
        norm(obj)
    assert info.value.code is code


def test_normalizer_mastodon_frames_through_decode_raw() -> None:
    """What the worker sees: an update frame becomes the post, a delete frame a dead letter that says what it is."""

    def decode(obj: object) -> RawEvent | DeadLetter:
        return decode_raw(json.dumps(obj).encode(), topic="social.raw.v1", partition=0, offset=7, now=NOW)

    event = decode(load("frame_update_public.jsonc"))
    assert isinstance(event, RawEvent) and event.network is Network.MASTODON
    letter = decode(load("frame_delete.jsonc"))
    assert isinstance(letter, DeadLetter) and letter.error_code is ErrorCode.UNSUPPORTED_EVENT


# ------------------------------------------------------------------ defect 6: valid non-posts


def test_normalizer_mastodon_mention_notification_is_its_status() -> None:
    notification = load("notification_mention.jsonc")
    assert detect_network(notification) is Network.MASTODON
    e = norm(notification)
    assert e.native_id == "http://localhost:3000/users/admin/statuses/109440144213643619"
    assert e.kind is EventKind.POST and e.text == "@mastodonpy_test hello!" and e.author.handle == "admin"


def test_normalizer_mastodon_status_notification_is_its_status() -> None:
    notification = load("notification_mention.jsonc")
    notification["type"] = "status"
    assert norm(notification) == norm(notification["status"])


@pytest.mark.parametrize(
    "kind",
    ["follow", "favourite", "reblog", "poll", "follow_request", "admin.sign_up", "admin.report",
     "severed_relationships", "moderation_warning", "quote", "quoted_update", "something_new"],
)
def test_normalizer_mastodon_other_notifications_are_unsupported_events(kind: str) -> None:
    notification = load("notification_follow.jsonc")
    notification["type"] = kind
    if kind in ("favourite", "reblog", "poll", "quote", "quoted_update"):  # these carry a status
        notification["status"] = load("notification_mention.jsonc")["status"]
    assert detect_network(notification) is Network.MASTODON
    assert f"'{kind}' notification" in unsupported(notification)


def test_normalizer_mastodon_mention_notification_without_status_is_unsupported() -> None:
    notification = load("notification_mention.jsonc")
    notification["status"] = None
    assert "without a status" in unsupported(notification)


def test_normalizer_mastodon_conversation_and_direct_messages_are_unsupported() -> None:
    conversation = load("conversation.jsonc")
    assert detect_network(conversation) is Network.MASTODON
    assert "conversation" in unsupported(conversation)
    assert "direct message" in unsupported(conversation["last_status"])  # visibility: direct
    mention = load("notification_mention.jsonc")
    mention["status"]["visibility"] = "direct"  # a DM also arrives as a mention notification
    assert "direct message" in unsupported(mention)


def test_normalizer_mastodon_reblog_and_post_are_their_own_thread_roots() -> None:
    status = load("status_parent.jsonc")
    reblog = copy.deepcopy(status)
    reblog.update(id="109440150000000000", uri=f"{PARENT_URI}/activity", url=None, content="", reblog=status)
    e = norm(reblog)
    assert e.kind is EventKind.REPOST and e.reply_to_id == PARENT_URI
    assert e.thread_id == e.native_id == f"{PARENT_URI}/activity"
