"""Brand queries: what the enricher matches every post against (the brand, its competitors, themes around
them), written in a small boolean query language, and their configuration file (config/brand_queries.yaml).

A post's matches are published as ``EnrichedEvent.topics`` (a legacy field name, see schemas/events.py).

Grammar (operators are case-insensitive; quote a word to search for "and", "or" or "not")::

    query    := or_expr EOF
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*          # juxtaposition is AND
    unary    := ("NOT" | "-") unary | primary
    primary  := "(" or_expr ")" | PHRASE | TERM | HASHTAG | MENTION | CASHTAG | "lang:" CODE
    PHRASE   := '"' ... '"'                     # words in order, any whitespace between them
    TERM     := word, optionally ending in "*" (prefix match)
    HASHTAG  := "#" word    MENTION := "@" handle    CASHTAG := "$" ticker

Terms and phrases match case-insensitively on word boundaries anywhere in the text ("nike" also
matches "#Nike" and "@nike"); #tag, @handle and $TICKER match only the post's hashtags, mentions and
cashtags; ``lang:es`` matches the detected language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from schemas.events import ENTITY_LABELS


class QueryError(ValueError):
    """A query that does not parse; ``position`` is the 0-based character index of the problem."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position}\n  {query}\n  {' ' * position}^")


class BrandQueryConfigError(ValueError):
    pass


# --- the post a query is evaluated on -------------------------------------------------------


@dataclass(frozen=True)
class MatchContext:
    text: str  # casefolded
    hashtags: frozenset[str] = frozenset()  # lower-cased, no "#"
    mentions: frozenset[str] = frozenset()
    cashtags: frozenset[str] = frozenset()  # upper-cased, no "$"
    language: str = "und"

    @staticmethod
    def build(
        text: str,
        *,
        hashtags: Iterable[str] = (),
        mentions: Iterable[str] = (),
        cashtags: Iterable[str] = (),
        language: str = "und",
    ) -> MatchContext:
        return MatchContext(
            text.casefold(),
            frozenset(h.casefold() for h in hashtags),
            frozenset(m.casefold() for m in mentions),
            frozenset(c.upper() for c in cashtags),
            language,
        )


# --- AST ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A term or phrase, compiled to a word-boundary regex over the casefolded text."""

    source: str
    pattern: re.Pattern[str] = field(compare=False)

    def matches(self, ctx: MatchContext) -> bool:
        return self.pattern.search(ctx.text) is not None


@dataclass(frozen=True)
class Tag:
    kind: Literal["hashtag", "mention", "cashtag"]
    value: str

    def matches(self, ctx: MatchContext) -> bool:
        if self.kind == "hashtag":
            return self.value in ctx.hashtags
        if self.kind == "mention":
            return self.value in ctx.mentions
        return self.value in ctx.cashtags


@dataclass(frozen=True)
class Lang:
    code: str

    def matches(self, ctx: MatchContext) -> bool:
        return ctx.language == self.code


@dataclass(frozen=True)
class Not:
    operand: Expr

    def matches(self, ctx: MatchContext) -> bool:
        return not self.operand.matches(ctx)


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]

    def matches(self, ctx: MatchContext) -> bool:
        return all(o.matches(ctx) for o in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]

    def matches(self, ctx: MatchContext) -> bool:
        return any(o.matches(ctx) for o in self.operands)


Expr = Text | Tag | Lang | Not | And | Or


# --- lexer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: Literal["(", ")", "AND", "OR", "NOT", "PHRASE", "TERM", "HASHTAG", "MENTION", "CASHTAG", "LANG", "EOF"]
    value: str
    pos: int


