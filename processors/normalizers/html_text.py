"""HTML status content (Mastodon, YouTube textDisplay) to the plain text a reader sees."""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCK = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self._paragraph_break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self._paragraph_break()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def _paragraph_break(self) -> None:
        # Collapse to exactly one blank line between blocks; nothing at the very start.
        text = "".join(self.parts)
        if not text:
            return
        stripped = text.rstrip("\n")
        self.parts = [stripped, "\n\n"]


def html_to_text(html: str) -> str:
    """Tags dropped, <br> as newline, block elements as paragraphs, entities decoded.

    Mastodon hides parts of long links in `<span class="invisible">`; keeping that text gives
    back the full URL, which is what entity extraction needs.
    """
    if "<" not in html and "&" not in html:
        return html
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip("\n")
