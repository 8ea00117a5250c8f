"""Text normalisation and n-gram features shared by sentiment training and scoring.

The same ``analyze`` function is handed to scikit-learn at training time (tools/train_sentiment.py)
and used at scoring time (processors/sentiment.py), so the two cannot drift apart.
Feature strings: ``w:<token>`` (word unigram), ``b:<tok> <tok>`` (word bigram), ``c:<ngram>``
(character n-gram inside a space-padded word, like scikit-learn's ``char_wb``).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from processors.languages import language

_URL = re.compile(r"https?://\S*|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_ELONGATED = re.compile(r"(.)\1{2,}")
# a word (with an inner apostrophe), a run of !/?, an emoticon, or any other single non-space symbol
# (this keeps each emoji as a token of its own)
_TOKEN = re.compile(
    r"[:;=8][\-o']?[()\[\]dDpP/\\|*3]+"
    r"|<3"
    r"|\w+(?:['’]\w+)*"
    r"|[!?]+"
    r"|[^\w\s]",
    re.UNICODE,
)
_CLAUSE_END = frozenset(".,;:!?")


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How a text becomes features. Stored with each trained model (JSON) and checked on load."""

    word_ngrams: int = 2
    char_min: int = 2
    char_max: int = 5
    strip_accents: bool = False
    negation: bool = True
    lang: str = "en"

    def to_json(self) -> dict[str, object]:
        return {
            "word_ngrams": self.word_ngrams,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "strip_accents": self.strip_accents,
            "negation": self.negation,
            "lang": self.lang,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FeatureConfig:
        return cls(
            word_ngrams=int(str(data["word_ngrams"])),
            char_min=int(str(data["char_min"])),
            char_max=int(str(data["char_max"])),
            strip_accents=bool(data["strip_accents"]),
            negation=bool(data["negation"]),
            lang=str(data["lang"]),
        )


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str, *, strip_accents: bool = False) -> str:
    """TweetEval-style normalisation: @handles -> @user, URLs dropped, lower-case, elongations cut to 3."""
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = text.replace("’", "'").lower()
    text = _ELONGATED.sub(r"\1\1\1", text)
    if strip_accents:
        text = _strip_accents(text)
    return text


def tokenize(norm: str) -> list[str]:
    return _TOKEN.findall(norm)


def _negated(tokens: list[str], lang: str) -> list[str]:
    """Mark words after a negator up to the next clause punctuation (``not good`` -> ``good_NEG``).
    The language's negators, and in every language a word ending in "n't" (posts mix in English)."""
    negators = language(lang).negators
    out: list[str] = []
    active = False
    for tok in tokens:
        if tok[0] in _CLAUSE_END:
            active = False
            out.append(tok)
        elif active and tok[0].isalnum():
            out.append(tok + "_NEG")
        else:
            out.append(tok)
        if tok.replace("'", "") in negators or tok.endswith("n't"):
            active = True
    return out


def analyze(text: str, config: FeatureConfig) -> list[str]:
    """All feature strings of one text (with repeats: counts matter)."""
    norm = normalize(text, strip_accents=config.strip_accents)
    tokens = tokenize(norm)
    words = _negated(tokens, config.lang) if config.negation else tokens
    feats = ["w:" + w for w in words]
    if config.word_ngrams >= 2:
        feats.extend("b:" + a + " " + b for a, b in zip(words, words[1:], strict=False))
    lo, hi = config.char_min, config.char_max
    if hi >= lo > 0:
        for tok in norm.split():
            padded = " " + tok + " "
            n_chars = len(padded)
            for n in range(lo, hi + 1):
                if n > n_chars:
                    break
                feats.extend("c:" + padded[i : i + n] for i in range(n_chars - n + 1))
    return feats
