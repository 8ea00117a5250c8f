"""A seeded, realistic, multilingual synthetic stream of posts across the five networks.

Deterministic: the same (seed, start, rate, spikes) gives byte-identical output; no wall clock.
Each post is first rendered in its network's documented payload shape (X API v2, Mastodon Status,
Jetstream commit, Reddit thing, YouTube commentThread/comment) and the RawEvent is obtained by running
the real normalizer on it, so generated RawEvents and raw payloads always agree.

Arrivals are a Poisson process at `rate_per_minute`. A `Spike(at, term, factor, duration, negative)`
adds extra posts mentioning `term` during [at, at + duration) so that the term's volume is about
`factor` times its baseline; with `negative=True` those posts use crisis wording.

    gen = Generator(GeneratorConfig(seed=7, start=datetime(2026, 11, 1, tzinfo=UTC)))
    for post in gen.take(1000):
        post.payload   # the network's JSON shape (dict)
        post.event     # the RawEvent
"""

from __future__ import annotations

import html
import math
import random
import re
import string
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.normalizers import detect_and_normalize
from schemas.events import Network, RawEvent
from streams.sources import catalog
from streams.sources.catalog import Brand

TWITTER_EPOCH_MS = 1_288_834_974_657
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_YT_CHARS = string.ascii_letters + string.digits + "_-"
_TOKEN = re.compile(r"(https?://\S+)|(#\w+)|(@\w+)")
DEFAULT_TERM_SHARE = 0.01
_PROPER_NOUNS = tuple(
    [b.name for b in catalog.BRANDS] + [p for b in catalog.BRANDS for p in b.products] + list(catalog.PEOPLE)
    + [place for places in catalog.PLACES.values() for place, _ in places]
)
# Reddit is mostly comments on submissions; YouTube has many replies under top-level comments.
_REPLY_SHARE = {Network.REDDIT: 0.75, Network.YOUTUBE: 0.3}


@dataclass(frozen=True)
class Spike:
    """From `at` for `duration`, posts mentioning `term` rise to ~`factor` x their baseline volume."""

    at: datetime
    term: str
    factor: float
    duration: timedelta = timedelta(minutes=10)
    negative: bool = False

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Spike.at must be timezone-aware")
        if self.factor < 1.0:
            raise ValueError("Spike.factor must be >= 1")
        if self.duration <= timedelta(0):
            raise ValueError("Spike.duration must be positive")
        if not self.term.strip():
            raise ValueError("Spike.term must not be empty")

    @property
    def end(self) -> datetime:
        return self.at + self.duration

    def active(self, t: datetime) -> bool:
        return self.at <= t < self.end


@dataclass(frozen=True)
class GeneratorConfig:
    start: datetime
    seed: int = 42
    rate_per_minute: float = 60.0
    spikes: tuple[Spike, ...] = ()
    language_weights: tuple[tuple[str, float], ...] = (("en", 0.52), ("es", 0.36), ("pt", 0.06), ("fr", 0.06))
    network_weights: tuple[tuple[Network, float], ...] = (
        (Network.X, 0.34), (Network.MASTODON, 0.14), (Network.BLUESKY, 0.2),
        (Network.REDDIT, 0.16), (Network.YOUTUBE, 0.16),
    )
    reply_share: float = 0.22
    repost_share: float = 0.08  # X retweets / Mastodon reblogs: duplicates of an earlier text
    sentiment_weights: tuple[float, float, float] = (0.38, 0.37, 0.25)  # positive, neutral, negative

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not self.rate_per_minute > 0:
            raise ValueError("rate_per_minute must be > 0")


@dataclass(frozen=True)
class GeneratedPost:
    payload: dict[str, Any]  # the network's payload shape
    event: RawEvent
    spike: Spike | None = None  # the spike that produced it, if any


@dataclass
class _Author:
    network: Network
    lang: str
    id: str
    handle: str
    name: str
    followers: int
    instance: str = ""


@dataclass
class _Post:
    network: Network
    author: _Author
    lang: str
    text: str
    created_at: datetime
    kind: str  # post | reply | repost
    brand: Brand | None
    native: dict[str, Any] = field(default_factory=dict)  # network ids used by replies/reposts


def term_share(term: str) -> float:
    """Approximate baseline share of posts that mention `term` (brand weights; else a small default)."""
    brand = catalog.BRAND_BY_NAME.get(term.casefold())
    return brand.weight if brand else DEFAULT_TERM_SHARE


