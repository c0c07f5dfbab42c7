"""Reading a saved web page: the article's own text, title, author and date.

Extraction is trafilatura's (Apache-2.0, maintained, offline): it keeps the article and leaves
out navigation, menus, cookie banners, comment threads, related-article lists and footers, and
reads the title, author and publication date from the page's markup and metadata. Hand-written
rules could only list the chrome of the sites they were written for.

The indexed text is the extracted text, headline first, one paragraph, heading or list item
to a line with a blank line between them (so chunks end at paragraph breaks as in a plain-text article); the
page's markup is not kept, so a citation's lines are lines of that text, not of the file.
A page with no article text found (a page of links, or one built by JavaScript) is an
``ExtractionError``: indexing its menus would be worse than leaving it out.
"""

from __future__ import annotations

import logging

from rag.ingest.extracted import Extracted, ExtractionError, metadata_text

# On a page without an article trafilatura falls back to whatever text there is, often the
# menu's links ("Home", "News"): text with no line this long is taken for no article.
MIN_SENTENCE_WORDS = 4


def read_html(raw: bytes, name: str = "") -> Extracted:
    """The article in the page ``raw`` (bytes in any encoding the page declares)."""
    import trafilatura

    with _quiet_logger("trafilatura"), _quiet_logger("htmldate"):
        found = trafilatura.bare_extraction(
            raw, include_comments=False, include_tables=True, with_metadata=True, deduplicate=False
        )
    text = _paragraphs(found.text if found is not None else "")
    if not any(len(line.split()) >= MIN_SENTENCE_WORDS for line in text.splitlines()):
        raise ExtractionError(
            "no article text found in this web page (it may be only links, or built by JavaScript); "
            "save the article's text as .txt to index it"
        )
    title = metadata_text(found.title)
    if title and not text.startswith(title):  # the headline opens the text, as on the page, so it can be quoted
        text = f"{title}\n\n{text}"
    return Extracted(text, title, metadata_text(found.author), metadata_text(found.date))


def _paragraphs(text: str | None) -> str:
    """One paragraph to a line, a blank line between, spaces inside each line made single."""
    lines = (" ".join(line.split()) for line in (text or "").splitlines())
    return "\n\n".join(line for line in lines if line)


class _quiet_logger:
    """Raise a library logger to ERROR while it runs: trafilatura warns about every odd page in
    its own words, and the folder walk already gives one warning per file skipped."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def __enter__(self) -> None:
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc) -> None:
        self._logger.setLevel(self._level)
