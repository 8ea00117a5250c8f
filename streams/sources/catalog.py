"""Vocabulary of the synthetic stream: fictional brands and competitors, people, places, wording.

Brands are invented (Nimbus vs Vertex phones, Altair Air vs Condora airlines, Brewster & Co vs
Café Luna coffee); people and places are real and famous. Every brand template contains the
brand's name (directly or through a product name), so a brand's share of posts is its weight.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Brand:
    name: str
    handle: str
    category: str  # phone | airline | coffee
    products: tuple[str, ...]  # each contains the brand name
    hashtags: tuple[str, ...]
    competitor: str
    weight: float  # share of all baseline posts about this brand
    url: str


BRANDS: tuple[Brand, ...] = (
    Brand("Nimbus", "NimbusMobile", "phone", ("Nimbus X5", "Nimbus X5 Pro", "Nimbus Buds 2"),
          ("NimbusX5", "Nimbus"), "Vertex", 0.15, "https://nimbus.example/x5"),
    Brand("Vertex", "VertexTech", "phone", ("Vertex Pro 12", "Vertex Fold"),
          ("VertexPro", "Vertex"), "Nimbus", 0.11, "https://vertex.example/pro12"),
    Brand("Altair Air", "AltairAir", "airline", ("Altair Air app", "Altair Air lounge"),
          ("AltairAir",), "Condora", 0.09, "https://altair-air.example/status"),
    Brand("Condora", "CondoraAirlines", "airline", ("Condora Airlines", "Condora Club"),
          ("Condora", "VolandoConCondora"), "Altair Air", 0.08, "https://condora.example/vuelos"),
    Brand("Brewster & Co", "BrewsterCo", "coffee", ("Brewster & Co oat latte", "Brewster & Co cold brew"),
          ("BrewsterCo",), "Café Luna", 0.09, "https://brewster.example/menu"),
    Brand("Café Luna", "CafeLunaOficial", "coffee", ("Café Luna flat white", "Café Luna app"),
          ("CafeLuna",), "Brewster & Co", 0.07, "https://cafeluna.example/carta"),
)
BRAND_BY_NAME = {b.name.casefold(): b for b in BRANDS}

LANGUAGES = ("en", "es", "pt", "fr")

# (place, flag, language it is most written about in)
PLACES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("New York", "🇺🇸"), ("London", "🇬🇧"), ("San Francisco", "🇺🇸"), ("Toronto", "🇨🇦"),
           ("Chicago", "🇺🇸"), ("Dublin", "🇮🇪")),
    "es": (("Madrid", "🇪🇸"), ("Barcelona", "🇪🇸"), ("Ciudad de México", "🇲🇽"), ("Buenos Aires", "🇦🇷"),
           ("Bogotá", "🇨🇴"), ("Sevilla", "🇪🇸"), ("Lima", "🇵🇪")),
    "pt": (("Lisboa", "🇵🇹"), ("São Paulo", "🇧🇷"), ("Rio de Janeiro", "🇧🇷"), ("Porto", "🇵🇹")),
    "fr": (("Paris", "🇫🇷"), ("Montréal", "🇨🇦"), ("Lyon", "🇫🇷"), ("Marseille", "🇫🇷")),
}
PEOPLE = ("Taylor Swift", "Lionel Messi", "Shakira", "Bad Bunny", "Rosalía", "Serena Williams",
          "Kylian Mbappé", "Pedro Pascal", "Anitta", "Zendaya")

EMOJI_POSITIVE = ("😍", "🔥", "👏", "🙌", "❤️", "😊", "👍🏽", "🥳", "💯", "✨", "🤩")
EMOJI_NEGATIVE = ("😡", "🙄", "💔", "😤", "👎", "😩", "🤬", "😒", "🤦‍♀️", "🤦🏻‍♂️")
EMOJI_NEUTRAL = ("🤔", "👀", "🧐", "📱", "☕", "✈️", "🤷", "👩‍💻", "🧑‍🍳", "👩🏽‍✈️")
EMOJI_ZWJ = ("👩‍💻", "👨‍👩‍👧", "🏳️‍🌈", "🧑‍🍳", "👩🏽‍✈️", "🧑🏾‍🤝‍🧑🏻", "❤️‍🔥")

ASPECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "phone": {
        "en": ("battery", "camera", "screen", "latest update", "charging speed", "night mode"),
        "es": ("la batería", "la cámara", "la pantalla", "la última actualización", "la carga rápida"),
        "pt": ("a bateria", "a câmera", "a tela", "a atualização"),
        "fr": ("la batterie", "l'appareil photo", "l'écran", "la mise à jour"),
    },
    "airline": {
        "en": ("crew", "check-in", "legroom", "on-time arrival", "app", "lounge"),
        "es": ("la tripulación", "la facturación", "el espacio para las piernas", "la puntualidad", "la app"),
        "pt": ("a tripulação", "o check-in", "a pontualidade"),
        "fr": ("l'équipage", "l'enregistrement", "la ponctualité"),
    },
    "coffee": {
        "en": ("oat latte", "cold brew", "service", "mobile order", "pastries", "new autumn menu"),
        "es": ("el café", "el servicio", "el pedido por la app", "la bollería", "el nuevo menú"),
        "pt": ("o café", "o atendimento", "o pastel de nata"),
        "fr": ("le café", "le service", "les viennoiseries"),
    },
}

# The word a crisis (negative spike) revolves around, per category and language.
CRISIS: dict[str, dict[str, tuple[str, ...]]] = {
    "phone": {
        "en": ("{product} is overheating after the update {neg} anyone else? #{tag}",
               "Update bricked my {product}. Overheating, battery dead in 2 hours. Thanks {brand} {neg}",
               "Do NOT install the new {brand} update, phone gets so hot it burns {neg}{neg}",
               "@{handle} my {product} keeps overheating and rebooting since this morning. Fix it! {neg}",
               "Third {product} in our office overheating today. What is going on {brand}? {url}"),
        "es": ("Mi {product} se calienta muchísimo desde la actualización {neg} ¿a alguien más? #{tag}",
               "{brand} arregla ya el sobrecalentamiento, el móvil quema {neg}",
               "@{handle} el {product} se reinicia solo y se calienta, vaya desastre {neg}",
               "No actualicéis el {product}: se calienta y la batería dura nada {neg}{neg}"),
        "pt": ("Meu {product} está superaquecendo depois da atualização {neg} #{tag}",),
        "fr": ("Mon {product} surchauffe depuis la mise à jour {neg} #{tag}",),
    },
    "airline": {
        "en": ("{brand} cancelled my flight AGAIN. 4 hours at the gate, no info {neg} #{tag}",
               "@{handle} lost my luggage and nobody answers the phone {neg}",
               "Worst day ever with {brand}: cancelled, rebooked, cancelled again {neg}{neg}"),
        "es": ("{brand} me canceló el vuelo otra vez, 4 horas en la puerta sin información {neg}",
               "@{handle} me perdieron la maleta y nadie contesta {neg} #{tag}",
               "Vuelo cancelado con {brand} y ni una explicación. Lamentable {neg}"),
        "pt": ("{brand} cancelou meu voo de novo {neg}",),
        "fr": ("{brand} a encore annulé mon vol {neg}",),
    },
    "coffee": {
        "en": ("Found something in my {product}. Disgusting. Never again {brand} {neg}",
               "@{handle} 40 minutes for a mobile order and it was wrong {neg} #{tag}"),
        "es": ("Encontré algo raro en mi café de {brand}, qué asco {neg}",
               "@{handle} 40 minutos esperando un pedido de la app y encima mal {neg}"),
        "pt": ("Esperei 40 minutos no {brand} e veio errado {neg}",),
        "fr": ("40 minutes d'attente chez {brand} et la commande était fausse {neg}",),
    },
}

BRAND_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "positive": (
            "Just switched to the {product} and the {aspect} is unreal {pos} #{tag}",
            "Honestly the {aspect} on the {product} is the best I've had {pos}",
            "Shoutout to @{handle}, the {aspect} was amazing today in {place} {pos}",
            "Loving my {product} so far. {aspect} 10/10 {pos}{pos}",
            "{brand} never disappoints. Great {aspect} as always {pos} {url}",
            "Can't believe how good the {aspect} is on the {product} {zwj} #{tag}",
            "Big fan of {brand} after today, the {aspect} was perfect {flag} {pos}",
        ),
        "neutral": (
            "{product} or {competitor}? Trying to decide before Black Friday {neu}",
            "Anyone tried the {aspect} on the {product}? Thinking about it {neu}",
            "{brand} just announced something new, reading about it now {url}",
            "Is {brand} in {place} open on Sundays? {neu}",
            "Comparing {brand} and {competitor} this week for the blog {zwj} {url}",
            "Quick poll: {brand} vs {competitor}, which one and why? #{tag}",
        ),
        "negative": (
            "The {aspect} on my {product} is terrible lately {neg}",
            "@{handle} really disappointed with the {aspect}, expected better {neg}",
            "{brand} customer support is a joke. Two weeks and no answer {neg}",
            "Paid full price for the {product} and the {aspect} is awful {neg} #{tag}",
            "Switching to {competitor}, done with {brand} {neg}",
            "Why is the {aspect} at {brand} so bad in {place}?? {neg}",
        ),
    },
    "es": {
        "positive": (
            "Me acabo de pasar al {product} y {aspect} es increíble {pos} #{tag}",
            "Sinceramente {aspect} del {product} es lo mejor que he probado {pos}",
            "Gracias @{handle}, {aspect} hoy en {place} fue genial {pos}",
            "Encantada con mi {product}, {aspect} de 10 {pos}{pos}",
            "{brand} nunca falla, {aspect} excelente como siempre {flag} {pos}",
            "Qué maravilla {aspect} de {brand} {zwj} {url}",
        ),
        "neutral": (
            "¿{product} o {competitor}? No me decido {neu}",
            "¿Alguien ha probado {aspect} del {product}? {neu}",
            "¿Sabéis si {brand} en {place} abre los domingos? {neu}",
            "{brand} acaba de anunciar novedades, lo estoy leyendo {url}",
            "Comparando {brand} y {competitor} para el blog de esta semana {zwj} #{tag}",
        ),
        "negative": (
            "{aspect} de mi {product} es un desastre últimamente {neg}",
            "@{handle} muy decepcionado con {aspect}, esperaba mucho más {neg}",
            "La atención al cliente de {brand} es lamentable, dos semanas sin respuesta {neg}",
            "Pagué un dineral por el {product} y {aspect} es horrible {neg} #{tag}",
            "Me paso a {competitor}, harto de {brand} {neg}",
        ),
    },
    "pt": {
        "positive": ("Adorei o {product}, {aspect} é incrível {pos} #{tag}",
                     "{brand} em {place} é sempre ótimo {flag} {pos}"),
        "neutral": ("{product} ou {competitor}? Ajudem {neu}",),
        "negative": ("{aspect} do {product} está horrível {neg}",
                     "Atendimento da {brand} é péssimo {neg}"),
    },
    "fr": {
        "positive": ("J'adore mon {product}, {aspect} est génial {pos} #{tag}",
                     "{brand} à {place}, toujours parfait {flag} {pos}"),
        "neutral": ("{product} ou {competitor} ? J'hésite {neu}",),
        "negative": ("{aspect} du {product} est vraiment nul {neg}",
                     "Le service client de {brand} est catastrophique {neg}"),
    },
}

GENERIC_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "positive": ("What a night! {person} in {place} was incredible {pos} #concert",
                     "{place} is beautiful this time of year {flag} {pos}",
                     "Finally finished the project with the team {zwj} {pos}",
                     "{person} deserves every award this year {pos}{pos}"),
        "neutral": ("Traffic in {place} this morning... {neu}",
                    "Reading about {person} and the new documentary {url}",
                    "Weekend plans: {place} or stay home? {neu}"),
        "negative": ("Train delays in {place} again {neg}",
                     "Can't believe they cancelled the {person} show {neg}"),
    },
    "es": {
        "positive": ("¡Qué partidazo de {person} anoche! {pos} #fútbol",
                     "{place} está precioso en esta época {flag} {pos}",
                     "Por fin terminamos el proyecto {zwj} {pos}",
                     "El concierto de {person} en {place} fue brutal {pos}"),
        "neutral": ("Tráfico en {place} esta mañana... {neu}",
                    "Leyendo sobre {person} y su nuevo disco {url}",
                    "¿Planes para el finde en {place}? {neu}"),
        "negative": ("Otra vez retrasos en el metro de {place} {neg}",
                     "Qué pena que cancelaran lo de {person} {neg}"),
    },
    "pt": {
        "positive": ("Que show da {person} em {place}! {pos}",),
        "neutral": ("Alguém em {place} hoje? {neu}",),
        "negative": ("Trânsito horrível em {place} {neg}",),
    },
    "fr": {
        "positive": ("Quel concert de {person} à {place} ! {pos}",),
        "neutral": ("Quelqu'un à {place} ce soir ? {neu}",),
        "negative": ("Encore des grèves à {place} {neg}",),
    },
}

REPLY_OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"positive": ("Totally agree!", "Same here", "100% this"),
           "neutral": ("Interesting.", "Good question.", "Hmm"),
           "negative": ("Same problem here", "Not my experience at all.", "Ugh, me too")},
    "es": {"positive": ("¡Totalmente de acuerdo!", "A mí igual", "Tal cual"),
           "neutral": ("Interesante.", "Buena pregunta.", "Mmm"),
           "negative": ("A mí me pasó lo mismo", "Pues yo no lo veo así.", "Uf, yo también")},
    "pt": {"positive": ("Concordo!",), "neutral": ("Boa pergunta.",), "negative": ("Comigo também",)},
    "fr": {"positive": ("Tout à fait !",), "neutral": ("Bonne question.",), "negative": ("Pareil pour moi",)},
}

GENERIC_HASHTAGS = ("BlackFriday", "tech", "travel", "viajes", "coffee", "café", "mondaymotivation")

FIRST_NAMES = {
    "en": ("Dana", "Sam", "Alex", "Jordan", "Emily", "Chris", "Priya", "Marcus", "Hannah", "Tom", "Grace", "Leo"),
    "es": ("Lucía", "Pablo", "María", "Javier", "Carmen", "Diego", "Sofía", "Andrés", "Valentina", "Mateo"),
    "pt": ("Joana", "Tiago", "Beatriz", "Rafael", "Inês", "Gabriel"),
    "fr": ("Camille", "Louis", "Chloé", "Hugo", "Léa", "Julien"),
}
LAST_NAMES = {
    "en": ("Whitfield", "Nguyen", "Patel", "Brooks", "Kim", "O'Neill", "Carter", "Reyes"),
    "es": ("Ortega", "García", "Fernández", "Méndez", "Ruiz", "Castillo", "Navarro", "Pérez"),
    "pt": ("Silva", "Santos", "Costa", "Ferreira"),
    "fr": ("Martin", "Bernard", "Dubois", "Lefèvre"),
}
MASTODON_INSTANCES = ("mastodon.social", "fosstodon.org", "mastodon.online", "masto.es", "mstdn.social")
SUBREDDITS = {"phone": "Android", "airline": "travel", "coffee": "Coffee", None: "AskReddit"}
YOUTUBE_VIDEOS = {
    "phone": ("dQw4w9WgXcQ", "9bZkp7q19f0", "kJQP7kiw5Fk"),
    "airline": ("3JZ_D3ELwOQ", "L_jWHffIx5E"),
    "coffee": ("fJ9rUzIMcZQ", "hT_nvWreIhg"),
    None: ("OPf0YbXqDm0", "RgKAFK5djSk"),
}
NEWS_URLS = ("https://news.example.com/2026/11/tech-roundup", "https://blog.example.org/review",
             "https://noticias.example.es/2026/11/tendencias")