def _brand_for_term(term: str) -> Brand | None:
    folded = term.casefold().lstrip("#@")
    for brand in catalog.BRANDS:
        if folded in {brand.name.casefold(), brand.handle.casefold(), *(t.casefold() for t in brand.hashtags)}:
            return brand
    return None


class Generator:
    """Iterate it (or call `take(n)`) for GeneratedPosts in created_at order."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self._t = config.start
        self._authors: dict[tuple[Network, str], list[_Author]] = {}
        self._recent: dict[Network, deque[_Post]] = {n: deque(maxlen=150) for n in Network}
        self._counter = 0
        base = config.rate_per_minute / 60.0
        self._base_rate = base  # per second
        self._extra = [(s, (s.factor - 1.0) * base * term_share(s.term)) for s in config.spikes]
        self._max_rate = base + sum(extra for _, extra in self._extra)

    # ------------------------------------------------------------------ public API

    def __iter__(self) -> Iterator[GeneratedPost]:
        while True:
            yield self.next()

    def take(self, count: int) -> list[GeneratedPost]:
        return [self.next() for _ in range(count)]

    def next(self) -> GeneratedPost:
        rng = self.rng
        while True:  # thinning: candidate arrivals at the max rate, kept with prob rate(t)/max
            self._t += timedelta(seconds=rng.expovariate(self._max_rate))
            active = [(s, extra) for s, extra in self._extra if s.active(self._t)]
            rate = self._base_rate + sum(extra for _, extra in active)
            if rng.random() * self._max_rate <= rate:
                break
        spike: Spike | None = None
        pick = rng.random() * rate
        for s, extra in active:
            if pick < extra:
                spike = s
                break
            pick -= extra
        post = self._make_post(self._t, spike)
        payload = self._render(post)
        lag = timedelta(milliseconds=rng.randint(150, 4000))
        event = detect_and_normalize(payload, now=post.created_at + lag)
        self._recent[post.network].append(post)
        return GeneratedPost(payload=payload, event=event, spike=spike)

    # ------------------------------------------------------------------ content

    def _choice_weighted(self, pairs: tuple[tuple[Any, float], ...]) -> Any:
        values, weights = zip(*pairs, strict=True)
        return self.rng.choices(values, weights=weights, k=1)[0]

    def _make_post(self, t: datetime, spike: Spike | None) -> _Post:
        rng, cfg = self.rng, self.config
        network: Network = self._choice_weighted(cfg.network_weights)
        lang: str = self._choice_weighted(cfg.language_weights)
        author = self._author(network, lang)
        recent = self._recent[network]

        # Reposts duplicate an earlier text (only where the network has them in our shapes).
        if (
            spike is None and network in (Network.X, Network.MASTODON) and recent
            and rng.random() < cfg.repost_share
        ):
            original = rng.choice(list(recent)[-40:])
            if original.kind != "repost":
                return _Post(network, author, original.lang, original.text, t, "repost", original.brand,
                             {"original": original})

        replyable = [p for p in list(recent)[-60:] if p.kind != "repost"]
        reply_share = _REPLY_SHARE.get(network, cfg.reply_share)
        parent: _Post | None = rng.choice(replyable) if replyable and rng.random() < reply_share else None
        if parent is not None and rng.random() < 0.85:
            lang = parent.lang  # conversations mostly stay in one language
            author = self._author(network, lang)
        sentiment = "negative" if spike is not None and spike.negative else rng.choices(
            ("positive", "neutral", "negative"), weights=cfg.sentiment_weights, k=1)[0]
        if spike is None and parent is not None and rng.random() < 0.7:
            brand = parent.brand  # replies mostly talk about the same thing
        else:
            brand = self._pick_brand(spike)
        text = self._compose(lang, sentiment, brand, crisis=spike is not None and spike.negative)
        if spike is not None and spike.term.casefold() not in text.casefold():
            text = f"{text} {spike.term}"
        if parent is not None:
            opener = rng.choice(catalog.REPLY_OPENERS[lang][sentiment])
            if opener[-1] in ".!?…":
                text = f"{opener} {text}"
            else:
                keep = text.startswith(_PROPER_NOUNS) or not text[0].isalpha()
                text = f"{opener}, {text if keep else text[0].lower() + text[1:]}"
            if network in (Network.X, Network.MASTODON):
                text = f"@{parent.author.handle.split('@')[0]} {text}"
        return _Post(network, author, lang, text, t, "reply" if parent else "post", brand,
                     {"parent": parent} if parent else {})

    def _pick_brand(self, spike: Spike | None) -> Brand | None:
        if spike is not None:
            return _brand_for_term(spike.term) or self.rng.choice(catalog.BRANDS)
        pick = self.rng.random()
        for brand in catalog.BRANDS:
            if pick < brand.weight:
                return brand
            pick -= brand.weight
        return None

    def _compose(self, lang: str, sentiment: str, brand: Brand | None, *, crisis: bool) -> str:
        rng = self.rng
        place, flag = rng.choice(catalog.PLACES[lang])
        slots: dict[str, str] = {
            "place": place,
            "flag": flag,
            "person": rng.choice(catalog.PEOPLE),
            "pos": rng.choice(catalog.EMOJI_POSITIVE),
            "neg": rng.choice(catalog.EMOJI_NEGATIVE),
            "neu": rng.choice(catalog.EMOJI_NEUTRAL),
            "zwj": rng.choice(catalog.EMOJI_ZWJ),
            "url": rng.choice(catalog.NEWS_URLS),
        }
        if brand is None:
            template = rng.choice(catalog.GENERIC_TEMPLATES[lang][sentiment])
        else:
            competitor = catalog.BRAND_BY_NAME[brand.competitor.casefold()]
            slots.update(
                brand=brand.name,
                product=rng.choice(brand.products),
                competitor=rng.choice((competitor.name, *competitor.products)),
                handle=brand.handle,
                tag=rng.choice(brand.hashtags),
                aspect=rng.choice(catalog.ASPECTS[brand.category][lang]),
                url=rng.choice((brand.url, slots["url"])),
            )
            pool = catalog.CRISIS[brand.category][lang] if crisis else catalog.BRAND_TEMPLATES[lang][sentiment]
            template = rng.choice(pool)
        text = template.format(**slots)
        text = text[0].upper() + text[1:] if text[0].islower() else text
        if brand is None and rng.random() < 0.25:
            text = f"{text} #{rng.choice(catalog.GENERIC_HASHTAGS)}"
        return text

    def _author(self, network: Network, lang: str) -> _Author:
        pool = self._authors.setdefault((network, lang), [])
        if len(pool) < 40 and (not pool or self.rng.random() < 0.5):
            pool.append(self._new_author(network, lang))
        return self.rng.choice(pool)

    def _new_author(self, network: Network, lang: str) -> _Author:
        rng = self.rng
        first = rng.choice(catalog.FIRST_NAMES[lang])
        last = rng.choice(catalog.LAST_NAMES[lang])
        base = _ascii_handle(f"{first}{rng.choice(['', '_', '.'])}{last[: rng.randint(1, len(last))]}")
        handle = f"{base}{rng.randint(1, 999) if rng.random() < 0.5 else ''}".replace(".", "_")
        followers = int(math.exp(rng.gauss(5.5, 1.8)))
        name = f"{first} {last}" if rng.random() < 0.7 else f"{first} {rng.choice(catalog.EMOJI_ZWJ)}"
        if network is Network.X:
            return _Author(network, lang, str(rng.randint(10**7, 10**18)), handle, name, followers)
        if network is Network.MASTODON:
            instance = rng.choice(catalog.MASTODON_INSTANCES)
            return _Author(network, lang, str(rng.randint(10**17, 10**18)), handle, name, followers, instance)
        if network is Network.BLUESKY:
            did = "did:plc:" + "".join(rng.choice(_B32_SORTABLE) for _ in range(24))
            return _Author(network, lang, did, f"{handle}.bsky.social", name, followers)
        if network is Network.REDDIT:
            return _Author(network, lang, "t2_" + _b36(rng.randint(36**6, 36**8)), handle, "", followers)
        channel = "UC" + "".join(rng.choice(_YT_CHARS) for _ in range(22))
        return _Author(network, lang, channel, handle, f"@{handle}", followers)

    # ------------------------------------------------------------------ rendering

    def _render(self, post: _Post) -> dict[str, Any]:
        self._counter += 1
        render = {
            Network.X: self._render_x,
            Network.MASTODON: self._render_mastodon,
            Network.BLUESKY: self._render_bluesky,
            Network.REDDIT: self._render_reddit,
            Network.YOUTUBE: self._render_youtube,
        }[post.network]
        return render(post)

    def _metrics(self, scale: float = 1.0) -> tuple[int, int, int, int]:
        rng = self.rng
        likes = int(math.exp(rng.gauss(1.2, 1.4)) * scale)
        return likes, int(likes * rng.random() * 0.3), int(likes * rng.random() * 0.2), int(likes * rng.random() * 0.05)

    def _render_x(self, post: _Post) -> dict[str, Any]:
        rng = self.rng
        ms = int(post.created_at.timestamp() * 1000)
        tweet_id = str(((ms - TWITTER_EPOCH_MS) << 22) | (rng.getrandbits(10) << 12) | (self._counter & 0xFFF))
        post.native["id"] = tweet_id
        likes, reposts, replies, quotes = self._metrics()
        data: dict[str, Any] = {
            "id": tweet_id,
            "text": _x_escape(post.text),
            "author_id": post.author.id,
            "created_at": _iso_ms(post.created_at),
            "lang": post.lang,
            "conversation_id": tweet_id,
            "edit_history_tweet_ids": [tweet_id],
            "public_metrics": {"retweet_count": reposts, "reply_count": replies, "like_count": likes,
                               "quote_count": quotes, "bookmark_count": quotes, "impression_count": likes * 40},
        }
        if post.kind == "repost":
            original: _Post = post.native["original"]
            data["text"] = _x_escape(f"RT @{original.author.handle}: {original.text}")
            data["referenced_tweets"] = [{"type": "retweeted", "id": original.native["id"]}]
            data["public_metrics"].update(like_count=0, reply_count=0, quote_count=0)
        elif post.kind == "reply":
            parent: _Post = post.native["parent"]
            data["referenced_tweets"] = [{"type": "replied_to", "id": parent.native["id"]}]
            data["in_reply_to_user_id"] = parent.author.id
            data["conversation_id"] = parent.native.get("conversation_id", parent.native["id"])
        post.native["conversation_id"] = data["conversation_id"]
        user = {"id": post.author.id, "name": post.author.name, "username": post.author.handle,
                "public_metrics": {"followers_count": post.author.followers,
                                   "following_count": rng.randint(10, 2000),
                                   "tweet_count": rng.randint(50, 50_000), "listed_count": rng.randint(0, 40)}}
        return {"data": data, "includes": {"users": [user]}}

    def _render_mastodon(self, post: _Post) -> dict[str, Any]:
        rng = self.rng
        a = post.author
        ms = int(post.created_at.timestamp() * 1000)
        status_id = str((ms << 16) | rng.getrandbits(16))
        uri = f"https://{a.instance}/users/{a.handle}/statuses/{status_id}"
        likes, reposts, replies, _ = self._metrics()
        account = {"id": a.id, "username": a.handle, "acct": a.handle, "display_name": a.name,
                   "locked": False, "bot": False, "url": f"https://{a.instance}/@{a.handle}",
                   "followers_count": a.followers, "following_count": rng.randint(10, 900),
                   "statuses_count": rng.randint(10, 20_000), "emojis": [], "fields": []}
        status: dict[str, Any] = {
            "id": status_id, "created_at": _iso_ms(post.created_at), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
            "language": post.lang, "uri": uri, "url": f"https://{a.instance}/@{a.handle}/{status_id}",
            "replies_count": replies, "reblogs_count": reposts, "favourites_count": likes, "edited_at": None,
            "content": _mastodon_html(post.text, a.instance), "reblog": None, "account": account,
            "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        }
        post.native.update(id=status_id, uri=uri, status=status)
        if post.kind == "repost":
            original: _Post = post.native["original"]
            status.update(content="", language=None, url=None, uri=f"{uri}/activity",
                          replies_count=0, reblogs_count=0, favourites_count=0,
                          reblog={k: v for k, v in original.native["status"].items() if k != "reblog"})
            status["reblog"]["reblog"] = None
        elif post.kind == "reply":
            parent: _Post = post.native["parent"]
            status.update(in_reply_to_id=parent.native["id"], in_reply_to_account_id=parent.author.id)
            if parent.author.id != a.id:  # Mastodon mentions the parent's author in a reply (not oneself)
                pa = parent.author
                status["mentions"] = [{"id": pa.id, "username": pa.handle, "acct": pa.handle,
                                       "url": f"https://{pa.instance}/@{pa.handle}"}]
        return status

    def _render_bluesky(self, post: _Post) -> dict[str, Any]:
        rng = self.rng
        micros = int(post.created_at.timestamp() * 1_000_000)
        rkey = _tid(micros, rng.getrandbits(10))
        did = post.author.id
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = "bafyrei" + "".join(rng.choice(_B32_SORTABLE) for _ in range(52))
        post.native.update(uri=uri, cid=cid)
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": _iso_ms(post.created_at),
                                  "langs": [post.lang], "text": post.text}
        if post.kind == "reply":
            parent: _Post = post.native["parent"]
            root = parent.native.get("root", {"uri": parent.native["uri"], "cid": parent.native["cid"]})
            post.native["root"] = root
            record["reply"] = {"root": root, "parent": {"uri": parent.native["uri"], "cid": parent.native["cid"]}}
        return {"did": did, "time_us": micros + rng.randint(50_000, 900_000), "kind": "commit",
                "commit": {"rev": _tid(micros + 1, rng.getrandbits(10)), "operation": "create",
                           "collection": "app.bsky.feed.post", "rkey": rkey, "record": record, "cid": cid}}

    def _render_reddit(self, post: _Post) -> dict[str, Any]:
        rng = self.rng
        a = post.author
        created = float(int(post.created_at.timestamp()))
        subreddit = catalog.SUBREDDITS[post.brand.category if post.brand else None]
        likes, _, replies, _ = self._metrics(2.0)
        parent: _Post | None = post.native.get("parent")
        if parent is None:  # a submission
            sid = _b36(int(post.created_at.timestamp()) * 7 + self._counter)
            slug = re.sub(r"[^a-z0-9]+", "_", post.text.lower())[:40].strip("_") or "post"
            permalink = f"/r/{subreddit}/comments/{sid}/{slug}/"
            post.native.update(name=f"t3_{sid}", link=f"t3_{sid}", permalink=permalink)
            return {"kind": "t3", "data": {
                "subreddit": subreddit, "id": sid, "name": f"t3_{sid}", "title": _x_escape(post.text),
                "selftext": "", "author": a.handle, "author_fullname": a.id, "created_utc": created,
                "score": likes - rng.randint(0, 3), "ups": likes, "upvote_ratio": round(rng.uniform(0.5, 1), 2),
                "num_comments": replies, "permalink": permalink, "url": f"https://www.reddit.com{permalink}",
                "is_self": True, "over_18": False}}
        cid = _b36(int(post.created_at.timestamp()) * 11 + self._counter + 36**6)
        link = parent.native["link"]
        base = parent.native["permalink"] if parent.native["name"].startswith("t3_") else parent.native["thread"]
        permalink = f"{base}{cid}/"
        post.native.update(name=f"t1_{cid}", link=link, permalink=permalink, thread=base)
        return {"kind": "t1", "data": {
            "subreddit": subreddit, "id": cid, "name": f"t1_{cid}", "author": a.handle, "author_fullname": a.id,
            "body": _x_escape(post.text), "created_utc": created, "link_id": link,
            "parent_id": parent.native["name"], "score": likes - rng.randint(0, 4), "ups": likes,
            "permalink": permalink, "depth": 0 if parent.native["name"].startswith("t3_") else 1,
            "is_submitter": False, "stickied": False, "edited": False}}

    def _render_youtube(self, post: _Post) -> dict[str, Any]:
        rng = self.rng
        a = post.author
        published = post.created_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        likes, _, replies, _ = self._metrics()
        parent: _Post | None = post.native.get("parent")
        video = (parent.native["video"] if parent else
                 rng.choice(catalog.YOUTUBE_VIDEOS[post.brand.category if post.brand else None]))
        snippet = {
            "channelId": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "videoId": video,
            "textDisplay": html.escape(post.text, quote=True).replace("\n", "<br>"), "textOriginal": post.text,
            "authorDisplayName": a.name, "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{a.id[2:12]}=s48",
            "authorChannelUrl": f"http://www.youtube.com/@{a.handle}", "authorChannelId": {"value": a.id},
            "canRate": True, "viewerRating": "none", "likeCount": likes,
            "publishedAt": published, "updatedAt": published,
        }
        if parent is not None:
            top = parent.native["thread_id"]
            comment_id = f"{top}." + "".join(rng.choice(_YT_CHARS) for _ in range(22))
            post.native.update(video=video, thread_id=top)
            return {"kind": "youtube#comment", "etag": _etag(rng), "id": comment_id,
                    "snippet": {**snippet, "parentId": top}}
        comment_id = "Ugz" + "".join(rng.choice(_YT_CHARS) for _ in range(16)) + "4AaABAg"
        post.native.update(video=video, thread_id=comment_id)
        top_level = {"kind": "youtube#comment", "etag": _etag(rng), "id": comment_id, "snippet": snippet}
        return {"kind": "youtube#commentThread", "etag": _etag(rng), "id": comment_id,
                "snippet": {"channelId": snippet["channelId"], "videoId": video, "topLevelComment": top_level,
                            "canReply": True, "totalReplyCount": replies, "isPublic": True}}


# ---------------------------------------------------------------------- helpers


def _iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _x_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _b36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _tid(micros: int, clock_id: int) -> str:
    """An AT Protocol TID: 64 bits (microseconds << 10 | clock id) in sortable base32, 13 chars."""
    n = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_B32_SORTABLE[(n >> (5 * i)) & 31] for i in range(12, -1, -1))


def _etag(rng: random.Random) -> str:
    return "".join(rng.choice(_YT_CHARS) for _ in range(27))


def _ascii_handle(text: str) -> str:
    table = str.maketrans("áéíóúñçãõâêôàèüïëÁÉÍÓÚÑ' ", "aeiouncaoaeoaeuieAEIOUN__")
    return re.sub(r"[^A-Za-z0-9_.]", "", text.translate(table)).lower() or "user"


def _mastodon_html(text: str, instance: str) -> str:
    """Render plain text the way Mastodon does: <p> per paragraph, <br /> per line, linked tags/mentions/URLs."""

    def render_line(line: str) -> str:
        out, pos = [], 0
        for m in _TOKEN.finditer(line):
            out.append(html.escape(line[pos:m.start()], quote=False))
            url, tag, mention = m.groups()
            if url:
                bare = url.split("://", 1)[1]
                out.append(
                    f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer" '
                    f'translate="no"><span class="invisible">{html.escape(url.split("://")[0])}://</span>'
                    f'<span class="ellipsis">{html.escape(bare[:30])}</span>'
                    f'<span class="invisible">{html.escape(bare[30:])}</span></a>'
                )
            elif tag:
                out.append(f'<a href="https://{instance}/tags/{html.escape(tag[1:])}" class="mention hashtag" '
                           f'rel="tag">#<span>{html.escape(tag[1:])}</span></a>')
            else:
                user = mention[1:]
                out.append(f'<span class="h-card" translate="no"><a href="https://{instance}/@{user}" '
                           f'class="u-url mention">@<span>{user}</span></a></span>')
            pos = m.end()
        out.append(html.escape(line[pos:], quote=False))
        return "".join(out)

    paragraphs = text.split("\n\n")
    return "".join("<p>" + "<br />".join(render_line(ln) for ln in p.split("\n")) + "</p>" for p in paragraphs)


# ---------------------------------------------------------------------- convenience


def generate(
    count: int,
    *,
    start: datetime,
    seed: int = 42,
    rate_per_minute: float = 60.0,
    spikes: tuple[Spike, ...] = (),
) -> list[GeneratedPost]:
    """`count` posts from `start` on; deterministic for the same arguments."""
    config = GeneratorConfig(start=start, seed=seed, rate_per_minute=rate_per_minute, spikes=spikes)
    return Generator(config).take(count)


def generate_events(count: int, **kwargs: Any) -> list[RawEvent]:
    return [p.event for p in generate(count, **kwargs)]


def mixed_records(posts: list[GeneratedPost], *, raw_share: float = 0.5, seed: int = 0) -> list[dict[str, Any]]:
    """JSON-ready dicts for files: each post as its network payload (prob `raw_share`) or a RawEvent dict."""
    rng = random.Random(seed)
    return [p.payload if rng.random() < raw_share else p.event.model_dump(mode="json") for p in posts]


def span_for(count: int, rate_per_minute: float) -> timedelta:
    """Expected time covered by `count` posts at `rate_per_minute` (ignoring spikes)."""
    return timedelta(minutes=count / rate_per_minute)
