"""Brand queries: the query language (parser, matching semantics, errors with positions) and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.brand_queries import (
    DEFAULT_BRAND_QUERIES_PATH,
    And,
    BrandQueryConfigError,
    MatchContext,
    Not,
    Or,
    QueryError,
    build_brand_queries,
    load_brand_queries,
    parse_query,
)
from processors.social import extract_social

REPO = Path(__file__).resolve().parents[2]


def ctx(text: str, language: str = "en") -> MatchContext:
    s = extract_social(text)
    return MatchContext.build(text, hashtags=s.hashtags, mentions=s.mentions, cashtags=s.cashtags, language=language)


@pytest.mark.parametrize(
    ("query", "text", "lang", "expected"),
    [
        ("nike", "I love NIKE shoes", "en", True),
        ("nike", "nikes are great", "en", False),  # word boundary
        ("nike*", "nikes are great", "en", True),  # prefix
        ("nike", "#Nike rocks", "en", True),  # a term also matches inside hashtags / mentions
        ("#nike", "nike rocks", "en", False),  # a hashtag only matches hashtags
        ("#nike", "go #NIKE", "en", True),
        ("@nike", "hey @Nike!", "en", True),
        ("$AAPL", "buy $aapl now", "en", True),
        ('"coca cola"', "Coca   Cola zero", "en", True),
        ('"coca cola"', "cola coca", "en", False),
        ("nike AND adidas", "nike vs adidas", "en", True),
        ("nike adidas", "nike only", "en", False),  # implicit AND
        ("nike OR adidas", "adidas only", "en", True),
        ("nike AND NOT adidas", "nike vs adidas", "en", False),
        ("nike -adidas", "nike alone", "en", True),
        ("nike and not adidas", "nike alone", "en", True),  # operators are case-insensitive
        ('"and"', "this and that", "en", True),
        ("(nike OR adidas) AND lang:es", "me gusta nike", "es", True),
        ("(nike OR adidas) AND lang:es", "I like nike", "en", False),
        ("NOT NOT nike", "nike", "en", True),
        ("e-mail", "send an e-mail", "en", True),
        ("café", "un CAFÉ por favor", "es", True),
        ("a OR b AND c", "a", "en", True),  # AND binds tighter than OR
        ("(a OR b) AND c", "a", "en", False),
    ],
)
def test_brand_queries_query_matches(query: str, text: str, lang: str, expected: bool) -> None:
    assert parse_query(query).matches(ctx(text, lang)) is expected


def test_brand_queries_precedence_shape() -> None:
    expr = parse_query("a OR b c OR NOT d")
    assert isinstance(expr, Or)
    assert isinstance(expr.operands[1], And) and isinstance(expr.operands[2], Not)


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("", 0, "empty query"),
        ("nike AND", 8, "unexpected end"),
        ("(nike OR adidas", 15, "expected ')'"),
        ("nike)", 4, "unexpected ')'"),
        ('nike "just do', 5, "unterminated"),
        ("nike OR OR adidas", 8, "expected a term"),
        ("()", 1, "empty parentheses"),
        ("lang:", 0, "language code"),
        ("# nike", 0, "hashtag"),
        ('""', 0, "empty quoted phrase"),
        ("ni*ke", 0, "invalid term"),
    ],
)
def test_brand_queries_bad_queries_report_position(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert "^" in str(info.value)


def test_brand_queries_config_rejects_bad_entries() -> None:
    with pytest.raises(BrandQueryConfigError, match="bad query"):
        build_brand_queries({"brand_queries": [{"name": "x", "query": "a AND"}]})
    with pytest.raises(BrandQueryConfigError, match="name"):
        build_brand_queries({"brand_queries": [{"name": "Bad Name", "query": "a"}]})
    with pytest.raises(BrandQueryConfigError, match="duplicate"):
        build_brand_queries({"brand_queries": [{"name": "a", "query": "a"}, {"name": "a", "query": "b"}]})
    with pytest.raises(BrandQueryConfigError, match="kind must be one of brand, competitor, theme"):
        build_brand_queries({"brand_queries": [{"name": "a", "kind": "topic", "query": "a"}]})
    with pytest.raises(BrandQueryConfigError, match="label"):
        build_brand_queries({"gazetteer": [{"canonical": "x", "label": "DATE", "aliases": ["x"]}]})


def test_brand_queries_a_file_in_the_old_topics_format_says_what_changed() -> None:
    with pytest.raises(BrandQueryConfigError, match="now called 'brand_queries' \\(was 'topics'\\)"):
        build_brand_queries({"topics": [{"name": "a", "query": "a"}]})


def test_brand_queries_shipped_config_loads_and_matches() -> None:
    assert DEFAULT_BRAND_QUERIES_PATH == REPO / "config" / "brand_queries.yaml"
    config = load_brand_queries()
    names = set(config.names())
    assert {"spotify", "apple_music", "tidal", "streaming_prices"} <= names
    assert "spotify" in config.names("brand") and "streaming_prices" not in config.names("brand", "competitor")
    assert config.match(ctx("Spotify Wrapped is out!")) == ("spotify",)
    assert "tidal" not in config.match(ctx("a tidal wave of music"))
    assert "tidal" in config.match(ctx("switching to Tidal for hifi music"))
    assert config.alias_map()["spotify premium"] == "spotify"


QUERY_PIECES = st.sampled_from([*'ab "()#@$-*:é', " AND ", " OR ", " NOT ", "lang:", "lang:es"])


@given(st.lists(QUERY_PIECES, max_size=15).map("".join))
def test_brand_queries_parser_only_raises_query_error(query: str) -> None:
    try:
        expr = parse_query(query)
    except QueryError as e:
        assert 0 <= e.position <= len(query)
    else:
        expr.matches(ctx("a b é #a @b"))
