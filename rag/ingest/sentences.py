"""Sentence boundaries as character spans, so every sentence can be quoted verbatim.

A rule-based splitter (no model to download): a sentence ends at ``.``, ``!``, ``?`` or ``…``
(with any closing quotes or brackets) followed by white space, unless the word before the
full stop is a known abbreviation or an initial. A blank line always ends a sentence; a single
line break ends one when the line looks finished (terminal punctuation), is short like a
heading (and the next line does not carry on in lower case), or the next line starts a list
item. Hard-wrapped prose therefore stays whole, even when wrapped narrow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "gen",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "gov",
        "sen",
        "rep",
        "maj",
        "no",
        "nos",
        "fig",
        "figs",
        "approx",
        "dept",
        "est",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "al",
    ]
)

# Citation markers written straight after the stop ("in 1894.[1] It ...") stay with the sentence.
_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?:\[\d+\])*(?=\s)")
_LIST_ITEM_RE = re.compile(r"\s*(?:[-*•‣◦▪]|\d{1,3}[.)])\s")
_TERMINAL = tuple('.!?…:;"”’)')
_HEADING_MAX_CHARS = 60


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the sentences in ``text[start:end]``, trimmed of surrounding white space."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    for block_start, block_end in _blocks(text, start, end):
        cursor = block_start
        for match in _END_RE.finditer(text, block_start, block_end):
            if _is_abbreviation(text, block_start, match.start(), match.group()):
                continue
            spans.extend(_trimmed(text, cursor, match.end()))
            cursor = match.end()
        spans.extend(_trimmed(text, cursor, block_end))
    return spans


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split at the line breaks that end a sentence on their own."""
    blocks = []
    block_start = start
    line_start = start
    while True:
        newline = text.find("\n", line_start, end)
        if newline < 0:
            break
        line = text[line_start:newline].strip()
        next_line_end = text.find("\n", newline + 1, end)
        next_line = text[newline + 1 : end if next_line_end < 0 else next_line_end]
        if _line_break_ends_sentence(line, next_line):
            blocks.append((block_start, newline))
            block_start = newline + 1
        line_start = newline + 1
    blocks.append((block_start, end))
    return blocks


def _line_break_ends_sentence(line: str, next_line: str) -> bool:
    return (
        not line
        or not next_line.strip()
        or line.endswith(_TERMINAL)
        or (len(line) <= _HEADING_MAX_CHARS and not _continues(line, next_line))
        or bool(_LIST_ITEM_RE.match(next_line))
    )


def _continues(line: str, next_line: str) -> bool:
    """Whether a short line is prose wrapped early rather than a heading: the next line goes on
    in lower case ("The lighthouse keeper / was named ..."), or the line stops on a word that
    cannot end a sentence ("the ferry to the / Isle of Wight")."""
    following = next_line.lstrip()
    return following[:1].islower() or line.rsplit(None, 1)[-1].lower() in _UNFINISHED


_UNFINISHED = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "at", "for", "from", "with", "by", "and", "or", "but", "as"]
)


def _is_abbreviation(text: str, block_start: int, stop: int, punctuation: str) -> bool:
    if punctuation != ".":
        return False
    word_start = stop
    while word_start > block_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:stop].lstrip("(\"'“‘").lower()
    # A single letter before the stop is an initial ("J. Smith"), unless it ends the text.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _trimmed(text: str, start: int, end: int) -> list[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [Span(start, end)] if end > start else []
