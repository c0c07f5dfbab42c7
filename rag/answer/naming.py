"""Who a written claim names, and as what: the people and titles that the strict judge
(``rag.answer.support``) checks stand in the supporting sentences as they stand in the claim.

* A capitalised run that opens with words WordNet knows and goes on with words it does not is
  a title and its holder ("General Staff Valery Gerasimov", after "Chief of"); known words alone
  mention a title ("General Staff"). A title the claim mentions goes with one of the people the
  span gives it to: "the Chief of General Staff is Sergei Shoigu" does not hold where the span
  says "Minister of Defense Sergei Shoigu, Chief of General Staff Valery Gerasimov".
* A person named in full is not someone else of that surname in the span: "Vladimir Kadyrov"
  is not "Ramzan Kadyrov".
* A person the question names is given to an answer only where the answer names them in the
  question's own words ("the secret talks involving Kadyrov" for a question about "the secret
  talks involving Kadyrov"); named in other words ("Kadyrov is a Russian President"), they must
  stand in the support like any name.

English only, and only as good as WordNet's vocabulary: an unknown title word ("Ombudsman")
reads as part of a name, and then nothing is checked for it.
"""

from __future__ import annotations

from rag.language.analysis import index_terms, words
from rag.language.lexicon import load_lexicon
from rag.language.patterns import POSSESSIVE_RE
from rag.language.questions import capitalised_runs, people
from rag.language.terms import variant_of

Titles = frozenset[tuple[tuple[str, ...], str]]


def name_key(name: str) -> list[str]:
    """The term a name is known by: its last ("chamber" for "Harold Chambers's")."""
    terms = index_terms(POSSESSIVE_RE.split(name)[0])
    return terms[-1:]


def _runs(text: str) -> list[tuple[list[str], list[str]]]:
    """Each capitalised run of ``text`` as (title words WordNet knows, the name words after)."""
    lexicon = load_lexicon()
    if not lexicon.available:
        return []
    out = []
    for run in capitalised_runs(text, lexicon.knows):
        parts = POSSESSIVE_RE.split(run)[0].split()
        known = 0
        while known < len(parts) and lexicon.knows(parts[known]):
            known += 1
        out.append((parts[:known], parts[known:]))
    return out


def names_in(text: str) -> tuple[Titles, frozenset[tuple[str, ...]], frozenset[tuple[str, str]]]:
    """What ``text`` says of people, from one reading of its capitalised runs: the titles it
    gives them, as (title terms, holder's last term); the titles it mentions, given or not; and
    the (first, last) term of each name of more than one word, titles left off."""
    held, mentioned, full = set(), set(), set()
    for title_words, name_words in _runs(text):
        title, name = tuple(index_terms(" ".join(title_words))), index_terms(" ".join(name_words))
        if title:
            mentioned.add(title)
        if title and name:
            held.add((title, name[-1]))
        if len(name) > 1:
            full.add((name[0], name[-1]))
    return frozenset(held), frozenset(mentioned), frozenset(full)


def titles_kept(mentioned: frozenset[tuple[str, ...]], names: frozenset[str], titles: Titles) -> bool:
    """Whether each title a claim mentions that the span gives someone (``titles``) goes with
    one of its holders among the claim's ``names``."""
    holders: dict[tuple[str, ...], set[str]] = {}
    for title, holder in titles:
        holders.setdefault(title, set()).add(holder)
    return all(
        any(variant_of(holder, names) for holder in holders[title])
        for said in mentioned
        for title in holders
        if _same_title(said, title)
    )


def _same_title(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """ "Russian President" and "President" are one title; "General Staff" and "Staff" too."""
    return a[-len(b) :] == b or b[-len(a) :] == a


def same_people(claimed: frozenset[tuple[str, str]], in_span: frozenset[tuple[str, str]]) -> bool:
    """Whether no one named in full in a claim is someone else of that surname in the span."""
    return all((first, last) in in_span or not any(other == last for _, other in in_span) for first, last in claimed)


def named_in_other_words(question: str, claim: str) -> set[str]:
    """The name keys of the people ``question`` names that ``claim`` names otherwise than the
    question does: somewhere without a word beside it as in the question."""
    asked, said = words(question), words(claim)
    pairs = set(zip(asked, asked[1:]))
    out: set[str] = set()
    for person in people(question, load_lexicon()):
        last = words(person)[-1:]
        if not all(_copied(said, i, pairs) for i, word in enumerate(said) if word in last):
            out.update(name_key(person))
    return out


def _copied(said: list[str], i: int, pairs: set[tuple[str, str]]) -> bool:
    """Whether ``said[i]`` stands with a word beside it as in the question (``pairs``)."""
    return (i > 0 and (said[i - 1], said[i]) in pairs) or (i + 1 < len(said) and (said[i], said[i + 1]) in pairs)
