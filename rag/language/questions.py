"""What a question asks: the kind of thing it wants (a number, a date, a person, a place, a
name), the names it gives, what a "how many" question counts, and its terms with the words
related to them in meaning; and whether a sentence holds a thing of the wanted kind.

``analyse_question`` gathers all of it in one record, ``AnalysedQuestion``, that the answer's
evidence (``rag.answer.evidence``) reads sentence after sentence. The record knows nothing of
the index: how much each term weighs there is the evidence's business.

Trade-offs: English only, by the patterns of ``rag.language.patterns`` and WordNet
(``rag.language.lexicon``); without WordNet, names are not told from places or from common
words, and ``people`` finds none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from rag.language.analysis import QUESTION_STOPWORDS, fold, index_terms, question_words, stem_all, words
from rag.language.lexicon import Lexicon
from rag.language.patterns import (
    ACRONYM_RE,
    ASKS_FOR_AGE_RE,
    ASKS_FOR_YEARS_RE,
    BIRTH_RE,
    COUNTED_RE,
    DATE_RE,
    DAY_OF_MONTH_RE,
    LIST_SEPARATOR,
    LOCATIONS,
    MEASURED_RE,
    NAME_PARTICLES,
    NAME_RE,
    NUMBER_RE,
    OPENERS,
    OPENING_RE,
    PLACE_NAME_RE,
    PLACE_RE,
    POSSESSIVE_RE,
    SENTENCE_END,
    TITLE_NOUNS,
    TOKEN_RE,
    TYPE_PATTERNS,
    YEAR_RE,
    alternation,
)
from rag.language.terms import Relatives, related_in, variant_of

# The word for an office, which ends a title: "President", "Prime Minister", "Vice-President".
TITLE_WORD_RE = re.compile(rf"(?:{alternation(TITLE_NOUNS)})", re.I)
# A name in the possessive, and the name that owns: "South Korea’s", "the Netherlands’".
OWNER_RE = re.compile(r"(.+?)(?:[’']s|(?<=s)[’'])")
COUNTED_WORDS = 3  # "how many freed Chechen captives": a count names its thing within a few words
# A question opened by at most this many words before its wh-word is opened by it: "In which
# village ...", "In spring 2023, how many ...".
OPENING_WORDS = 3
# Kinds whose absence from a sentence is telling: a count or a date is written as one, while
# "who" and "where" are often answered by a description.
MEASURED_KINDS = frozenset(["number", "date"])


# ----------------------------------------------------------------------------------------
# The kind of thing asked for


def question_type(question: str) -> str | None:
    """What kind of thing the question asks for: number, date, person, place, name or None.

    The wh-word that opens the question decides ("In which village ..."). When the question
    opens with something else ("According to Antonov, the troops should go back to where they
    were before which date?"), the last wh-word that asks for a kind of thing decides.
    """
    openings = list(OPENING_RE.finditer(question))
    if not openings:
        return _type_at(question)
    if len(question[: openings[0].start()].split()) <= OPENING_WORDS:
        return _type_at(question[openings[0].start() :])
    kinds = [_type_at(question[o.start() :]) for o in openings]
    return next((kind for kind in reversed(kinds) if kind), None)


def _type_at(asked: str) -> str | None:
    return next((name for name, pattern in TYPE_PATTERNS if pattern.search(asked)), None)


def has_answer_type(
    kind: str | None,
    sentence: str,
    question: str,
    asked: set[str] | None = None,
    lexicon: Lexicon | None = None,
) -> bool:
    """Whether ``sentence`` holds a thing of the wanted kind that the question does not (for a
    ``name``, neither a title nor a place: ``things_of_kind``).

    ``asked`` is the question's index terms, when the caller has them already. A year is not
    a count: "How many soldiers died?" is not answered by "in 2024", nor "How old is he?" unless
    the year is one of birth. ``lexicon`` tells places from other names; without one, any name
    after a preposition of place counts.
    """
    if kind is None:
        return False
    asked = set(index_terms(question)) if asked is None else asked
    counting = kind == "number" and not ASKS_FOR_YEARS_RE.search(question)
    if ASKS_FOR_AGE_RE.search(question):
        counting = not BIRTH_RE.search(sentence)
    for thing in things_of_kind(kind, sentence, lexicon):
        if counting and YEAR_RE.match(thing.rstrip(".,")):
            continue
        terms = index_terms(thing)
        if kind == "number" and not terms:
            terms = [fold(thing)]
        if terms and not set(terms) <= asked:
            return True
    return False


def things_of_kind(kind: str, text: str, lexicon: Lexicon | None = None) -> list[str]:
    """The things of ``kind`` that ``text`` holds, as written (numbers, dates, places, names)."""
    if kind == "number":
        return NUMBER_RE.findall(text)
    if kind == "date":
        return DATE_RE.findall(text)
    if kind == "place":
        return _places(text, lexicon)
    names = NAME_RE.findall(text) + ACRONYM_RE.findall(text)
    if kind == "name":
        return [name for name in names if not _place_or_title(name, lexicon)]
    return names  # person


def _place_or_title(name: str, lexicon: Lexicon | None) -> bool:
    """Whether a capitalised name is a title ("as President", "Mexico’s Vice-President": it ends
    in the word for an office) or a place that owns something ("Russia’s", "South Korea’s", "the
    Netherlands’", a place by WordNet and nothing else): neither names the agency, newspaper,
    ship or law that a "which ..." question of the ``name`` kind asks for. A name opened by "The"
    ("The Economist") or written in capitals ("MAN") is a name; a place alone may be one ("the
    Lusitania"). Trade-off: a name that ends in an office ("Burger King") is taken for a title."""
    words = POSSESSIVE_RE.sub(" ", name).split()
    if not words or words[0] == "The" or name.isupper():
        return False
    if TITLE_WORD_RE.fullmatch(words[-1].split("-")[-1]):
        return True
    owner = OWNER_RE.fullmatch(name)
    return owner is not None and lexicon is not None and lexicon.is_only(owner.group(1), LOCATIONS)


def _places(text: str, lexicon: Lexicon | None) -> list[str]:
    """Names that are places: after a preposition of place ("near Kyiv and Chernihiv") unless
    WordNet knows the word as something else ("in April", "in Russian foreign policy"), or
    filed under location by WordNet ("Ukraine"); "Vladimir Putin" is not one."""
    listed = [name for group in PLACE_RE.findall(text) for name in re.split(LIST_SEPARATOR, group)]
    if lexicon is None or not lexicon.available:
        return listed
    located = [name for name in listed if lexicon.is_a(name, LOCATIONS) or not lexicon.knows(name)]
    known = [name for name in NAME_RE.findall(text) if lexicon.is_a(name, LOCATIONS)]
    return located + known


# ----------------------------------------------------------------------------------------
# Names


def capitalised_runs(text: str, ordinary: Callable[[str], bool] | None = None) -> list[str]:
    """Runs of capitalised words, in any alphabet ("Mesut Özil", "Osama bin Laden"). A word
    opening a sentence is capitalised anyway: it is left out when it is a function word or,
    by ``ordinary``, a common word ("The Kremlin" is "Kremlin", "Meanwhile Lavrov" is
    "Lavrov"; "According", "Critics" and "He" are nothing)."""
    runs: list[list[str]] = []
    current: list[str] = []
    sentence_start = True
    for word in TOKEN_RE.findall(text):
        if not word[0].isalpha():  # punctuation or a number ends a name
            sentence_start = sentence_start or word in SENTENCE_END
            current = _close(current, runs)
            continue
        if sentence_start and _opens_sentence_only(word, ordinary):
            sentence_start = False
            continue
        if word[0].isupper() or (current and word in NAME_PARTICLES):
            current.append(word)
        else:
            current = _close(current, runs)
        sentence_start = False
    _close(current, runs)
    return [" ".join(run) for run in runs]


def _opens_sentence_only(word: str, ordinary: Callable[[str], bool] | None) -> bool:
    lower = word.lower()
    return lower in QUESTION_STOPWORDS or lower in OPENERS or bool(ordinary and ordinary(word))


def _close(run: list[str], runs: list[list[str]]) -> list[str]:
    while run and run[-1] in NAME_PARTICLES:
        run.pop()
    if run:
        runs.append(run)
    return []


def people(text: str, lexicon: Lexicon | None) -> list[str]:
    """Names in ``text`` (plain words: strip an answer's markers first) that may be people, full names first ("Apti Alaudinov", then
    "Kadyrov"): not places, not words WordNet knows as something else ("Telegram", "Chechen",
    which is also an adjective), while a person WordNet knows ("Putin") stays."""
    if lexicon is None or not lexicon.available:
        return []
    places = {name for pair in PLACE_NAME_RE.findall(text) for name in pair if name}

    def person(name: str) -> bool:
        if name in places or name.isupper() or lexicon.is_a(name, LOCATIONS):
            return False
        known_as_other = lexicon.knows(name) and not lexicon.is_person(name)
        return not known_as_other and not lexicon.base_forms(name.lower(), "a")

    # "Russia’s Kursk" is two names, "Kadyrov’s" is "Kadyrov".
    names = [part for name in capitalised_runs(text, lexicon.knows) for part in POSSESSIVE_RE.split(name) if part]
    found = [name for name in dict.fromkeys(names) if person(name)]
    return [n for n in found if " " in n] + [n for n in found if " " not in n]


def surnames(names: list[list[str]]) -> dict[str, str]:
    """For each full name (its index terms), its first terms mapped to its last: after the
    first mention, an article calls "Harold Chambers" "Chambers" and "Chris Costa" "Mr Costa"."""
    out: dict[str, str] = {}
    for terms in names:
        for term in terms[:-1]:
            out.setdefault(term, terms[-1])
    return out


# ----------------------------------------------------------------------------------------
# Terms: counted, related


def counted_terms(question: str) -> list[str]:
    """The terms of what a "how many" question counts: the words after "how many", up to the
    first function word ("How many prisoners were swapped?" -> ["prison"])."""
    match = COUNTED_RE.search(question)
    if not match:
        return []
    counted = []
    for word in words(match.group(1))[:COUNTED_WORDS]:
        if word in QUESTION_STOPWORDS:
            break
        counted.append(word)
    return stem_all(counted)


def related_terms(question: str, lexicon: Lexicon | None) -> tuple[list[str], Relatives]:
    """The question's terms, and for each the stemmed words related to it in meaning (a
    multi-word relative such as "prisoner of war" is a tuple of stems, all of which must be
    present). The word a "how" question measures by gets none (``MEASURED_RE``)."""
    question_word_list = question_words(question)
    stems = stem_all(question_word_list)
    terms = list(dict.fromkeys(stems))
    related: dict[str, set[tuple[str, ...]]] = {t: set() for t in terms}
    if lexicon is not None and lexicon.available:
        measured = set(MEASURED_RE.findall(question.lower()))
        for word, term in zip(question_word_list, stems, strict=True):
            if word not in measured:
                related[term].update(_relative_stems(lexicon, word, term))
    return terms, {t: tuple(sorted(phrases)) for t, phrases in related.items()}


@lru_cache(maxsize=4096)
def _relative_stems(lexicon: Lexicon, word: str, term: str) -> frozenset[tuple[str, ...]]:
    """The stemmed relatives of one question word (stemming them is most of an ask's lexicon
    cost, and question words repeat)."""
    out = set()
    for relative in lexicon.related(word):
        stems = tuple(index_terms(relative))
        # "go for" is not "go": a phrase reduced to one word by its stop words would match
        # that word's every use.
        if stems and stems != (term,) and (len(stems) > 1 or " " not in relative):
            out.add(stems)
    return frozenset(out)


# ----------------------------------------------------------------------------------------
# The analysis record


@dataclass(frozen=True)
class AnalysedQuestion:
    """Everything about a question that sentences are measured against."""

    terms: list[str]  # every term of the question, in its order, once
    related: Relatives
    related_credit: float  # how much of a term's weight a relative of it earns
    kind: str | None  # what it asks for (``question_type``)
    asked: set[str]  # every index term of the question, for telling its own names from new ones
    lexicon: Lexicon | None
    names: list[list[str]]  # the index terms of each name the question gives
    surnames: dict[str, str]  # a full name's other terms -> its last one ("harold" -> "chamber")
    counted: list[str]  # the terms of what a "how many" question counts ("prisoners")

    def match(self, term: str, terms: frozenset[str]) -> float:
        """1 when ``terms`` hold ``term`` or a spelling variant, ``related_credit`` when they
        hold only a word related in meaning, else 0."""
        if variant_of(term, terms):
            return 1.0
        if related_in(self.related.get(term, ()), terms):
            return self.related_credit
        return 0.0

    def counts(self, sentence: str) -> bool:
        """Whether ``sentence`` gives a number of the thing counted: "314 prisoners", "five
        Chechen POWs" (a relative of "captives"), not "20 Chechen soldiers" for "how many
        prisoners"."""
        for number in NUMBER_RE.finditer(sentence):
            if YEAR_RE.match(number.group()) or DAY_OF_MONTH_RE.search(sentence, 0, number.start()):
                continue  # "on February 5 prisoners were ...": a date, not a count
            following = frozenset(stem_all(words(sentence[number.end() :])[:COUNTED_WORDS]))
            if any(self.match(term, following) for term in self.counted):
                return True
        return False


def analyse_question(question: str, lexicon: Lexicon | None = None, related_credit: float = 0.8) -> AnalysedQuestion:
    terms, related = related_terms(question, lexicon)
    names = [name_terms for name in NAME_RE.findall(question) if (name_terms := index_terms(name))]
    return AnalysedQuestion(
        terms=terms,
        related=related,
        related_credit=related_credit,
        kind=question_type(question),
        asked=set(index_terms(question)),
        lexicon=lexicon,
        names=names,
        surnames=surnames(names),
        counted=counted_terms(question),
    )
