"""Property tests: decode_raw never raises; it returns a valid RawEvent or a DeadLetter with the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DeadLetter, ErrorCode, RawEvent
from streams.codec import Limits, decode_raw, encode_model

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LIMITS = Limits()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)

# Objects close to the real shapes, so the validators (not just the parser) get exercised.
field_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**70), st.text(max_size=30),
    st.sampled_from(["x", "mastodon", "reddit", "post", "reply", "2026-11-26T11:00:00Z", "t1", "commit"]),
    st.dictionaries(st.sampled_from(["id", "handle", "name", "followers"]), st.text(max_size=5), max_size=3),
)
raw_like = st.fixed_dictionaries(
    {},
    optional={
        k: field_values
        for k in ["event_id", "network", "native_id", "kind", "author", "text", "created_at", "ingested_at",
                  "lang_hint", "data", "includes", "did", "commit", "account", "content", "id", "snippet"]
    },
)


def check(value: bytes | None) -> None:
    out = decode_raw(value, topic="social.raw.v1", partition=0, offset=1, key=None, now=NOW, limits=LIMITS)
    assert isinstance(out, RawEvent | DeadLetter)
    encoded = encode_model(out)  # always writable
    # read_only (pass-through) may decode into the msgspec mirror: same outcome, same bytes when written again
    assert encode_model(decode_raw(value, topic="social.raw.v1", partition=0, offset=1, key=None, now=NOW,
                                   limits=LIMITS, read_only=True)) == encoded
    if isinstance(out, DeadLetter):
        assert out.original == (value or b"")
        assert isinstance(out.error_code, ErrorCode)
        assert DeadLetter.model_validate_json(encoded) == out
    else:
        assert RawEvent.model_validate_json(encoded) == out
        assert len(out.text) <= LIMITS.max_text_chars


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_codec_properties_arbitrary_bytes(value: bytes) -> None:
    check(value)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_codec_properties_arbitrary_json(obj: Any) -> None:
    check(json.dumps(obj).encode("utf-8"))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw_like)
def test_codec_properties_near_raw_event_objects(obj: dict[str, Any]) -> None:
    check(json.dumps(obj).encode("utf-8"))


@settings(max_examples=200)
@given(st.text(max_size=200), st.booleans())
def test_codec_properties_arbitrary_text_field(text: str, complete: bool) -> None:
    # complete: a whole RawEvent, which takes decode_raw's one-pass fast path; else the full path fills ingested_at
    obj = {"event_id": "x:1", "network": "x", "native_id": "1", "kind": "post", "author": {"id": "a"},
           "text": text, "created_at": "2026-11-26T11:00:00Z"}
    if complete:
        obj["ingested_at"] = "2026-11-26T11:00:01Z"
    value = json.dumps(obj).encode("utf-8")  # ensure_ascii: lone surrogates become \ud800 escapes
    out = decode_raw(value, topic="t", partition=0, offset=0, key=None, now=NOW)
    fast = decode_raw(value, topic="t", partition=0, offset=0, key=None, now=NOW, read_only=True)
    assert encode_model(fast) == encode_model(out)
    if isinstance(out, RawEvent):
        assert out.text == text
    else:
        assert out.error_code in {ErrorCode.CONTROL_CHARACTERS, ErrorCode.INVALID_UTF8}
