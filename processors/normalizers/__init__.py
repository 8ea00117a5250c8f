"""Normalizers: each network's documented payload → `schemas.RawEvent`. Pure: no I/O, `now` is a parameter.

`detect_and_normalize(obj, now=...)` is the entry point; it raises `NormalizationError` (with an
`ErrorCode`) for anything it cannot turn into a RawEvent.
"""

from processors.normalizers.bluesky import normalize_bluesky
from processors.normalizers.detect import (
    NORMALIZERS,
    detect_and_normalize,
    detect_network,
    explode,
    normalize_raw_event_dict,
)
from processors.normalizers.errors import NormalizationError
from processors.normalizers.html_text import html_to_text
from processors.normalizers.mastodon import normalize_mastodon
from processors.normalizers.reddit import normalize_reddit
from processors.normalizers.x import normalize_x
from processors.normalizers.youtube import normalize_youtube

__all__ = [
    "NORMALIZERS",
    "NormalizationError",
    "detect_and_normalize",
    "detect_network",
    "explode",
    "html_to_text",
    "normalize_bluesky",
    "normalize_mastodon",
    "normalize_raw_event_dict",
    "normalize_reddit",
    "normalize_x",
    "normalize_youtube",
]
