"""Finding site chrome in plain text: the lines a scraped web page keeps of its navigation,
sign-up notices and links to other articles ("Skip to content", "READ MORE: ...", "Exit
mobile version"), so that chunking passes over them.

Only whole lines are judged, each by itself, against phrases that are chrome on any site; and
a single lower-case word ("news") only among a page's first lines, where a section label sits.
The rules are few and strict on purpose: chrome kept in a chunk costs a little room, while a
rule that drops a line of the article loses an answer. Nothing here changes the text: the
spans found are left out of chunks, and every line number stays the file's own.
"""

from __future__ import annotations

import re

OPENING_LINES = 3  # the first non-blank lines where a one-word section label may sit
MAX_LINK_WORDS = 15  # a "read more" line longer than this is a paragraph

_CHROME_RE = re.compile(
    r"(?:skip|jump) to (?:the )?(?:main )?(?:content|navigation|menu|search|article)"
    r"|(?:main |site |open |close |toggle )?(?:menu|navigation)"
    r"|exit mobile version"
    r"|(?:source: )?read (?:the )?full (?:article|story)"
    r"|advertisement|sign in|log in"
    r"|we use your sign-up to provide content in ways you.ve consented to\b.*",
    re.IGNORECASE,
)
# "READ MORE: <another article's headline>" is a link to another story. "read more about
# <topic>" is kept: it names what the article is about (a site's topic tags), which is how
# a document's gist is weighed when it is summarised.
_READ_MORE_RE = re.compile(r"read more:.*", re.IGNORECASE)
_SECTION_LABEL_RE = re.compile(r"[a-z]+")
_LINE_RE = re.compile(r"[^\n]*")


def chrome_spans(text: str) -> list[tuple[int, int]]:
    """The character spans (start, end) of ``text``'s chrome lines, in order, line breaks left out."""
    spans, opening = [], 0
    matches = list(_LINE_RE.finditer(text))
    for number, match in enumerate(matches):
        line = " ".join(match.group().split())
        if not line:
            continue
        opening += 1
        # a section label stands alone: a blank line (or the end) follows it, as "news" does;
        # a one-word line that runs on into the next is a wrapped sentence
        alone = number + 2 >= len(matches) or not matches[number + 2].group().strip()
        if is_chrome(line, opening_line=opening <= OPENING_LINES and alone):
            spans.append((match.start(), match.end()))
    # A text that is all "chrome" is not a page at all ("x", "menu"): it is kept whole rather
    # than indexed as nothing.
    return [] if len(spans) == opening else spans


def is_chrome(line: str, *, opening_line: bool = False) -> bool:
    """Whether the line (whitespace runs made single) is site chrome; ``opening_line``: it is
    among the text's first non-blank lines, where a one-word section label may stand."""
    if _CHROME_RE.fullmatch(line):
        return True
    if _READ_MORE_RE.fullmatch(line) and len(line.split()) <= MAX_LINK_WORDS and not line.endswith("."):
        return True
    return opening_line and bool(_SECTION_LABEL_RE.fullmatch(line))


def masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the characters of ``spans`` made spaces: every offset stays where it was."""
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], " " * (end - start)]
        last = end
    parts.append(text[last:])
    return "".join(parts)
