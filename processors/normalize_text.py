"""Text normalisation shared by language id, the duplicate cache and NLP.

Every function here keeps a way back to the original offsets: NLP runs on the *body* of a post
(the text without a leading "RT @user:" and surrounding whitespace), and its offsets are shifted
back by ``Body.offset`` so entity offsets always index ``RawEvent.text``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from processors.social import CASHTAG_RE, HASHTAG_RE, MENTION_RE, URL_RE

# "RT @user: " (classic retweet prefix), possibly repeated ("RT @a: RT @b: ...").
_RT_PREFIX = re.compile(r"^(?:\s*RT\s+[@＠][\w.\-@]+\s*:?\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Body:
    text: str  # what NLP sees, and the duplicate-cache key
    offset: int  # index of body.text[0] in the original text


def body_of(text: str) -> Body:
    """The post without a retweet prefix and without leading/trailing whitespace."""
    m = _RT_PREFIX.match(text)
    start = m.end() if m else 0
    rest = text[start:]
    stripped = rest.lstrip()
    start += len(rest) - len(stripped)
    return Body(stripped.rstrip(), start)


_SPACES = re.compile(r"\s+")
_KEEP = frozenset("'’ ¿¡?!.,")


def text_for_langid(text: str) -> str:
    """Drop what carries no language signal: URLs, @mentions, cashtags, emojis; hashtags keep their word.

    A hashtag word is often in the post's language (#huelga), but CamelCase brand tags are not, so
    only hashtags made of lowercase letters are kept, as plain words.
    """
    text = URL_RE.sub(" ", text)
    text = MENTION_RE.sub(" ", text)
    text = CASHTAG_RE.sub(" ", text)
    text = HASHTAG_RE.sub(lambda m: f" {m.group(1)} " if m.group(1).islower() else " ", text)
    # keep letters, combining marks and a little punctuation with signal (Spanish ¿ ¡); digits and
    # symbols (emoji, currency, ...) carry none
    text = "".join(ch if (ch in _KEEP or unicodedata.category(ch)[0] in "LM") else " " for ch in text)
    return _SPACES.sub(" ", text).strip()
