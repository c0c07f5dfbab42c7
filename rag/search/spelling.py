"""Names spelt otherwise than the articles spell them: "Kadryov" read as "Kadyrov", "Zelenskyy"
as "Zelensky", "Medinsky" as the article's own "Medisnky".

Without this a misspelt name finds nothing: retrieval searches for a word the index has never
seen, and the composer refuses, because the question names something no passage mentions.

A question word is respelt only when it is written with a capital, as names are, has at least
five letters, is a word the index has never seen and one WordNet does not know (an English word
the articles do not use is a paraphrase, not a slip), and an index term lies one edit away: a
letter left out, added, or two neighbours swapped, or, for a word of six letters or more, one
letter changed ("Kadirov"), as names are transliterated in several ways. Of several such terms
the most frequent wins. The answer then says how the question was read
(``Answer.understood_as``), so a wrong guess shows.

Lower-case words are left as written. In ClapNQ's lower-case questions, asked of ClapNQ's,
SciFact's and the seeds' indexes, the words one edit from an index term were mostly other
words and other names ("agustin" read as "austin", "parton" as "patron", "juliet" as
"julie"), not slips.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.language.analysis import QUESTION_STOPWORDS, fold, stem_all
from rag.language.terms import TermStatistics

MIN_LETTERS = 5
MIN_LETTERS_TO_CHANGE_ONE = 6
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_WORD_RE = re.compile(r"[^\W\d_]+")


def respell(question: str, index: TermStatistics, knows: Callable[[str], bool]) -> str:
    """``question`` with each word the index lacks replaced by the one-edit spelling it has,
    where there is one (see the module docstring); ``question`` itself when nothing changes."""
    out, cursor = [], 0
    for match in _WORD_RE.finditer(question):
        word = match.group()
        better = _respelt(word, index, knows)
        if better is not None:
            out += [question[cursor : match.start()], better]
            cursor = match.end()
    return "".join(out) + question[cursor:] if out else question


def _respelt(word: str, index: TermStatistics, knows: Callable[[str], bool]) -> str | None:
    folded = fold(word)
    if not word[0].isupper() or len(folded) < MIN_LETTERS or not folded.isascii() or folded in QUESTION_STOPWORDS:
        return None
    (stem,) = stem_all([folded])
    if index.document_frequencies([stem])[stem] > 0 or knows(folded):
        return None
    edits = sorted(one_edit(folded, change=len(folded) >= MIN_LETTERS_TO_CHANGE_ONE))
    stems = stem_all(edits)
    frequencies = index.document_frequencies(sorted(set(stems)))
    found = [(frequencies[s], edit) for edit, s in zip(edits, stems) if frequencies[s] > 0]
    if not found:
        return None
    _, best = min((-frequency, edit) for frequency, edit in found)
    return best.capitalize()


def one_edit(word: str, change: bool = False) -> set[str]:
    """The spellings one edit from ``word``: a letter left out, added or (with ``change``)
    changed, or two neighbouring letters swapped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {left + right[1:] for left, right in splits if right}
    out |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    out |= {left + letter + right for left, right in splits for letter in _ALPHABET}
    if change:
        out |= {left + letter + right[1:] for left, right in splits if right for letter in _ALPHABET}
    out.discard(word)
    return out
