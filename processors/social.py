"""Social entities of a post: hashtags, @mentions, URLs, cashtags and emojis.

Offsets are Python ``str`` indices into the original text (code points, not UTF-16 units or bytes),
so ``text[start:start + len(char)] == char`` always holds for an emoji, including ZWJ sequences,
skin-tone modifiers, flags (regional-indicator pairs), keycaps and variation selectors, which the
``emoji`` package matches as one emoji each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import emoji

from schemas.events import EmojiMention

# A URL starts with a scheme or "www." and runs to whitespace; trailing sentence punctuation is not part of it.
URL_RE = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>\"'`\u201c\u201d\u2018\u2019]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"…)]}>"

# @handle, optionally with a federated instance (Mastodon: @alice@example.social) or dotted (Bluesky:
# @alice.bsky.social). Not preceded by a word character, "@" or "." (so e-mail addresses do not count).
MENTION_RE = re.compile(r"(?<![\w@.])[@＠](\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)+)?)")

# #hashtag with at least one letter ("#1" is not a hashtag); not preceded by a word char, "&" (HTML
# entity) or "#".
HASHTAG_RE = re.compile(r"(?<![\w&#])[#＃](\w*[^\W\d_]\w*)")

# $TICKER: 1-6 letters, optional class suffix ($BRK.B); "$100" is money, not a cashtag.
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w$])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    value: str  # the normalised value (lower-cased handle, URL, upper-cased ticker)


@dataclass(frozen=True)
class SocialEntities:
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    urls: tuple[str, ...]
    cashtags: tuple[str, ...]
    emojis: tuple[EmojiMention, ...]
    # character spans of URLs, mentions, hashtags, cashtags and emojis (for NER clean-up and language id)
    spans: tuple[tuple[int, int], ...]


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def find_urls(text: str) -> list[Span]:
    out: list[Span] = []
    for m in URL_RE.finditer(text):
        url = m.group(0)
        while url and url[-1] in _URL_TRAILING:
            # keep a closing bracket that closes one opened inside the URL (Wikipedia links)
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if len(url) > len("www.") and not url.lower().endswith("://"):
            out.append(Span(m.start(), m.start() + len(url), url))
    return out


def _outside(spans: list[Span], start: int) -> bool:
    return not any(s.start <= start < s.end for s in spans)


def find_mentions(text: str, urls: list[Span] | None = None) -> list[Span]:
    urls = find_urls(text) if urls is None else urls
    out = []
    for m in MENTION_RE.finditer(text):
        if _outside(urls, m.start()):
            out.append(Span(m.start(), m.end(), m.group(1).casefold()))
    return out


def find_hashtags(text: str, urls: list[Span] | None = None) -> list[Span]:
    urls = find_urls(text) if urls is None else urls
    out = []
    for m in HASHTAG_RE.finditer(text):
        if _outside(urls, m.start()):
            out.append(Span(m.start(), m.end(), m.group(1).casefold()))
    return out


def find_cashtags(text: str, urls: list[Span] | None = None) -> list[Span]:
    urls = find_urls(text) if urls is None else urls
    out = []
    for m in CASHTAG_RE.finditer(text):
        if _outside(urls, m.start()):
            out.append(Span(m.start(), m.end(), m.group(1).upper()))
    return out


def emoji_name(char: str) -> str:
    """CLDR short name of an emoji, e.g. "thumbs up: medium skin tone"; component names for unknown ZWJ sequences."""
    data = emoji.EMOJI_DATA.get(char)
    if data is None and char.endswith("\ufe0f"):
        data = emoji.EMOJI_DATA.get(char[:-1])
    if data is not None:
        return _clean_name(str(data["en"]))
    parts = [p for p in char.split("\u200d") if p]
    names = []
    for part in parts:
        d = emoji.EMOJI_DATA.get(part) or emoji.EMOJI_DATA.get(part.rstrip("\ufe0f"))
        if d is not None:
            names.append(_clean_name(str(d["en"])))
    return " + ".join(names) if names else "unknown emoji"


def _clean_name(raw: str) -> str:
    return raw.strip(":").replace("_", " ")


def find_emojis(text: str) -> list[EmojiMention]:
    return [
        EmojiMention(char=m["emoji"], name=emoji_name(m["emoji"]), start=m["match_start"])
        for m in emoji.emoji_list(text)
    ]


def extract_social(text: str) -> SocialEntities:
    urls = find_urls(text)
    mentions = find_mentions(text, urls)
    hashtags = find_hashtags(text, urls)
    cashtags = find_cashtags(text, urls)
    emojis = find_emojis(text) if not text.isascii() else []
    spans = [(s.start, s.end) for s in (*urls, *mentions, *hashtags, *cashtags)]
    spans.extend((e.start, e.start + len(e.char)) for e in emojis)
    return SocialEntities(
        hashtags=_unique([s.value for s in hashtags]),
        mentions=_unique([s.value for s in mentions]),
        urls=_unique([s.value for s in urls]),
        cashtags=_unique([s.value for s in cashtags]),
        emojis=tuple(emojis),
        spans=tuple(sorted(spans)),
    )
