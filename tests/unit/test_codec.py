"""Codec: the bad-input table (one row per error code), limits, encoding and strict decoders."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import field_serializer

from processors.spikes import Bucket, DetectorConfig, Example, SeriesState, fold
from schemas import DeadLetter, EnrichedEvent, Entity, ErrorCode, RawEvent, Sentiment, SentimentLabel
from schemas.base import Contract
from schemas.events import EmojiMention
from streams.codec import (
    DEFAULT_LIMITS,
    CodecError,
    Limits,
    decode_dead_letter,
    decode_enriched,
    decode_raw,
    encode_model,
    make_dead_letter,
)
from streams.settings import REPO_ROOT
from streams.stages.enrich import pass_through

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "networks"
TOPIC = "social.raw.v1"


def raw_dict(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "x:100",
        "network": "x",
        "native_id": "100",
        "kind": "post",
        "author": {"id": "u1", "handle": "ana"},
        "text": "Nimbus X5 is great 😍",
        "created_at": "2026-11-26T11:00:00Z",
        "ingested_at": "2026-11-26T11:00:01Z",
    }
    base.update(overrides)
    return base


def as_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def decode(value: bytes | None, limits: Limits = DEFAULT_LIMITS, key: bytes | None = b"k") -> RawEvent | DeadLetter:
    return decode_raw(value, topic=TOPIC, partition=3, offset=42, key=key, now=NOW, limits=limits)


@pytest.mark.parametrize(
    ("value", "code", "stage"),
    [
        (None, ErrorCode.EMPTY_PAYLOAD, "decode"),
        (b"", ErrorCode.EMPTY_PAYLOAD, "decode"),
        (b"  \n", ErrorCode.EMPTY_PAYLOAD, "decode"),
        (b"\xff\xfe{}", ErrorCode.INVALID_UTF8, "decode"),
        (b'{"text": "caf\xe9"}', ErrorCode.INVALID_UTF8, "decode"),
        (b"{not json", ErrorCode.INVALID_JSON, "decode"),
        (b'{"a": NaN}', ErrorCode.INVALID_JSON, "decode"),
        (b"[" * 100_000 + b"]" * 100_000, ErrorCode.INVALID_JSON, "decode"),
        (b"[1, 2]", ErrorCode.NOT_AN_OBJECT, "decode"),
        (b'"a string"', ErrorCode.NOT_AN_OBJECT, "decode"),
        (b"null", ErrorCode.NOT_AN_OBJECT, "decode"),
        (b"{}", ErrorCode.UNKNOWN_SHAPE, "validate"),
        (b'{"foo": 1}', ErrorCode.UNKNOWN_SHAPE, "validate"),
        (as_bytes(raw_dict(network="tiktok", event_id="tiktok:100")), ErrorCode.UNKNOWN_NETWORK, "validate"),
        (as_bytes({k: v for k, v in raw_dict().items() if k != "text"}), ErrorCode.MISSING_FIELD, "validate"),
        (as_bytes(raw_dict(author={"handle": "x"})), ErrorCode.MISSING_FIELD, "validate"),
        (as_bytes(raw_dict(text=["a"])), ErrorCode.WRONG_TYPE, "validate"),
        (as_bytes(raw_dict(kind="story")), ErrorCode.INVALID_VALUE, "validate"),
        (as_bytes(raw_dict(event_id="x:999")), ErrorCode.INVALID_VALUE, "validate"),
        (as_bytes(raw_dict(text="a" * 10_001)), ErrorCode.TEXT_TOO_LONG, "validate"),
        (as_bytes(raw_dict(created_at="2026-11-26T14:00:00Z")), ErrorCode.TIMESTAMP_OUT_OF_RANGE, "validate"),
        (as_bytes(raw_dict(created_at="2001-01-01T00:00:00Z")), ErrorCode.TIMESTAMP_OUT_OF_RANGE, "validate"),
        (as_bytes(raw_dict(text="bell\x07")), ErrorCode.CONTROL_CHARACTERS, "validate"),
        (as_bytes(raw_dict(text="nul\x00")), ErrorCode.CONTROL_CHARACTERS, "validate"),
        (as_bytes(raw_dict(text="c1\x85")), ErrorCode.CONTROL_CHARACTERS, "validate"),
        (as_bytes(raw_dict(author={"id": "u1", "name": "esc\x1b[31m"})), ErrorCode.CONTROL_CHARACTERS, "validate"),
        (b'{"event_id": "x:100", "network": "x", "native_id": "100", "kind": "post", "author": {"id": "u"},'
         b' "text": "\\ud800", "created_at": "2026-11-26T11:00:00Z"}', ErrorCode.INVALID_UTF8, "decode"),
        ((FIXTURES / "bluesky_delete.json").read_bytes(), ErrorCode.UNSUPPORTED_EVENT, "validate"),
    ],
)
def test_codec_bad_input_becomes_dead_letter(value: bytes | None, code: ErrorCode, stage: str) -> None:
    out = decode(value)
    assert isinstance(out, DeadLetter), out
    assert out.error_code is code, out.error_message
    assert out.stage == stage
    assert out.original == (value or b"")
    assert out.dead_letter_id == "social.raw.v1:3:42"
    assert (out.source_topic, out.partition, out.offset) == (TOPIC, 3, 42)
    assert base64.b64decode(out.key_b64 or "") == b"k"
    assert out.failed_at == NOW and out.error_message
    # the dead letter itself always encodes
    assert DeadLetter.model_validate_json(encode_model(out)) == out


def test_codec_dead_letter_event_id_from_record_or_key() -> None:
    bad = decode(as_bytes(raw_dict(text="a" * 10_001)))
    assert isinstance(bad, DeadLetter) and bad.event_id == "x:100"
    no_id = decode(b"{}", key=b"reddit:t1_abc")
    assert isinstance(no_id, DeadLetter) and no_id.event_id == "reddit:t1_abc"
    binary_key = decode(b"{}", key=b"\xff")
    assert isinstance(binary_key, DeadLetter) and binary_key.event_id is None and binary_key.key_b64 == "/w=="


def test_codec_allowed_whitespace_and_clean_input() -> None:
    ok = decode(as_bytes(raw_dict(text="line1\nline2\ttab\r\n👩‍💻 🏳️‍🌈 🇪🇸")))
    assert isinstance(ok, RawEvent)
    assert ok.text.endswith("🇪🇸")


def test_codec_utf8_bom_is_accepted() -> None:
    assert isinstance(decode(b"\xef\xbb\xbf" + as_bytes(raw_dict())), RawEvent)


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("*.json") if p.name not in {"bluesky_delete.json"}
           and "page" not in p.name and "listing" not in p.name),
)
def test_codec_decodes_network_payloads(name: str) -> None:
    out = decode((FIXTURES / name).read_bytes())
    assert isinstance(out, RawEvent), out
    assert out.ingested_at == NOW


def test_codec_limits_are_configurable() -> None:
    old = as_bytes(raw_dict(created_at="2001-01-01T00:00:00Z"))
    assert isinstance(decode(old, Limits(max_past=timedelta(days=365 * 30))), RawEvent)
    recent = as_bytes(raw_dict(created_at="2026-10-01T00:00:00Z"))
    assert isinstance(decode(recent), RawEvent)
    live = decode(recent, Limits(max_past=timedelta(days=30)))
    assert isinstance(live, DeadLetter) and live.error_code is ErrorCode.TIMESTAMP_OUT_OF_RANGE
    future = as_bytes(raw_dict(created_at="2026-11-26T12:59:00Z"))
    assert isinstance(decode(future), RawEvent)
    assert isinstance(decode(future, Limits(max_future=timedelta(minutes=5))), DeadLetter)
    assert isinstance(decode(as_bytes(raw_dict(text="abc")), Limits(max_text_chars=3)), RawEvent)
    assert isinstance(decode(as_bytes(raw_dict(text="abcd")), Limits(max_text_chars=3)), DeadLetter)
    assert isinstance(decode(as_bytes(raw_dict(text="\x07")), Limits(reject_control_characters=False)), RawEvent)
    with pytest.raises(ValueError):
        Limits(max_text_chars=0)


def test_codec_duplicate_event_ids_are_not_errors() -> None:
    value = as_bytes(raw_dict())
    first, second = decode(value), decode(value)
    assert isinstance(first, RawEvent) and first == second


def test_codec_encode_model_is_compact_utf8_without_faust_metadata() -> None:
    event = decode(as_bytes(raw_dict()))
    assert isinstance(event, RawEvent)
    data = encode_model(event)
    assert b"__faust" not in data and b", " not in data and b": " not in data
    assert "😍".encode() in data
    assert RawEvent.model_validate_json(data) == event
    again = decode(data)
    assert again == event  # re-decoding our own encoding is lossless (ingested_at is kept)


def test_codec_decode_enriched_round_trip_and_errors() -> None:
    event = decode(as_bytes(raw_dict()))
    assert isinstance(event, RawEvent)
    enriched = EnrichedEvent(
        event=event,
        language="en",
        language_confidence=0.98,
        sentiment=Sentiment(label=SentimentLabel.POSITIVE, score=0.8),
        hashtags=("nimbus",),
        enricher_version="test-1",
        enriched_at=NOW,
    )
    assert decode_enriched(encode_model(enriched)) == enriched
    with pytest.raises(CodecError) as err:
        decode_enriched(b"\xff")
    assert err.value.code is ErrorCode.INVALID_UTF8
    with pytest.raises(CodecError) as err:
        decode_enriched(encode_model(event))
    assert err.value.code is ErrorCode.MISSING_FIELD


def test_codec_make_dead_letter_round_trips() -> None:
    dl = make_dead_letter(
        b"\x00\x01raw", topic="social.enriched.v1", partition=0, offset=7, key=None,
        code=ErrorCode.ENRICHMENT_FAILED, message="spaCy exploded", stage="enrich", now=NOW, event_id="x:1",
    )
    assert dl.original == b"\x00\x01raw" and dl.key_b64 is None
    assert decode_dead_letter(encode_model(dl)) == dl


def test_codec_fast_path_gives_the_same_event_as_the_full_path() -> None:
    complete = json.dumps(raw_dict()).encode()
    without_ingested_at = json.dumps({k: v for k, v in raw_dict().items() if k != "ingested_at"}).encode()
    fast = decode_raw(complete, topic=TOPIC, partition=0, offset=0, now=NOW)
    full = decode_raw(without_ingested_at, topic=TOPIC, partition=0, offset=1, now=NOW)
    assert isinstance(fast, RawEvent) and isinstance(full, RawEvent)
    assert fast.model_copy(update={"ingested_at": NOW}) == full
    assert fast.ingested_at == datetime(2026, 11, 26, 11, 0, 1, tzinfo=UTC)


def test_codec_fast_path_still_applies_the_limits_and_names_the_event() -> None:
    value = json.dumps(raw_dict(text="x" * 50)).encode()
    out = decode_raw(value, topic=TOPIC, partition=0, offset=0, now=NOW, limits=Limits(max_text_chars=10))
    assert isinstance(out, DeadLetter)
    assert (out.error_code, out.event_id) == (ErrorCode.TEXT_TOO_LONG, "x:100")


def test_codec_encode_model_writes_what_pydantic_writes() -> None:
    lines = (REPO_ROOT / "data" / "sample" / "posts.jsonl").read_bytes().splitlines()
    raws = [e for e in (decode(line) for line in lines) if isinstance(e, RawEvent)]
    assert len(raws) > 900
    models: list[Any] = list(raws)
    for event in raws[:50]:  # pass_through builds the msgspec mirror: it encodes like the model
        fast = pass_through(event, NOW)
        model = EnrichedEvent.model_validate_json(encode_model(fast))
        assert encode_model(fast) == model.model_dump_json().encode("utf-8")
        models.append(model)
    offset = datetime(2026, 11, 26, 12, 0, 0, 123, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    models.append(EnrichedEvent(
        event=raws[0].model_copy(update={"created_at": offset}), language="es", language_confidence=1,
        sentiment=Sentiment(label=SentimentLabel.NEGATIVE, score=-0.123456789, confidence=1e-7),
        entities=(Entity(text="Nimbus", label="PRODUCT", canonical="nimbus", start=0, end=6, source="gazetteer"),),
        emojis=(EmojiMention(char="😍", name="smiling face with heart-eyes", start=7),), hashtags=("ñandú",),
        enricher_version="t", enriched_at=NOW))
    models.append(make_dead_letter(b"\xff\x00", topic=TOPIC, partition=1, offset=2, key=None,
                                   code=ErrorCode.INVALID_UTF8, message="bad \"bytes\"\n", stage="decode", now=NOW))
    state = SeriesState()
    for i, count in enumerate([10] * 30 + [90]):
        bucket = Bucket("topic", "nimbus", NOW + timedelta(minutes=i), count=count, negative=count // 2,
                        sentiment_sum=-0.3 * count, terms={("term", "outage"): count // 3},
                        examples=(Example(f"x:{i}", f"post {i} 😡"),), negative_examples=())
        state, alerts = fold(state, bucket, DetectorConfig(), detected_at=NOW)
        models += alerts
    assert any(type(m).__name__ == "Alert" for m in models)
    for model in models:
        assert encode_model(model) == model.model_dump_json().encode("utf-8")


def test_codec_encode_model_uses_pydantic_for_models_with_serializers() -> None:
    class Shouting(Contract):
        word: str

        @field_serializer("word")
        def _upper(self, value: str) -> str:
            return value.upper()

    class Holder(Contract):
        inner: Shouting
        at: datetime

    holder = Holder(inner=Shouting(word="hola"), at=NOW)
    assert encode_model(holder) == holder.model_dump_json().encode("utf-8")
    assert b"HOLA" in encode_model(holder)
    with pytest.raises(TypeError):
        encode_model(object())  # type: ignore[arg-type]
