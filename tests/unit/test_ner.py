"""NER clean-up, label normalisation, canonical forms and the gazetteer (spacy.blank + EntityRuler)."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Span

from processors.brand_queries import GazetteerEntry
from processors.languages import language
from processors.ner import (
    add_gazetteer,
    canonical_form,
    clean_span,
    entities_from_doc,
    split_sigils,
)

EN_LABELS = language("en").label_map

ENTRIES = (
    GazetteerEntry("spotify", "ORG", ("Spotify", "Spotify Wrapped")),
    GazetteerEntry("tidal", "ORG", (), ("Tidal",)),
)


@pytest.fixture
def nlp() -> spacy.Language:
    pipeline = spacy.blank("en")
    split_sigils(pipeline)
    add_gazetteer(pipeline, ENTRIES)
    return pipeline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Nike", "Nike"),
        ("#Nike!", "Nike"),
        ('"Nike"', "Nike"),
        ("Nike 👟", "Nike"),
        ("👍🏽", None),
        ("!!!", None),
        ("https://nike.com", None),
        ("Nike👟Store", None),  # emoji inside: not an entity
        ("U2", "U2"),
    ],
)
def test_ner_clean_span(text: str, expected: str | None) -> None:
    span = clean_span(text, 0, len(text))
    assert (text[span[0] : span[1]] if span else None) == expected


def test_ner_clean_span_drops_spans_inside_urls() -> None:
    text = "see example.org/Nike now"
    assert clean_span(text, 16, 20, url_spans=[(4, 20)]) is None


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("Spotify's", "spotify"), ("Elon  Musk", "elon musk"), ("STRASSE", "strasse"), ("Spotify Premium", "spotify")],
)
def test_ner_canonical_form(text: str, canonical: str) -> None:
    assert canonical_form(text, {"spotify premium": "spotify"}) == canonical


def test_ner_gazetteer_matches_case_insensitive_and_hashtag_forms(nlp: spacy.Language) -> None:
    doc = nlp("loving SPOTIFY wrapped and #SpotifyWrapped, not a tidal wave but Tidal")
    ents = entities_from_doc(doc, labels=EN_LABELS)
    found = [(e.text, e.canonical, e.source) for e in ents]
    assert ("SPOTIFY wrapped", "spotify", "gazetteer") in found
    assert ("SpotifyWrapped", "spotify", "gazetteer") in found
    assert ("Tidal", "tidal", "gazetteer") in found
    assert all(e.text != "tidal" for e in ents)  # case-sensitive alias
    for e in ents:
        assert doc.text[e.start : e.end] == e.text


def test_ner_split_sigils_tokenises_handles(nlp: spacy.Language) -> None:
    tokens = [t.text for t in nlp.make_doc("@Spotify #Tidal bob@mail.com")]
    assert tokens == ["@", "Spotify", "#", "Tidal", "bob@mail.com"]


def test_ner_labels_are_normalised_and_numeric_labels_dropped() -> None:
    nlp = spacy.blank("en")
    doc = nlp.make_doc("Apple opened in Paris on Monday for $5 @Bob")
    doc.ents = [
        Span(doc, 0, 1, label="ORG"),
        Span(doc, 3, 4, label="GPE"),
        Span(doc, 5, 6, label="DATE"),
        Span(doc, 7, 9, label="MONEY"),
        Span(doc, 9, 10, label="PERSON"),
    ]
    ents = entities_from_doc(doc, labels=EN_LABELS, offset=0)
    assert [(e.text, e.label, e.source) for e in ents] == [
        ("Apple", "ORG", "model"),
        ("Paris", "LOC", "model"),
        ("Bob", "PERSON", "model"),
    ]
    assert ents[-1].start == doc.text.index("Bob")


def test_ner_offsets_shift_into_the_original_text() -> None:
    nlp = spacy.blank("en")
    original = "RT @x: Apple rocks"
    doc = nlp.make_doc("Apple rocks")
    doc.ents = [Span(doc, 0, 1, label="ORG")]
    (ent,) = entities_from_doc(doc, labels=EN_LABELS, offset=7, original=original)
    assert original[ent.start : ent.end] == "Apple"


def test_ner_drops_model_entities_made_only_of_stop_words():
    import spacy
    from spacy.tokens import Span

    from processors.ner import entities_from_doc

    nlp = spacy.blank("es")
    doc = nlp("¿Qué pasa con Madrid hoy?")
    doc.ents = [Span(doc, 1, 2, label="LOC"), Span(doc, 4, 5, label="LOC")]
    assert [e.text for e in entities_from_doc(doc, labels=language("es").label_map)] == ["Madrid"]
