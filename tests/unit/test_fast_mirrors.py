"""msgspec mirrors (schemas/fast.py): what a mirror accepts its pydantic model accepts, with equal values, and
read_enriched (the sink's decoder) answers exactly like decode_enriched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, field_validator

from schemas import EnrichedEvent
from schemas.base import Contract
from schemas.fast import mirror
from streams.codec import CodecError, decode_enriched, read_enriched
from streams.sinks.clickhouse.rows import event_row

ENRICHED_MIRROR = mirror(EnrichedEvent)
DECODER = msgspec.json.Decoder(ENRICHED_MIRROR)


def enriched_dict() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event": {
            "schema_version": 1, "event_id": "x:100", "network": "x", "native_id": "100", "kind": "reply",
            "author": {"id": "u1", "handle": "ana", "name": "Ana", "followers": 12},
            "text": "Nimbus X5 en Madrid 😍 #nimbus", "lang_hint": "es",
            "created_at": "2026-11-26T12:00:00.250000+01:00", "url": "https://x.com/ana/status/100",
            "thread_id": "99", "reply_to_id": None, "engagement": {"likes": 3, "reposts": 0, "replies": 1, "quotes": 0},
            "ingested_at": "2026-11-26T11:00:01Z",
        },
        "language": "es", "language_confidence": 0.97,
        "sentiment": {"label": "positive", "score": 0.8, "confidence": 0.9},
        "entities": [{"text": "Nimbus X5", "label": "PRODUCT", "canonical": "nimbus x5", "start": 0, "end": 9,
                      "source": "gazetteer"},
                     {"text": "Madrid", "label": "LOC", "canonical": "madrid", "start": 13, "end": 19}],
        "hashtags": ["nimbus"], "mentions": [], "urls": [], "cashtags": [],
        "emojis": [{"char": "😍", "name": "smiling face with heart-eyes", "start": 20}],
        "topics": ["nimbus"], "enricher_version": "test-1", "enriched_at": "2026-11-26T11:00:02.5Z",
    }


def as_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def as_model(value: Any) -> EnrichedEvent:
    return value if isinstance(value, EnrichedEvent) else EnrichedEvent.model_validate(msgspec.to_builtins(value))


def test_mirror_reads_a_valid_event_like_the_model_through_the_fast_path() -> None:
    data = as_bytes(enriched_dict())
    fast, model = read_enriched(data), decode_enriched(data)
    assert isinstance(fast, ENRICHED_MIRROR)
    assert as_model(fast) == model
    assert fast.event_id == model.event_id == "x:100"  # properties are mirrored
    assert fast.event.created_at == model.event.created_at  # same instant, offset kept
    assert fast.sentiment.label is model.sentiment.label  # enum members, so `is` comparisons still hold
    assert event_row(fast, partition=1, offset=2) == event_row(model, partition=1, offset=2)
    defaults = {k: v for k, v in enriched_dict().items() if k not in ("entities", "emojis", "hashtags", "topics")}
    del defaults["event"]["engagement"], defaults["event"]["author"]["followers"]
    assert as_model(read_enriched(as_bytes(defaults))) == decode_enriched(as_bytes(defaults))


def test_mirror_fields_and_defaults_are_the_models() -> None:
    assert ENRICHED_MIRROR.__struct_fields__ == tuple(EnrichedEvent.model_fields)
    raw_mirror = mirror(EnrichedEvent.model_fields["event"].annotation)  # type: ignore[arg-type]
    assert raw_mirror is type(DECODER.decode(as_bytes(enriched_dict())).event)
    assert raw_mirror.__struct_fields__ == tuple(EnrichedEvent.model_fields["event"].annotation.model_fields)  # type: ignore[union-attr]


@pytest.mark.parametrize("path, value", [
    (("event", "event_id"), "x:101"),  # the model validator: event_id = network:native_id
    (("event", "author", "id"), ""),  # min_length
    (("event", "author", "followers"), -1),  # ge on an optional int
    (("event", "lang_hint"), "x" * 17),  # max_length on an optional str
    (("event", "network"), "myspace"),  # enum
    (("event", "created_at"), "2026-11-26T11:00:00"),  # AwareDatetime
    (("sentiment", "score"), 1.5),
    (("entities", 0, "source"), "guess"),  # Literal
    (("emojis", 0, "start"), -3),
    (("schema_version",), 2),
    (("language",), None),
    (("hashtags",), "nimbus"),
])
def test_mirror_refuses_what_the_model_refuses_and_read_enriched_reports_the_models_error(path, value) -> None:
    obj = enriched_dict()
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    data = as_bytes(obj)
    with pytest.raises(msgspec.ValidationError):
        DECODER.decode(data)
    with pytest.raises(CodecError) as model_error:
        decode_enriched(data)
    with pytest.raises(CodecError) as read_error:
        read_enriched(data)
    assert (read_error.value.code, str(read_error.value)) == (model_error.value.code, str(model_error.value))


def test_read_enriched_falls_back_to_the_model_for_lax_input_and_refuses_unknown_fields() -> None:
    obj = enriched_dict()
    obj["event"]["author"]["followers"] = "12"  # pydantic's lax mode takes it, msgspec does not
    lax = read_enriched(as_bytes(obj))
    assert isinstance(lax, EnrichedEvent) and lax.event.author.followers == 12
    obj = enriched_dict()
    obj["event"]["extra"] = 1
    with pytest.raises(CodecError):
        read_enriched(as_bytes(obj))
    broken_utf8 = as_bytes(enriched_dict()).replace(b"Madrid", b"Madr\xc3d")
    surrogate = as_bytes(enriched_dict()).replace(b"Madrid", b"Madr\\ud800d")  # msgspec refuses it
    assert read_enriched(surrogate) == decode_enriched(surrogate)
    for bad in (None, b"", b"\xff", b"[1]", broken_utf8):
        with pytest.raises(CodecError) as model_error:
            decode_enriched(bad)
        with pytest.raises(CodecError) as read_error:
            read_enriched(bad)
        assert read_error.value.code is model_error.value.code


def test_mirror_refuses_to_build_what_it_cannot_check() -> None:
    class WithFieldValidator(Contract):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    class WithPattern(Contract):
        code: str = Field(pattern="^[a-z]+$")

    class WithModelValidatorUnknown(Contract):
        code: str

        from pydantic import model_validator as _mv

        @_mv(mode="after")
        def _check(self) -> WithModelValidatorUnknown:
            return self

    for model in (WithFieldValidator, WithPattern, WithModelValidatorUnknown):
        with pytest.raises(TypeError):
            mirror(model)


# Valid events with one leaf replaced, removed or an extra key added: the mirror never accepts more than the model.
LEAVES = [("event", "event_id"), ("event", "native_id"), ("event", "network"), ("event", "kind"), ("event", "text"),
          ("event", "author", "id"), ("event", "author", "followers"), ("event", "engagement", "likes"),
          ("event", "created_at"), ("event", "url"), ("language",), ("language_confidence",), ("sentiment", "label"),
          ("sentiment", "score"), ("entities", 0, "start"), ("entities", 1, "source"), ("emojis",), ("topics",),
          ("enriched_at",), ("schema_version",)]
values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.lists(st.text(max_size=5), max_size=2),
    st.sampled_from(["x", "reddit", "post", "2026-11-26T11:00:00Z", "2026-11-26T11:00:00", "12", "1.5",
                     "2026-11-26T11:00:00+05:30", "positive", "model", "100", "x:100", "2026-11-26"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(LEAVES), values, st.sampled_from(["set", "delete", "extra"])),
                min_size=1, max_size=3))
def test_mirror_accepts_nothing_the_model_refuses(mutations) -> None:
    obj = enriched_dict()
    for path, value, how in mutations:
        target = obj
        try:
            for step in path[:-1]:
                target = target[step]
            if how == "set":
                target[path[-1]] = value
            elif how == "delete":
                target.pop(path[-1], None)
            else:
                target["unexpected"] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the parent
    data = as_bytes(obj)
    try:
        fast = DECODER.decode(data)
    except msgspec.ValidationError:
        fast = None
    try:
        model = decode_enriched(data)
    except CodecError as exc:
        assert fast is None, f"mirror accepted what the model refused: {exc}"
        with pytest.raises(CodecError):
            read_enriched(data)
        return
    if fast is not None:
        assert as_model(fast) == model
    assert as_model(read_enriched(data)) == model


def test_decoded_datetimes_are_aware_and_equal() -> None:
    fast = DECODER.decode(as_bytes(enriched_dict()))
    assert fast.enriched_at == datetime(2026, 11, 26, 11, 0, 2, 500000, tzinfo=UTC)
