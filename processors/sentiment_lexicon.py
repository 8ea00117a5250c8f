"""Small hand-written polarity lexicon for Spanish tweets, plus emoji/emoticon polarity for any language.

Written for this project (not copied from any published lexicon). Entries are accent-stripped,
lower-case word *prefixes* (a token matches an entry when it starts with it and the token is at
most 6 characters longer), so "odi" covers odio/odiar/odiaba. Used as three dense features
(positive hits, negative hits, their normalised difference) next to the n-gram features;
a negator (no, nunca, ni, sin...) flips the polarity of the following words up to clause punctuation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Set as AbstractSet

POSITIVE_ES = frozenset(
    """
    abraz acert admir adora afortunad agradab agradec alegr alucin amabl amad amig amo amor animo apoy
    aprend bellez bella bello ben bes bien bienvenid bonit brillant buen buenisim calid carin celebr
    chido chul comod confi conten crack cuqui delici descans destac disfrut divert divin dulz
    efectiv elegant emocion enamor encant enhorabuen entusias espectacul esperanz estupend excelent
    exit exquisit extraordin facil fantastic favorit feli festej fiel fuert ganad gan genial genio
    gloria gozar gracias gracios grand guap gust ilusion increibl inolvid inspir interesant
    jaja jeje jiji lind list logr maravill mejor merec mol motiv oportun orgull paz perfect piola
    placer precios premi presum product prosper querid recomiend recomend relaj rico risa
    satisf seguridad sonri sorpres suert super tierno tranquil triunf unid util valient vale vamos
    vict viva xd
    """.split()
) | frozenset(
    # second pass (v2), also written by hand for this project: more everyday words, common misspellings,
    # English words that show up in Spanish tweets
    """
    agradecid animad aplau apasion asombros bendic bendit bravo campeon carism cautiv chever cojonud
    complac diversion eufori exelent fenomen fiest gozo guay hermos honest humild impresionant ingenios
    lujo majo milagr nobl positiv privilegi regal respet riend sabros sensacional simpatic solidari
    talent tesoro ternur aprob wow yay love cute happy best good nice amazing great thanks graci ternura
    acogedor
    """.split()
)

NEGATIVE_ES = frozenset(
    """
    abus aburr absurd acos agobi agres amarg ansied angusti asco asesin asquer atroz avergonz
    basur bronca burl cabre cansad cagad cag catastrof chung coraje corrup crisis critic cruel
    culpa dano danin decepcion defraud delincu deprim desastr desesper desgraci despreci destroz
    dificil dolor dol enfad enferm engan enoj error escandal estres estupid fatal feo fea fracas
    frustr hart horribl horror hostia idiot ignor imbecil impotenc incompet indign infelic infiern
    injust insoport insult inutil ira jod ladr lament lastim llor lloro lucha maldit mal mata miedo
    mierd molest muert muer odi ojete peor perd pereza pesad pesim porqueri preocup problem puta
    putad rabia ridicul robo rob ruin sufr susto terribl tonto trist vergu verguenz violen
    """.split()
) | frozenset(
    # second pass (v2), written by hand
    """
    agotad alarm amenaz antipatic apest arrepent arrepient atasc bajon berrinch bochorn cabron caos
    castig cobard colaps conden cutre denunci descarad desgan desilusion detest discrimin disgust duele
    duel egoist escoria espant estaf fall fals fastidi fatig grave grit herid hipocr humill impresent
    incomod inept insegur intoler machis mediocr mintie mentir miser morir mori nervios ofend paliz
    panic pena perjud pierd pobre podrid quej rechaz recort rencor repugn roto ruido sinvergu soled suci
    suspens temor temiend terror tortur traic traidor tragedi tramp vomit fuck shit hate worst ugh wtf
    puaj
    """.split()
)

# emoji / emoticons with a clear polarity (language-independent)
POSITIVE_SYMBOLS = frozenset(
    "😀 😁 😂 😃 😄 😅 😆 😉 😊 😋 😍 😎 😘 😙 😚 🙂 🤗 🤩 🥰 🥳 😻 ❤ ♥"
    " 💕 💖 💗 💙 💚 💛 💜 🧡 💯 👍 👏 🙌 🎉 🎊 ✨ 🔥 💪 😇 ☺"
    " :) :-) :d =) ;) ;-) :p <3".split()
)
NEGATIVE_SYMBOLS = frozenset(
    "😞 😟 😠 😡 😢 😣 😤 😥 😦 😧 😨 😩 😪 😫 😭 😰 😱 😒 😓 😔 😕 🙁 ☹"
    " 💔 👎 🤬 🤮 🤢 😖 😿 🙄 😑 😐 :( :-( :'( =( d:".split()
)

_CLAUSE_END = frozenset(".,;:!?")
_MAX_SUFFIX = 6
# laughter of any length (jajajajaja, jejeje, hahaha, kkkk, xddd), which the prefix rule misses when long
_LAUGH = re.compile(r"^(?:j+[aeiou]+){2,}j*$|^(?:h+a+){2,}h*$|^k{3,}$|^lo+l$|^xd+$")


def _index(words: frozenset[str]) -> dict[str, int]:
    return {w: len(w) for w in words}


_POS = _index(POSITIVE_ES)
_NEG = _index(NEGATIVE_ES)
_PREFIX_LENGTHS = sorted({len(w) for w in POSITIVE_ES | NEGATIVE_ES})


def _polarity(token: str) -> int:
    """+1 / -1 / 0 for an accent-stripped lower-case token (longest matching prefix wins)."""
    if token in POSITIVE_SYMBOLS or _LAUGH.match(token):
        return 1
    if token in NEGATIVE_SYMBOLS:
        return -1
    n = len(token)
    for length in reversed(_PREFIX_LENGTHS):
        if length > n or n - length > _MAX_SUFFIX:
            continue
        prefix = token[:length]
        if prefix in _POS:
            return 1
        if prefix in _NEG:
            return -1
    return 0


def lexicon_features(tokens: list[str], negators: AbstractSet[str]) -> tuple[float, float, float]:
    """(positive hits, negative hits, (pos - neg) / sqrt(pos + neg + 1)) over normalised tokens; a negator (the
    model language's, processors/languages.py) flips the polarity of what follows up to clause punctuation."""
    pos = neg = 0
    negated = False
    for tok in tokens:
        if tok[0] in _CLAUSE_END:
            negated = False
            continue
        pol = _polarity(tok)
        if negated and pol:
            pol = -pol
        if pol > 0:
            pos += 1
        elif pol < 0:
            neg += 1
        if tok in negators:
            negated = True
    return float(pos), float(neg), (pos - neg) / math.sqrt(pos + neg + 1.0)
