"""Social entities: hashtags, mentions, URLs, cashtags, emojis with Python str offsets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.social import emoji_name, extract_social, find_emojis

EMOJIS = [
    "👍",
    "👍🏽",  # skin tone
    "👨‍👩‍👧",  # ZWJ family
    "🏳️‍🌈",  # flag ZWJ with variation selector
    "🇪🇸",  # regional indicators
    "❤️",  # variation selector 16
    "🧑🏿‍💻",  # ZWJ + skin tone
    "#️⃣",  # keycap
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # tag sequence (Scotland)
]


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("I love #Spotify and #café_con_leche!", "hashtags", ("spotify", "café_con_leche")),
        ("#1 fan, C# dev, &#39; entity", "hashtags", ()),
        ("#Nike #nike #NIKE", "hashtags", ("nike",)),
        ("hi @Bob, @alice@mastodon.social and @carol.bsky.social.", "mentions",
         ("bob", "alice@mastodon.social", "carol.bsky.social")),
        ("mail me: bob@example.com", "mentions", ()),
        ("see https://example.com/a?b=1, (www.foo.org). ok", "urls", ("https://example.com/a?b=1", "www.foo.org")),
        ("wiki https://en.wikipedia.org/wiki/Foo_(bar) yes", "urls", ("https://en.wikipedia.org/wiki/Foo_(bar)",)),
        ("$AAPL up, $brk.b flat, paid $100 and $5k", "cashtags", ("AAPL", "BRK.B")),
        ("https://x.com/#tag @not_in_url", "hashtags", ()),
    ],
)
def test_social_extracts(text: str, field: str, expected: tuple[str, ...]) -> None:
    assert getattr(extract_social(text), field) == expected


@pytest.mark.parametrize("char", EMOJIS)
def test_social_emoji_sequences_are_one_emoji_with_offsets(char: str) -> None:
    text = f"a {char} b"
    (found,) = find_emojis(text)
    assert found.char == char and found.start == 2
    assert text[found.start : found.start + len(found.char)] == char
    assert found.name and found.name != "unknown emoji"


def test_social_emoji_names_are_readable() -> None:
    assert emoji_name("👍🏽") == "thumbs up medium skin tone"
    assert emoji_name("🇪🇸") == "Spain"
    assert emoji_name("❤️") == "red heart"


pieces = st.one_of(
    st.sampled_from(EMOJIS),
    st.sampled_from([" ", "#tag", "@user", "https://t.co/x", "$ABC", "café", "日本", "\u200d", "\ufe0f", "é"]),
    st.text(max_size=5),
)


@given(st.lists(pieces, max_size=12).map("".join))
def test_social_offsets_always_index_the_original_text(text: str) -> None:
    social = extract_social(text)
    end = 0
    for e in social.emojis:
        assert text[e.start : e.start + len(e.char)] == e.char
        assert e.start >= end  # ordered, non-overlapping
        end = e.start + len(e.char)
    for start, stop in social.spans:
        assert 0 <= start < stop <= len(text)
    for tag in social.hashtags:
        assert tag == tag.casefold()
