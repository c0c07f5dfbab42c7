"""Questions that ask what a name is ("Who is Kadyrov?", "What is Grozny Inform?"), and the
sentences that say it.

Such a question's only term is the name, so every sentence that mentions it covers the
question in full, and the one that happens to rank first may say nothing about who or what
it is. News text describes a name where it introduces it, in one of two shapes:

* a description beside it, set off by commas: "Kadyrov, the head of Chechnya, has been ...",
  "Mikhail Kasyanov, Russia's prime minister from 2000-2004, ...", "the Akhmat unit's
  commander, Apti Alaudinov, said ...";
* a title or common noun just before it: "Chechen leader Ramzan Kadyrov", "political and
  security analyst Harold Chambers", "the government-run news agency Grozny Inform",
  "President Vladimir Putin".
"""

from __future__ import annotations

import re

from rag.language.analysis import INDEX_STOPWORDS
from rag.language.lexicon import Lexicon

_NAME_WORD = r"[A-Z][\w’'-]*"
_DEFINITION_RE = re.compile(rf"^\s*(?i:who|what)\s+(?i:is|was|are|were)\s+({_NAME_WORD}(?:\s+{_NAME_WORD})*)\s*\?*\s*$")
_POSSESSIVE = r"(?:[’']s)?"
# After the name: a description that opens like one ("Kadyrov, the head of ...", "Kasyanov,
# Russia's prime minister", "Kadyrov, who ...").
_DESCRIPTION_AFTER = re.compile(rf"^{_POSSESSIVE}\s*,\s+(?:a|an|the|who|whose|{_NAME_WORD}[’']s)\b")
# "According to Chambers, Kadyrov's rule ...": what follows the comma is the report, not a
# description of the source.
_ATTRIBUTION_RE = re.compile(rf"\b(?i:according\s+to)\s+(?:{_NAME_WORD}\s+)*$")


def defined_name(question: str) -> str | None:
    """The name a question asks about ("Who is Ramzan Kadyrov?" -> "Ramzan Kadyrov"), or None
    when it asks something else ("Who is the Russian envoy?" wants a name, not a description)."""
    match = _DEFINITION_RE.match(question)
    return match.group(1) if match else None


def describes(sentence: str, name: str, lexicon: Lexicon | None) -> bool:
    """Whether ``sentence`` says what ``name`` is, in one of the two shapes above. A surname
    alone stands for the full name, as articles use it after the first mention."""
    surname = name.split()[-1]
    for found in re.finditer(rf"\b{re.escape(surname)}\b", sentence):
        before, after = sentence[: found.start()], sentence[found.end() :]
        if _DESCRIPTION_AFTER.match(after) and not _ATTRIBUTION_RE.search(before):
            return True
        if _titled(before, after, lexicon):
            return True
    return False


def _titled(before: str, after: str, lexicon: Lexicon | None) -> bool:
    """Whether the words before a name (its given names, then what precedes them) hold a title:
    a capitalised word for a kind of person ("President", "Minister"), or a common noun just
    before the name ("leader", "analyst", "agency"). A noun set off by a comma counts only
    when the name is set off too ("the unit's commander, Apti Alaudinov, said"), since "In his
    speech, Kadyrov said" is no description."""
    if lexicon is None or not lexicon.available:
        return False
    words = before.split()
    while words and words[-1][0].isupper() and not _ends_a_phrase(words[-1]):
        word = words.pop()
        if lexicon.is_person(word):
            return True
        if lexicon.knows(word) and not lexicon.base_forms(word, "n"):
            return False  # no name nor title ("Relations Between Putin ...", a headline)
    if not words:
        return False
    word = words[-1].rstrip(",")
    if not word.isalpha() or not word.islower() or word in INDEX_STOPWORDS:
        return False
    if words[-1].endswith(",") and not re.match(rf"^{_POSSESSIVE}\s*,", after):
        return False
    return lexicon.is_person(word) or _only_a_noun(word, lexicon)


def _ends_a_phrase(word: str) -> bool:
    """A comma or a function word ends the run of capitalised words before a name: "According
    to Chambers, Kadyrov's ...", "Relations Between Putin and ..." (a headline)."""
    return word.endswith(",") or word.lower() in INDEX_STOPWORDS


def _only_a_noun(word: str, lexicon: Lexicon) -> bool:
    """A noun that is no verb: "agency", "outlet", but not "challenge" ("could challenge
    Putin's control") nor "says" ("..., says Kadyrov")."""
    return bool(lexicon.base_forms(word, "n")) and not lexicon.base_forms(word, "v")