_WORD_CHARS = re.compile(r"[^\s()\"]+")
_TAG_VALUE = {
    "#": re.compile(r"\w+"),
    "@": re.compile(r"\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)+)?"),
    "$": re.compile(r"[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?"),
}
_TAG_KIND: dict[str, Literal["HASHTAG", "MENTION", "CASHTAG"]] = {"#": "HASHTAG", "@": "MENTION", "$": "CASHTAG"}
_OPERATORS: dict[str, Literal["AND", "OR", "NOT"]] = {"and": "AND", "or": "OR", "not": "NOT"}
_LANG_RE = re.compile(r"lang:([a-z]{2,3})", re.IGNORECASE)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, ch, i))  # type: ignore[arg-type]
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("unterminated quoted phrase", query, i)
            phrase = query[i + 1 : end].strip()
            if not any(c.isalnum() for c in phrase):
                raise QueryError("empty quoted phrase", query, i)
            tokens.append(Token("PHRASE", phrase, i))
            i = end + 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace() and (not tokens or _starts_operand(query, i)):
            tokens.append(Token("NOT", "-", i))
            i += 1
        elif ch in _TAG_VALUE:
            m = _TAG_VALUE[ch].match(query, i + 1)
            if m is None:
                raise QueryError(f"expected a {_TAG_KIND[ch].lower()} after {ch!r}", query, i)
            end = m.end()
            if end < n and not (query[end].isspace() or query[end] in '()"'):
                raise QueryError(f"unexpected character {query[end]!r} in {_TAG_KIND[ch].lower()}", query, end)
            tokens.append(Token(_TAG_KIND[ch], m.group(0), i))
            i = end
        else:
            m = _WORD_CHARS.match(query, i)
            assert m is not None  # ch is neither space, parenthesis nor quote
            word = m.group(0)
            lang = _LANG_RE.fullmatch(word)
            if lang is not None:
                tokens.append(Token("LANG", lang.group(1).casefold(), i))
            elif word.casefold() in _OPERATORS:
                tokens.append(Token(_OPERATORS[word.casefold()], word, i))
            elif word.casefold().startswith("lang:"):
                raise QueryError("expected a language code such as lang:es", query, i)
            else:
                body = word[:-1] if word.endswith("*") else word
                if not any(c.isalnum() for c in body) or "*" in body:
                    raise QueryError(f"invalid term {word!r}", query, i)
                tokens.append(Token("TERM", word, i))
            i = m.end()
    tokens.append(Token("EOF", "", n))
    return tokens


def _starts_operand(query: str, i: int) -> bool:
    # "-" is NOT at the start of a word ("-foo", "-(a OR b)"), not inside one ("e-mail" is one term)
    return i == 0 or query[i - 1].isspace() or query[i - 1] == "("


# --- parser -------------------------------------------------------------------------------


def _word_pattern(words: Sequence[str], prefix: bool) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(w.casefold()) for w in words)
    tail = r"\w*" if prefix else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{tail}")


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, *kinds: str) -> bool:
        return self.tokens[self.i].kind in kinds

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        return QueryError(message, self.query, (tok or self.tok).pos)

    def parse(self) -> Expr:
        if self.at("EOF"):
            raise self.error("empty query")
        expr = self.or_expr()
        if self.tok.kind != "EOF":
            raise self.error(f"unexpected {self.tok.value!r}")
        return expr

    def or_expr(self) -> Expr:
        operands = [self.and_expr()]
        while self.at("OR"):
            self.i += 1
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Expr:
        operands = [self.unary()]
        while not self.at("OR", ")", "EOF"):
            if self.at("AND"):
                self.i += 1
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Expr:
        if self.at("NOT"):
            self.i += 1
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "(":
            self.i += 1
            if self.at(")"):
                raise self.error("empty parentheses")
            expr = self.or_expr()
            if self.tok.kind != ")":
                raise self.error("expected ')' to close the '(' at position " + str(tok.pos))
            self.i += 1
            return expr
        self.i += 1
        if tok.kind == "TERM":
            prefix = tok.value.endswith("*")
            word = tok.value[:-1] if prefix else tok.value
            return Text(tok.value, _word_pattern([word], prefix))
        if tok.kind == "PHRASE":
            return Text(f'"{tok.value}"', _word_pattern(tok.value.split(), False))
        if tok.kind == "HASHTAG":
            return Tag("hashtag", tok.value.casefold())
        if tok.kind == "MENTION":
            return Tag("mention", tok.value.casefold())
        if tok.kind == "CASHTAG":
            return Tag("cashtag", tok.value.upper())
        if tok.kind == "LANG":
            return Lang(tok.value)
        self.i -= 1
        if tok.kind == "EOF":
            raise self.error("unexpected end of query, expected a term")
        raise self.error(f"expected a term, got {tok.value!r}")


def parse_query(query: str) -> Expr:
    """Parse a query; raises QueryError with the position of the problem."""
    return _Parser(query).parse()


# --- configuration ------------------------------------------------------------------------

# The one default location, also the default of the setting nlp.brand_queries_path.
DEFAULT_BRAND_QUERIES_PATH = Path(__file__).resolve().parent.parent / "config" / "brand_queries.yaml"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")
BrandQueryKind = Literal["brand", "competitor", "theme"]
KINDS: tuple[BrandQueryKind, ...] = get_args(BrandQueryKind)


@dataclass(frozen=True)
class GazetteerEntry:
    canonical: str  # the Entity.canonical of every match
    label: str
    aliases: tuple[str, ...]  # matched case-insensitively on token boundaries
    case_sensitive: tuple[str, ...] = ()  # matched exactly (for aliases that are common words: "Tidal")


