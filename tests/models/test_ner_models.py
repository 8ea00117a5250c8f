"""The committed fine-tuned English NER (processors/trained/ner_en) and the fast profile (marker `models`)."""

from __future__ import annotations

import pytest

from processors.languages import TRAINED_DIR, language
from processors.models import load_spacy_ner
from processors.ner import entities_from_doc

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return load_spacy_ner("en", "fast")


def test_ner_trained_model_is_committed_and_small() -> None:
    path = TRAINED_DIR / "ner_en"
    assert (path / "config.cfg").exists() and (path / "meta.json").exists()
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    assert size < 15_000_000


def test_ner_fast_profile_uses_the_trained_model(nlp) -> None:  # type: ignore[no-untyped-def]
    assert nlp.meta["name"] == "ner_social"
    assert nlp.pipe_names == ["ner"]
    assert set(nlp.get_pipe("ner").labels) >= {"PERSON", "ORG", "LOC", "PRODUCT", "WORK_OF_ART"}


@pytest.mark.parametrize(
    ("text", "entity", "label"),
    [
        ("RT @BarackObama : thank you to everyone who voted in Chicago tonight", "BarackObama", "PERSON"),
        ("Just landed in London , can't wait to see Taylor Swift tomorrow", "Taylor Swift", "PERSON"),
        ("Just landed in London , can't wait to see Taylor Swift tomorrow", "London", "LOC"),
    ],
)
def test_ner_finds_entities_in_tweets(nlp, text: str, entity: str, label: str) -> None:  # type: ignore[no-untyped-def]
    found = {(e.text, e.label) for e in entities_from_doc(nlp(text), labels=language("en").label_map)}
    assert (entity, label) in found
