"""Named entities: gazetteer EntityRuler ahead of the statistical NER, label normalisation, clean-up.

Labels are mapped onto the enriched-event labels by the language's label map (processors/languages.py); labels
it does not map (DATE, MONEY, CARDINAL, ...) are dropped. Clean-up trims leading "@"/"#"
(the handle's name is the entity; the post's mentions/hashtags are listed separately), quotes,
punctuation and emojis from span edges, and drops spans with no letter or digit, spans with an
emoji inside, and spans inside a URL. Canonical form: casefold, collapse whitespace, strip a
possessive "'s", then resolve tracked aliases from the gazetteer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from processors.brand_queries import GazetteerEntry
from schemas.events import Entity

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

RULER_NAME = "gazetteer"
_EDGE_STRIP = "@#＠＃\"'“”‘’«»()[]{}<>.,;:!?¡¿*_~|/\\-–—…"
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_SPACES = re.compile(r"\s+")


def is_emoji_char(ch: str) -> bool:
    """Emoji, emoji components (ZWJ, variation selectors, skin tones, tags, keycap) and other symbols."""
    cp = ord(ch)
    if ch in "\u200d\ufe0f\ufe0e\u20e3" or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    return unicodedata.category(ch) == "So"


def canonical_form(text: str, aliases: Mapping[str, str] | None = None) -> str:
    form = _SPACES.sub(" ", text).strip().casefold()
    form = _POSSESSIVE.sub("", form) if len(form) > 2 else form
    if aliases:
        return aliases.get(form, aliases.get(text.casefold(), form))
    return form


def gazetteer_patterns(nlp: Language, entries: Iterable[GazetteerEntry]) -> list[dict[str, Any]]:
    """Case-insensitive aliases as phrase patterns (PhraseMatcher on LOWER: fast); case-sensitive ones as
    token patterns on ORTH. A multi-word alias is also matched written as one token ("#SpotifyWrapped")."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        for alias in entry.aliases:
            toks = [t.lower_ for t in nlp.make_doc(alias)]
            forms = dict.fromkeys([alias.casefold(), "".join(toks)] if len(toks) > 1 else [alias.casefold()])
            out.extend({"label": entry.label, "pattern": form, "id": entry.canonical} for form in forms)
        for alias in entry.case_sensitive:
            toks = [t.text for t in nlp.make_doc(alias)]
            patterns = [[{"ORTH": t} for t in toks]] + ([[{"ORTH": "".join(toks)}]] if len(toks) > 1 else [])
            out.extend({"label": entry.label, "pattern": p, "id": entry.canonical} for p in patterns)
    return out


def add_gazetteer(nlp: Language, entries: Sequence[GazetteerEntry]) -> None:
    """An EntityRuler named "gazetteer" ahead of "ner" (the statistical NER keeps its entities)."""
    if not entries:
        return
    where: dict[str, Any] = {"before": "ner"} if "ner" in nlp.pipe_names else {}
    config = {"overwrite_ents": True, "phrase_matcher_attr": "LOWER"}
    ruler = nlp.add_pipe("entity_ruler", name=RULER_NAME, config=config, **where)
    ruler.add_patterns(gazetteer_patterns(nlp, entries))  # type: ignore[attr-defined]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start] in _EDGE_STRIP or text[start].isspace() or is_emoji_char(text[start])):
        start += 1
    while end > start and (text[end - 1] in _EDGE_STRIP or text[end - 1].isspace() or is_emoji_char(text[end - 1])):
        end -= 1
    return start, end


def clean_span(text: str, start: int, end: int, url_spans: Sequence[tuple[int, int]] = ()) -> tuple[int, int] | None:
    """Trimmed (start, end) of a usable entity span in ``text``, or None to drop it."""
    start, end = _trim(text, start, end)
    if start >= end:
        return None
    surface = text[start:end]
    if not any(ch.isalnum() for ch in surface):
        return None
    if any(is_emoji_char(ch) for ch in surface):
        return None
    if "://" in surface or surface.casefold().startswith("www."):
        return None
    if any(us <= start < ue or us < end <= ue for us, ue in url_spans):
        return None
    return start, end


def entities_from_doc(
    doc: Doc,
    *,
    labels: Mapping[str, str],
    offset: int = 0,
    original: str | None = None,
    aliases: Mapping[str, str] | None = None,
    url_spans: Sequence[tuple[int, int]] = (),
) -> list[Entity]:
    """Entities of a Doc whose text is ``original[offset:offset + len(doc.text)]``; offsets index ``original``.
    ``labels``: the pipeline language's label map (``LanguageSpec.label_map``)."""
    text = doc.text if original is None else original
    out: list[Entity] = []
    seen: set[tuple[int, int]] = set()
    for ent in doc.ents:
        label = labels.get(ent.label_)
        if label is None:
            continue
        if not ent.ent_id_ and all(token.is_stop or token.is_punct for token in ent):
            continue  # "¿Qué", "The": statistical NER on social text tags bare function words
        span = clean_span(text, ent.start_char + offset, ent.end_char + offset, url_spans)
        if span is None or span in seen:
            continue
        seen.add(span)
        start, end = span
        surface = text[start:end]
        if ent.ent_id_:
            canonical, source = ent.ent_id_, "gazetteer"
        else:
            canonical, source = canonical_form(surface, aliases), "model"
        out.append(Entity(text=surface, label=label, canonical=canonical, start=start, end=end, source=source))
    return out


def split_sigils(nlp: Language) -> None:
    """Tokenise "@name" and "#tag" as "@" + "name" so NER sees the name (and spans can start after the sigil)."""
    from spacy.util import compile_prefix_regex

    prefixes = list(nlp.Defaults.prefixes or [])
    extra = [p for p in ("@", "#", "＠", "＃") if p not in prefixes]
    if extra:
        nlp.tokenizer.prefix_search = compile_prefix_regex(extra + prefixes).search  # type: ignore[union-attr]