@dataclass(frozen=True)
class BrandQuery:
    name: str  # bounded: a Prometheus label and a ClickHouse column value
    kind: BrandQueryKind
    query: str
    expr: Expr = field(compare=False, repr=False)
    entity: GazetteerEntry | None = None


@dataclass(frozen=True)
class BrandQueries:
    queries: tuple[BrandQuery, ...]
    gazetteer: tuple[GazetteerEntry, ...]  # the queries' entities and the extra entries
    digest: str  # short hash of the file, part of the enricher version

    def match(self, ctx: MatchContext) -> tuple[str, ...]:
        return tuple(q.name for q in self.queries if q.expr.matches(ctx))

    def names(self, *kinds: BrandQueryKind) -> tuple[str, ...]:
        """The queries' names, only those of ``kinds`` if given."""
        return tuple(q.name for q in self.queries if not kinds or q.kind in kinds)

    def alias_map(self) -> dict[str, str]:
        """casefolded alias -> canonical, for canonicalising model entities."""
        out: dict[str, str] = {}
        for entry in self.gazetteer:
            for alias in (*entry.aliases, *entry.case_sensitive, entry.canonical):
                out.setdefault(alias.casefold(), entry.canonical)
        return out


NO_BRAND_QUERIES = BrandQueries((), (), "none")


def _entry(raw: Mapping[str, Any], where: str, default_canonical: str | None = None) -> GazetteerEntry:
    label = str(raw.get("label", "ORG")).upper()
    if label not in ENTITY_LABELS:
        raise BrandQueryConfigError(f"{where}: label {label!r} is not one of {sorted(ENTITY_LABELS)}")
    canonical = str(raw.get("canonical", default_canonical or "")).strip().casefold()
    aliases = tuple(str(a) for a in raw.get("aliases", ()) or ())
    case_sensitive = tuple(str(a) for a in raw.get("case_sensitive_aliases", ()) or ())
    if not canonical:
        raise BrandQueryConfigError(f"{where}: missing 'canonical'")
    if not aliases and not case_sensitive:
        raise BrandQueryConfigError(f"{where}: needs 'aliases' or 'case_sensitive_aliases'")
    return GazetteerEntry(canonical, label, aliases, case_sensitive)


def build_brand_queries(data: Mapping[str, Any], digest: str = "inline") -> BrandQueries:
    if "topics" in data:  # the file's format before brand queries were named so: say what changed
        raise BrandQueryConfigError("the list of queries is now called 'brand_queries' (was 'topics'), "
                                    "and kind 'topic' is now 'theme'")
    queries: list[BrandQuery] = []
    gazetteer: list[GazetteerEntry] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.get("brand_queries", ()) or ()):
        where = f"brand_queries[{n}]"
        name = str(raw.get("name", ""))
        if not _NAME_RE.match(name):
            raise BrandQueryConfigError(f"{where}: name {name!r} must match {_NAME_RE.pattern}")
        if name in seen:
            raise BrandQueryConfigError(f"{where}: duplicate brand query name {name!r}")
        seen.add(name)
        kind = str(raw.get("kind", "theme"))
        if kind not in KINDS:
            raise BrandQueryConfigError(f"{where} ({name}): kind must be one of {', '.join(KINDS)}, got {kind!r}")
        query = str(raw.get("query", ""))
        try:
            expr = parse_query(query)
        except QueryError as e:
            raise BrandQueryConfigError(f"{where} ({name}): bad query: {e}") from e
        entity = None
        if raw.get("entity"):
            entity = _entry(raw["entity"], f"{where}.entity", default_canonical=name)
            gazetteer.append(entity)
        queries.append(BrandQuery(name, kind, query, expr, entity))
    for n, raw in enumerate(data.get("gazetteer", ()) or ()):
        gazetteer.append(_entry(raw, f"gazetteer[{n}]"))
    return BrandQueries(tuple(queries), tuple(gazetteer), digest)


def load_brand_queries(path: Path = DEFAULT_BRAND_QUERIES_PATH) -> BrandQueries:
    """The one loader of the brand-queries file (enricher, spike detector, `trends share`)."""
    import hashlib

    import yaml

    raw = path.read_bytes()
    data = yaml.safe_load(raw) or {}
    if not isinstance(data, dict):
        raise BrandQueryConfigError(f"{path}: expected a mapping with 'brand_queries' and 'gazetteer'")
    return build_brand_queries(data, hashlib.sha256(raw).hexdigest()[:8])
