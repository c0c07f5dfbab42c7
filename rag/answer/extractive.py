"""The offline answer: the retrieved sentences that best answer the question, quoted verbatim
with ``[n]`` markers, or a plain refusal when the evidence does not answer it.

Every sentence of the retrieved passages is a candidate. What the composer measures on each
(``Evidence``, all in [0, 1]):

* **coverage**: the share of the question's meaningful terms (stems, weighted by inverse
  document frequency in the index) that the sentence contains; a term found only in the
  sentence next to it counts half ("He said ..." takes its subject from the sentence before).
  A spelling or word-form variant ("defence"/"defense", "Russia"/"Russian") counts as found;
  a word related in meaning (``rag.language.lexicon``: "freed"/"released", "captives"/"POWs") earns
  ``related_credit`` of the term's weight. A full name in the question is met by its surname
  alone ("Harold Chambers" by "Chambers": articles name a person in full once).
* **passage coverage**: the same over the whole retrieved passage.
* **missing share**: the share of the question's terms, *unweighted*, that neither the
  sentence nor its neighbours hold. Weighting by rarity makes coverage about the topic (the
  rare names that retrieval matched anyway); unweighted, the common words that say *what* is
  asked about the topic ("died", "first", "population") count as much, and they are what an
  on-topic passage that does not answer lacks.
* **rare coverage**: whether the question's two rarest terms that the index knows are in the
  sentence or beside it.
* **unseen share**: the weight of question terms the index has never seen (nor a variant or
  a relative of them). High for questions about things the documents never mention.
* **answer type**: "how many" wants a number, "when" a date, "who" a name, "where" a place,
  "which newspaper" a name. 1 when the sentence holds such a thing *beyond what the question
  already says*, else 0. A year is not a count, and a place is a name after a preposition of
  place that WordNet does not know as something else ("in April", "in Russian politics"), or
  one it files under location, so "Vladimir Putin" does not answer "which country".
* **type missing**: 1 when the question asks for a count or a date and the sentence holds
  none. A missing name or place says less: "who" and "where" are often answered by a
  description ("the man who founded it", "where the river meets the sea").
* **top passage**: whether the sentence is from the best-ranked passage.

A question that names things ("Which magazine did Putin write in?") is refused outright when
the best sentence's passage mentions none of them: whatever it says, it is about something
else, and a question built on a false premise would otherwise get a confident answer from a
neighbouring fact (the analyst who wrote in a magazine). Names are words capitalised inside
the question, so a question written in lower case is left to the model alone.

Sentences are ranked by ``SentenceScorer`` (coverage first, then passage coverage, answer type,
retrieval rank, less for headings and fragments). The answer is the best sentence, plus the
runner-up when it is nearly as good and adds something new; a sentence opening with "he",
"they", "it" or "these" (not "this", which points at an event) brings the one before it,
which says who or what, and the best sentence brings the one after it when that one
qualifies it ("Not in a medical sense ..."). Whether to answer at all is
``AbstentionModel``'s call: a logistic model of P(the best sentence answers the question) on
the best sentence's evidence, fitted on ClapNQ by ``benchmarks/calibrate_abstention.py``; see
docs/EVALUATION.md for the data, the held-out figures and the trade-off curve.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Protocol

from rag.answer.citations import MARKER_RE, check_sentences, passages_of
from rag.answer.definitions import defined_name, describes
from rag.ingest.sentences import split_sentences
from rag.language.analysis import QUESTION_STOPWORDS, fold, index_terms, question_words, stem_all, words
from rag.language.lexicon import Lexicon, load_lexicon
from rag.records import Answer, Citation, Hit

REFUSAL = "The documents do not say."

# The evidence weighs terms as if the index held at least this many chunks: about the size of
# the smallest index the abstention model was fitted on (seeds/, 51 chunks). In a tinier one,
# rarity says little (every word is in one chunk of one), yet a word the index has never seen
# would outweigh the seen ones many times over, far from anything the model was fitted on: in
# a one-sentence index, "What colour is the sky over Xanadu?" read as mostly about something
# never mentioned. Indexes of this size or more are unaffected. docs/EVALUATION.md, "Small
# indexes", measures it.
EVIDENCE_MIN_CHUNKS = 50


class TermStatistics(Protocol):
    @property
    def chunk_count(self) -> int: ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class Evidence:
    """What the best sentence offers towards answering the question; see the module docstring."""

    coverage: float
    passage_coverage: float
    missing_share: float
    rare_coverage: float
    unseen_share: float
    answer_type: float
    type_missing: float
    top_passage: float

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class AbstentionModel:
    """Logistic model of P(the best sentence answers the question) from its ``Evidence``.

    Answer when the probability reaches ``threshold`` (0 turns abstention off). The numbers are fitted by
    ``benchmarks/calibrate_abstention.py`` (ClapNQ dev, train half, plus out-of-scope
    negatives); docs/EVALUATION.md records the data, the operating point and the curve.
    """

    bias: float = -3.75
    coverage: float = 2.24
    passage_coverage: float = 1.61
    missing_share: float = -0.34
    rare_coverage: float = 0.33
    unseen_share: float = -3.27
    answer_type: float = 0.1
    type_missing: float = -0.56
    top_passage: float = 0.92
    threshold: float = 0.48

    def probability(self, evidence: Evidence) -> float:
        z = self.bias + sum(getattr(self, name) * value for name, value in evidence.as_dict().items())
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class SentenceScorer:
    """How candidate sentences are ranked: a weighted sum of their evidence."""

    coverage: float = 1.0
    passage_coverage: float = 0.5
    answer_type: float = 0.25
    rank_prior: float = 0.2
    definition: float = 1.0  # "Who is X?": a sentence that says what X is ("X, the head of ...")
    counted: float = 0.5  # "How many prisoners ...?": a number of prisoners, not of soldiers
    heading_penalty: float = 0.6
    fragment_penalty: float = 0.3
    long_penalty: float = 0.15


@dataclass(frozen=True)
class ComposerSettings:
    """``related_credit``: how much of a question term's weight a WordNet relative of it earns
    when the term itself is absent ("freed" met by "released"); ``use_lexicon=False`` turns
    relatives off, leaving exact words and spelling variants."""

    evidence_hits: int = 6
    max_sentences: int = 3
    second_sentence_ratio: float = 0.8
    related_credit: float = 0.8
    use_lexicon: bool = True
    scorer: SentenceScorer = SentenceScorer()
    abstention: AbstentionModel = AbstentionModel()


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, located in its source."""

    hit_rank: int
    source: str
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    terms: frozenset[str]
    context_terms: frozenset[str]
    passage_terms: frozenset[str]


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    evidence: Evidence
    # The question names things ("Putin", "UnHerd") and the sentence's passage mentions none of
    # them: whatever the sentence says, it is not about what was asked.
    names_absent: bool = False
    # It says what was asked in so many words: "314 prisoners" for "How many prisoners ...?",
    # "Kadyrov, the head of Chechnya," for "Who is Kadyrov?". Such a sentence leads the answer.
    direct: bool = False

    @property
    def features(self) -> dict[str, float]:
        return self.evidence.as_dict()


# ----------------------------------------------------------------------------------------
# Question analysis

# Alternations for the regular expressions below.
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    "thousands?|millions?|billions?|dozens?|half|quarter|several"
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow"
_SEASONS = "spring|summer|autumn|fall|winter|century|decade"

_NUMBER_RE = re.compile(rf"\b\d[\d,.]*%?|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_DATE_RE = re.compile(
    rf"\b(?:1[0-9]\d\d|20\d\d|\d{{2,4}}s|{_MONTHS}|{_DAYS}|{_SEASONS})\b|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b",
    re.IGNORECASE,
)
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:bin\s+|al\s+|de\s+|von\s+)?[A-Z][\w’'-]+)*")
_ACRONYM_RE = re.compile(r"\b[A-Z]{2,}[A-Za-z]*\b")
_LIST_SEPARATOR = r",\s*|\s+and\s+|\s+or\s+"
_PLACE_RE = re.compile(
    r"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?"
    rf"([A-Z][\w’'-]+(?:(?:{_LIST_SEPARATOR})[A-Z][\w’'-]+)*)"
)
_LOCATIONS = frozenset(["location", "region"])

# Nouns whose "which ..." or "what ..." question asks for a proper name.
_NAMED_THINGS = (
    "agency|newspaper|paper|magazine|journal|broadcaster|channel|network|station|outlet|publication|"
    "company|firm|corporation|organi[sz]ation|group|party|team|club|band|label|brand|unit|regiment|"
    "university|college|school|ship|warship|vessel|holiday|festival|operation|programme|program|"
    "law|treaty|album|song|film|movie|book|novel|show|series|award|prize"
)

_PERSON_NOUNS = (
    "person|people|man|woman|official|officials|leader|minister|analyst|expert|president|commander|general|"
    "king|queen|actor|actress|singer|player|author|writer|director|diplomat|envoy|ambassador|negotiator|"
    "politician|journalist|reporter|spokesman|spokeswoman|founder|inventor|scientist|chief|head"
)
_PLACE_NOUNS = (
    "country|countries|city|cities|region|place|town|village|republic|state|province|continent|island|river|capital"
)
_TIME_NOUNS = "year|day|date|month|time|century|decade"
# Kinds whose absence from a sentence is telling: a count or a date is written as one, while
# "who" and "where" are often answered by a description.
_MEASURED = frozenset(["number", "date"])
_MODIFIERS = r"(?:[\w-]+\s+){0,3}"  # "which top American diplomat", "which specific Middle Eastern country"

# The wh-word that opens the question decides what it asks for; a "who" later on is usually a
# relative pronoun ("How did the insiders who spoke ... describe it?").
_OPENING_RE = re.compile(r"\b(how|when|where|who|whom|whose|which|what)\b", re.I)

_TYPE_PATTERNS = [
    (
        "number",
        re.compile(
            r"^how\s+(?:many|much|long|old|often|far|big|large|tall|high)\b|\bnumber of\b"
            r"|^what (?:percentage|proportion|share|amount)\b",
            re.I,
        ),
    ),
    ("date", re.compile(rf"^when\b|^since when\b|^(?:what|which)\s+{_MODIFIERS}(?:{_TIME_NOUNS})s?\b", re.I)),
    ("person", re.compile(rf"^who(?:m|se)?\b|^(?:which|what)\s+{_MODIFIERS}(?:{_PERSON_NOUNS})s?\b", re.I)),
    # "Where does the term come from?" asks for an origin, which a place or a story may answer.
    (
        None,
        re.compile(
            r"^where\b[^?]*\b(?:come|comes|came|get|gets|got|derive[sd]?)\s+(?:\w+\s+){0,2}from\b|^where\b[^?]*\boriginat",
            re.I,
        ),
    ),
    ("place", re.compile(rf"^where\b|^(?:which|what)\s+{_MODIFIERS}(?:{_PLACE_NOUNS})\b", re.I)),
    ("name", re.compile(rf"^(?:which|what)\s+{_MODIFIERS}(?:{_NAMED_THINGS})s?\b", re.I)),
]


def question_type(question: str) -> str | None:
    """What kind of thing the question asks for: number, date, person, place, name or None.

    The wh-word that opens the question decides ("In which village ..."). When the question
    opens with something else ("According to Antonov, the troops should go back to where they
    were before which date?"), the last wh-word that asks for a kind of thing decides.
    """
    openings = list(_OPENING_RE.finditer(question))
    if not openings:
        return _type_at(question)
    if len(question[: openings[0].start()].split()) <= 3:
        return _type_at(question[openings[0].start() :])
    kinds = [_type_at(question[o.start() :]) for o in openings]
    return next((kind for kind in reversed(kinds) if kind), None)


def _type_at(asked: str) -> str | None:
    return next((name for name, pattern in _TYPE_PATTERNS if pattern.search(asked)), None)


def _things_of(kind: str, text: str, lexicon: Lexicon | None) -> list[str]:
    if kind == "number":
        return _NUMBER_RE.findall(text)
    if kind == "date":
        return _DATE_RE.findall(text)
    if kind == "place":
        return _places(text, lexicon)
    return _NAME_RE.findall(text) + _ACRONYM_RE.findall(text)  # person, name


def _places(text: str, lexicon: Lexicon | None) -> list[str]:
    """Names that are places: after a preposition of place ("near Kyiv and Chernihiv") unless
    WordNet knows the word as something else ("in April", "in Russian foreign policy"), or
    filed under location by WordNet ("Ukraine"); "Vladimir Putin" is not one."""
    listed = [name for group in _PLACE_RE.findall(text) for name in re.split(_LIST_SEPARATOR, group)]
    if lexicon is None or not lexicon.available:
        return listed
    located = [name for name in listed if lexicon.is_a(name, _LOCATIONS) or not lexicon.knows(name)]
    known = [name for name in _NAME_RE.findall(text) if lexicon.is_a(name, _LOCATIONS)]
    return located + known


_POSSESSIVE_RE = re.compile(r"[’']s\b\s*")
# A name right after a preposition of place ("in Kursk") or before a place noun ("Kursk region").
_PLACE_NAME_RE = re.compile(
    rf"(?:\b(?:in|at|from|near|into|across|outside|inside)\s+(?:the\s+)?([A-Z][\w-]+)\b(?![’'])"
    rf"|\b([A-Z][\w-]+)(?=\s+(?:{_PLACE_NOUNS})\b))"
)


_WORD_RE = re.compile(r"[^\W\d_][\w’'-]*|[^\w\s]|\d+")
_SENTENCE_END = frozenset(".!?")
_NAME_PARTICLES = frozenset(["bin", "al", "de", "von", "van", "da", "di", "del", "der", "la", "le"])
# Words that open sentences ("Although ...", "Hmm, ...") and that neither the stop words nor
# WordNet cover.
_OPENERS = frozenset(
    """although since unless whereas whether amid among toward towards upon without via per whoever
    whenever whatever wherever everyone everybody nobody anyone anybody everything someone somebody
    beside onto hmm um uh ah aha oh yep nope ok okay gotcha lol pls thanks thx hey hi hello kk""".split()  # noqa: SIM905
)


def capitalised_runs(text: str, ordinary: Callable[[str], bool] | None = None) -> list[str]:
    """Runs of capitalised words, in any alphabet ("Mesut Özil", "Osama bin Laden"). A word
    opening a sentence is capitalised anyway: it is left out when it is a function word or,
    by ``ordinary``, a common word ("The Kremlin" is "Kremlin", "Meanwhile Lavrov" is
    "Lavrov"; "According", "Critics" and "He" are nothing)."""
    runs: list[list[str]] = []
    current: list[str] = []
    sentence_start = True
    for word in _WORD_RE.findall(text):
        if not word[0].isalpha():  # punctuation or a number ends a name
            sentence_start = sentence_start or word in _SENTENCE_END
            current = _close(current, runs)
            continue
        if sentence_start and _opens_sentence_only(word, ordinary):
            sentence_start = False
            continue
        if word[0].isupper() or (current and word in _NAME_PARTICLES):
            current.append(word)
        else:
            current = _close(current, runs)
        sentence_start = False
    _close(current, runs)
    return [" ".join(run) for run in runs]


def _opens_sentence_only(word: str, ordinary: Callable[[str], bool] | None) -> bool:
    lower = word.lower()
    return lower in QUESTION_STOPWORDS or lower in _OPENERS or bool(ordinary and ordinary(word))


def _close(run: list[str], runs: list[list[str]]) -> list[str]:
    while run and run[-1] in _NAME_PARTICLES:
        run.pop()
    if run:
        runs.append(run)
    return []


def people(text: str, lexicon: Lexicon | None) -> list[str]:
    """Names in ``text`` that may be people, full names first ("Apti Alaudinov", then
    "Kadyrov"): not places, not words WordNet knows as something else ("Telegram", "Chechen",
    which is also an adjective), while a person WordNet knows ("Putin") stays."""
    if lexicon is None or not lexicon.available:
        return []
    text = " ".join(MARKER_RE.sub("", text).split())
    places = {name for pair in _PLACE_NAME_RE.findall(text) for name in pair if name}

    def person(name: str) -> bool:
        if name in places or name.isupper() or lexicon.is_a(name, _LOCATIONS):
            return False
        known_as_other = lexicon.knows(name) and not lexicon.is_person(name)
        return not known_as_other and not lexicon.base_forms(name.lower(), "a")

    # "Russia’s Kursk" is two names, "Kadyrov’s" is "Kadyrov".
    names = [part for name in capitalised_runs(text, lexicon.knows) for part in _POSSESSIVE_RE.split(name) if part]
    found = [name for name in dict.fromkeys(names) if person(name)]
    return [n for n in found if " " in n] + [n for n in found if " " not in n]


_YEAR_RE = re.compile(r"^(?:1[5-9]|20)\d\d$")
_ASKS_FOR_YEARS_RE = re.compile(r"\b(?:how\s+long|years?)\b", re.I)
# "How old is he?": a year gives an age only as a year of birth ("born in 1976").
_ASKS_FOR_AGE_RE = re.compile(r"\bhow\s+old\b", re.I)
_BIRTH_RE = re.compile(r"\b(?:born|birth)\b", re.I)


def has_answer_type(
    kind: str | None,
    sentence: str,
    question: str,
    asked: set[str] | None = None,
    lexicon: Lexicon | None = None,
) -> bool:
    """Whether ``sentence`` holds a thing of the wanted kind that the question does not.

    ``asked`` is the question's index terms, when the caller has them already. A year is not
    a count: "How many soldiers died?" is not answered by "in 2024", nor "How old is he?" unless
    the year is one of birth. ``lexicon`` tells places from other names; without one, any name
    after a preposition of place counts.
    """
    if kind is None:
        return False
    asked = set(index_terms(question)) if asked is None else asked
    counting = kind == "number" and not _ASKS_FOR_YEARS_RE.search(question)
    if _ASKS_FOR_AGE_RE.search(question):
        counting = not _BIRTH_RE.search(sentence)
    for thing in _things_of(kind, sentence, lexicon):
        if counting and _YEAR_RE.match(thing.rstrip(".,")):
            continue
        terms = index_terms(thing)
        if kind == "number" and not terms:
            terms = [fold(thing)]
        if terms and not set(terms) <= asked:
            return True
    return False


# ----------------------------------------------------------------------------------------
# Term matching


def variant_of(term: str, terms: frozenset[str]) -> str | None:
    """A term of ``terms`` that is ``term`` or a variant of it, or None.

    Variants share a prefix of at least five letters that covers all but at most one letter
    of the shorter one: "defenc"/"defens", "russia"/"russian", "ukrain"/"ukrainian", but not
    "general"/"generous", nor a verb made with -en ("height"/"heighten"). Of several variants, the one sharing the longest prefix (then the
    first in alphabetical order) is returned, so the answer does not depend on set order.
    """
    if term in terms:
        return term
    if len(term) < 5:
        return None
    head = term[:5]
    best: tuple[int, str] | None = None
    for other in terms:
        if len(other) < 5 or other[:5] != head:
            continue
        if _verb_made_with_en(term, other):
            continue
        shared = 5
        while shared < min(len(term), len(other)) and term[shared] == other[shared]:
            shared += 1
        if shared >= min(len(term), len(other)) - 1 and (best is None or (-shared, other) < best):
            best = (-shared, other)
    return best[1] if best else None


def _verb_made_with_en(a: str, b: str) -> bool:
    """ "heighten" from "height", "threaten" from "threat": a new word, not a form of the old."""
    shorter, longer = sorted((a, b), key=len)
    return longer == shorter + "en"


# ----------------------------------------------------------------------------------------
# Candidates and scores


def candidates_from_hits(hits: Sequence[Hit], limit: int) -> list[Candidate]:
    """The distinct sentences of the first ``limit`` hits (chunks overlap, sentences repeat)."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits[:limit]):
        chunk = hit.chunk
        spans = split_sentences(chunk.text)
        sentence_terms = [frozenset(index_terms(chunk.text[s.start : s.end])) for s in spans]
        passage_terms = frozenset().union(*sentence_terms) if sentence_terms else frozenset()
        for position, span in enumerate(spans):
            start = chunk.start_char + span.start
            if (chunk.source, start) in seen:
                continue
            seen.add((chunk.source, start))
            neighbours = sentence_terms[max(0, position - 1) : position] + sentence_terms[position + 1 : position + 2]
            context = frozenset().union(*neighbours) if neighbours else frozenset()
            out.append(
                Candidate(
                    hit_rank=rank,
                    source=chunk.source,
                    text=chunk.text[span.start : span.end],
                    start_char=start,
                    end_char=chunk.start_char + span.end,
                    start_line=chunk.start_line + chunk.text.count("\n", 0, span.start),
                    end_line=chunk.start_line + chunk.text.count("\n", 0, span.end),
                    terms=sentence_terms[position],
                    context_terms=context,
                    passage_terms=passage_terms,
                )
            )
    return out


def term_weights(frequencies: dict[str, int], chunk_count: int) -> dict[str, float]:
    """BM25-style inverse document frequency of each term over the index's chunks."""
    total = max(chunk_count, 1)
    return {t: math.log(1.0 + (total - df + 0.5) / (df + 0.5)) for t, df in frequencies.items()}


Relatives = dict[str, tuple[tuple[str, ...], ...]]

# "How old is he?" asks for a number, and a sentence says it without the word; the word's
# relatives would find only its other senses ("old" / "worn" / "wear": what he was wearing).
_MEASURED_RE = re.compile(r"\bhow\s+(old|tall|long|big|large|far|high|deep|wide|heavy)\b")


def related_terms(question: str, lexicon: Lexicon | None) -> tuple[list[str], Relatives]:
    """The question's terms, and for each the stemmed words related to it in meaning (a
    multi-word relative such as "prisoner of war" is a tuple of stems, all of which must be
    present)."""
    question_word_list = question_words(question)
    stems = stem_all(question_word_list)
    terms = list(dict.fromkeys(stems))
    related: dict[str, set[tuple[str, ...]]] = {t: set() for t in terms}
    if lexicon is not None and lexicon.available:
        measured = set(_MEASURED_RE.findall(question.lower()))
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


def _related_in(phrases: tuple[tuple[str, ...], ...], terms: frozenset[str]) -> tuple[str, ...] | None:
    for phrase in phrases:
        if all(stem in terms for stem in phrase):
            return phrase
    return None


@dataclass(frozen=True)
class _Question:
    terms: list[str]  # the question's terms that the index knows (or knows a variant or relative of)
    weights: dict[str, float]
    total: float
    unseen_share: float
    rare: list[str]
    kind: str | None
    related: Relatives
    related_credit: float
    asked: set[str]  # every index term of the question, for telling its own names from new ones
    lexicon: Lexicon | None
    surnames: dict[str, str]  # a full name's other terms -> its last one ("harold" -> "chamber")
    names: list[list[str]]  # the index terms of each name the question gives
    defined: str | None  # the name a "Who is X?" question asks about
    counted: list[str]  # the terms of what a "how many" question counts ("prisoners")

    def match(self, term: str, terms: frozenset[str]) -> float:
        """1 when ``terms`` hold ``term`` or a spelling variant, ``related_credit`` when they
        hold only a word related in meaning, else 0."""
        if variant_of(term, terms):
            return 1.0
        if _related_in(self.related.get(term, ()), terms):
            return self.related_credit
        return 0.0


def _analyse(
    question: str,
    candidates: Sequence[Candidate],
    stats: TermStatistics,
    lexicon: Lexicon | None = None,
    related_credit: float = 0.8,
) -> _Question:
    terms, related = related_terms(question, lexicon)
    frequencies = stats.document_frequencies(terms)
    # A term the index lacks in this form may be there as a variant ("defence" / "defense")
    # or as a word of the same meaning ("badmouthing" / "discrediting"); it then weighs as
    # much as that word, the commonest one found if there are several.
    retrieved = frozenset().union(*(c.passage_terms for c in candidates)) if candidates else frozenset()
    stand_ins = {}
    for term in terms:
        if frequencies.get(term, 0) == 0:
            stand_in = variant_of(term, retrieved) or _related_in(related[term], retrieved)
            if stand_in:
                stand_ins[term] = [stand_in] if isinstance(stand_in, str) else list(stand_in)
    found = sorted({word for words in stand_ins.values() for word in words})
    if found:
        stand_in_frequencies = stats.document_frequencies(found)
        for term, words in stand_ins.items():
            frequencies[term] = max(stand_in_frequencies.get(word, 0) for word in words)
    weights = term_weights({t: frequencies.get(t, 0) for t in terms}, max(stats.chunk_count, EVIDENCE_MIN_CHUNKS))
    total = sum(weights.values()) or 1.0
    unseen = sum(weights[t] for t in terms if frequencies.get(t, 0) == 0) / total
    # Coverage is measured on the terms the index knows; the ones it does not are the separate
    # unseen share, so a paraphrase's unfamiliar words are not counted twice against it.
    known = [t for t in terms if frequencies.get(t, 0) > 0]
    known_total = sum(weights[t] for t in known) or 1.0
    # The rarest terms the index knows: the two highest weights, with every term tied with them
    # (in a small index many terms occur in a single chunk, and a fixed two would be arbitrary).
    cut = sorted((weights[t] for t in known), reverse=True)[1] if len(known) > 1 else 0.0
    rare = [t for t in known if weights[t] >= cut - 1e-9]
    kind = question_type(question)
    names = [terms for name in _NAME_RE.findall(question) if (terms := index_terms(name))]
    return _Question(
        known,
        weights,
        known_total,
        unseen,
        rare,
        kind,
        related,
        related_credit,
        set(index_terms(question)),
        lexicon,
        _surnames(names),
        names,
        defined_name(question),
        counted_terms(question),
    )


def _surnames(names: list[list[str]]) -> dict[str, str]:
    """For each full name, its first terms mapped to its last: after the first mention, an
    article calls "Harold Chambers" "Chambers" and "Chris Costa" "Mr Costa"."""
    out: dict[str, str] = {}
    for terms in names:
        for term in terms[:-1]:
            out.setdefault(term, terms[-1])
    return out


def _evidence(q: _Question, candidate: Candidate, question: str) -> Evidence:
    if not q.terms:
        return Evidence(
            0.0, 0.0, 1.0, 0.0, q.unseen_share, 0.0, float(q.kind in _MEASURED), float(candidate.hit_rank == 0)
        )
    # In question order, not sets: float sums must not depend on set order.
    here = {t: max(q.match(t, candidate.terms), 0.5 * q.match(t, candidate.context_terms)) for t in q.terms}
    in_passage = {t: q.match(t, candidate.passage_terms) for t in q.terms}
    for given, surname in q.surnames.items():
        if given in here and surname in here:
            here[given] = max(here[given], here[surname])
            in_passage[given] = max(in_passage[given], in_passage[surname])
    coverage = sum(q.weights[t] * here[t] for t in q.terms) / q.total
    passage = sum(q.weights[t] * in_passage[t] for t in q.terms) / q.total
    missing = sum(1 for t in q.terms if here[t] == 0.0) / len(q.terms)
    rare = sum(here[t] > 0.0 for t in q.rare) / len(q.rare) if q.rare else 0.0
    typed = has_answer_type(q.kind, candidate.text, question, q.asked, q.lexicon)
    return Evidence(
        coverage,
        passage,
        missing,
        rare,
        q.unseen_share,
        float(typed),
        float(q.kind in _MEASURED and not typed),
        float(candidate.hit_rank == 0),
    )


def score_sentences(
    question: str,
    candidates: Sequence[Candidate],
    stats: TermStatistics,
    settings: ComposerSettings | None = None,
) -> list[Scored]:
    """Candidates with scores, best first."""
    settings = settings or ComposerSettings()
    scorer = settings.scorer
    lexicon = load_lexicon() if settings.use_lexicon else None
    q = _analyse(question, candidates, stats, lexicon, settings.related_credit)
    scored = []
    for candidate in candidates:
        evidence = _evidence(q, candidate, question)
        names_absent = bool(q.names) and not any(_mentions(candidate, name) for name in q.names)
        defines = bool(q.defined) and describes(candidate.text, q.defined, lexicon)
        counts = bool(q.counted) and _counts(q, candidate.text)
        score = (
            scorer.coverage * evidence.coverage
            + scorer.passage_coverage * evidence.passage_coverage
            + scorer.answer_type * evidence.answer_type
            + scorer.rank_prior / (1 + candidate.hit_rank)
            + scorer.definition * defines
            + scorer.counted * counts
            - _shape_penalty(candidate.text, scorer, typed=bool(evidence.answer_type))
        )
        scored.append(Scored(candidate, score, evidence, names_absent, direct=defines or counts))
    scored.sort(key=lambda s: (-s.score, s.candidate.hit_rank, s.candidate.start_char))
    return scored


_COUNTED_RE = re.compile(r"\bhow\s+many\s+([^?]*)", re.I)
_DAY_OF_MONTH_RE = re.compile(rf"\b(?:{_MONTHS})\.?\s+$", re.I)
_COUNTED_WORDS = 3  # "how many freed Chechen captives": a count names its thing within a few words


def counted_terms(question: str) -> list[str]:
    """The terms of what a "how many" question counts: the words after "how many", up to the
    first function word ("How many prisoners were swapped?" -> ["prison"])."""
    match = _COUNTED_RE.search(question)
    if not match:
        return []
    counted = []
    for word in words(match.group(1))[:_COUNTED_WORDS]:
        if word in QUESTION_STOPWORDS:
            break
        counted.append(word)
    return stem_all(counted)


def _counts(q: _Question, sentence: str) -> bool:
    """Whether ``sentence`` gives a number of the thing counted: "314 prisoners", "five Chechen
    POWs" (a relative of "captives"), not "20 Chechen soldiers" for "how many prisoners"."""
    for number in _NUMBER_RE.finditer(sentence):
        if _YEAR_RE.match(number.group()) or _DAY_OF_MONTH_RE.search(sentence, 0, number.start()):
            continue  # "on February 5 prisoners were ...": a date, not a count
        following = frozenset(stem_all(words(sentence[number.end() :])[:_COUNTED_WORDS]))
        if any(q.match(term, following) for term in q.counted):
            return True
    return False


def _mentions(candidate: Candidate, name: list[str]) -> bool:
    """Whether the sentence's passage holds any word of ``name``."""
    return any(variant_of(term, candidate.passage_terms) for term in name)


def _shape_penalty(text: str, scorer: SentenceScorer, typed: bool = False) -> float:
    """Headings, bylines, fragments and run-on tables rarely answer anything. A short sentence
    that ends like one and holds what was asked for is not a heading: "It opened in 1999."."""
    word_count = len(text.split())
    finished = ends_like_a_sentence(text)
    if word_count < 5:
        return 0.0 if finished and typed else scorer.heading_penalty
    if not finished and word_count < 15:
        return scorer.fragment_penalty
    if word_count > 80:
        return scorer.long_penalty
    return 0.0


# ----------------------------------------------------------------------------------------
# The answer


def compose_extractive(
    question: str, hits: Sequence[Hit], stats: TermStatistics, settings: ComposerSettings | None = None
) -> Answer:
    settings = settings or ComposerSettings()
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), stats, settings)
    if not scored:
        return abstain(question, hits)
    if should_abstain(scored[0], settings.abstention):
        return abstain(question, hits, closest_worth_showing(scored[0], settings.abstention))
    chosen = _choose(scored, settings)
    citations = [Citation.of(n, s.candidate) for n, s in enumerate(chosen, 1)]
    text = " ".join(cited_quote(s.candidate.text, n) for n, s in enumerate(chosen, 1))
    checks = check_sentences(text, passages_of(citations))
    return Answer(question=question, text=text, citations=citations, hits=list(hits), raw_text=text, checks=checks)


def should_abstain(best: Scored, model: AbstentionModel) -> bool:
    if model.threshold <= 0.0:  # abstention turned off, the rule on names included
        return False
    return best.names_absent or model.probability(best.evidence) < model.threshold


def closest_worth_showing(best: Scored, model: AbstentionModel) -> Scored | None:
    """The refused best sentence, when a person may still want to read it: its passage names
    what the question names, and the model gives it at least half the probability an answer
    needs. A presentation choice only: the answer stays a refusal, with nothing cited."""
    if best.names_absent or model.probability(best.evidence) < model.threshold / 2:
        return None
    return best


def abstain(question: str, hits: Sequence[Hit], closest: Scored | None = None) -> Answer:
    nearest = Citation.of(0, closest.candidate) if closest else None
    return Answer(question=question, text=REFUSAL, hits=list(hits), abstained=True, raw_text=REFUSAL, closest=nearest)


def _choose(scored: list[Scored], settings: ComposerSettings) -> list[Scored]:
    best = scored[0]
    chosen = [best]
    for other in scored[1:]:
        if len(chosen) >= settings.max_sentences or other.score < settings.second_sentence_ratio * best.score:
            break
        if _complete(other.candidate.text) and all(_distinct(other.candidate, c.candidate) for c in chosen):
            chosen.append(other)
    # Read in document order when the sentences come from one source, but a sentence that says
    # what was asked in so many words leads ("The February 5 exchange included 314 prisoners."
    # before the 20 soldiers it included), as does one that holds the thing asked for and far
    # more of the question than the rest. Leading with the best sentence whenever a question
    # asks for a thing read worse on ClapNQ (docs/EVALUATION.md).
    if len({s.candidate.source for s in chosen}) == 1:
        lead = chosen[:1] if best.direct or _stands_out(best, chosen[1:]) else []
        chosen = lead + sorted(chosen[len(lead) :], key=lambda s: s.candidate.start_char)
    return _with_qualifiers(_with_antecedents(chosen, scored), scored)


LEAD_MARGIN = 0.2  # of coverage: "Mr Costa compared Putin to Slobodan Milošević" (0.92) over 0.71


def _stands_out(best: Scored, others: list[Scored]) -> bool:
    """Whether the best sentence holds the kind of thing asked for ("which Serbian leader": a
    name) and covers clearly more of the question than every other chosen sentence."""
    return bool(best.evidence.answer_type) and all(
        best.evidence.coverage - other.evidence.coverage >= LEAD_MARGIN for other in others
    )


# "He was especially outraged by the sinking ..." does not say who was, nor "These include
# Sergei Shoigu, ..." what: the sentence before it in the passage usually does ("The head of
# the Kremlin ... lost interest in it.", "... a narrowing circle of hard line advisers").
_PRONOUN_OPENING_RE = re.compile(r"^[\W_]*(?:he|she|they|his|her|their|him|them|these|those|it|its)\b", re.IGNORECASE)


def opens_with_pronoun(sentence: str) -> bool:
    """Whether ``sentence`` leans on the one before it for who or what it is about."""
    return bool(_PRONOUN_OPENING_RE.match(sentence))


def _with_antecedents(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """``chosen``, each sentence that opens with a pronoun preceded by the sentence before it
    in its passage (when that one is a complete sentence and not chosen already)."""
    out: list[Scored] = []
    for s in chosen:
        before = _sentence_before(s.candidate, scored)
        if before is not None and opens_with_pronoun(s.candidate.text) and before not in chosen + out:
            out.append(before)
        out.append(s)
    return out


# "... I saw that Putin is already out of it." is followed by "Not in a medical sense but in
# political terms": a sentence that opens by qualifying the one before it changes what that one
# says, and a quote without it misleads.
_QUALIFYING_OPENING_RE = re.compile(r"^[\W_]*(?:not|but|however|yet|still|nevertheless|nonetheless)\b", re.IGNORECASE)


def _with_qualifiers(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """``chosen``, the best sentence followed by the sentence after it in its passage when that
    one opens by qualifying it ("Not in a medical sense ...") and is not chosen already. Only the
    best sentence's: it is the one that says what was asked."""
    best = scored[0]
    after = _sentence_after(best.candidate, scored)
    if after is None or not _QUALIFYING_OPENING_RE.match(after.candidate.text) or after in chosen:
        return chosen
    at = chosen.index(best) + 1
    return chosen[:at] + [after] + chosen[at:]


def _sentence_before(candidate: Candidate, scored: list[Scored]) -> Scored | None:
    """The complete sentence just before ``candidate`` in its document, when a retrieved
    passage holds it (sentences are split leaving only white space between them)."""
    return _neighbour(candidate, scored, after=False)


def _sentence_after(candidate: Candidate, scored: list[Scored]) -> Scored | None:
    """The complete sentence just after ``candidate`` in its document, when a retrieved
    passage holds it."""
    return _neighbour(candidate, scored, after=True)


def _neighbour(candidate: Candidate, scored: list[Scored], *, after: bool) -> Scored | None:
    def gap(s: Scored) -> int:  # characters between the two, negative when on the wrong side
        c = s.candidate
        return c.start_char - candidate.end_char if after else candidate.start_char - c.end_char

    beside = [s for s in scored if s.candidate.source == candidate.source and gap(s) >= 0]
    nearest = min(beside, key=gap, default=None)
    if nearest is None or gap(nearest) > _MAX_GAP:
        return None
    return nearest if _complete(nearest.candidate.text) else None


_MAX_GAP = 4  # characters: a space, a line break, a paragraph's blank line


def _complete(text: str) -> bool:
    """Whether a sentence may stand beside the best one: a heading, a caption or a byline may
    be the answer itself ("Which outlets are credited in the headline?") but never adds to one
    ("Relations Between Putin and Kadyrov Sour ... – The Moscow Times" after the talks it names).
    A long run of words without a full stop is a table or a list, and may hold what was asked.
    The document's own footnote markers ("tall.[12]") do not hide a sentence's full stop."""
    return ends_like_a_sentence(MARKER_RE.sub("", text)) or len(text.split()) > HEADING_MAX_WORDS


HEADING_MAX_WORDS = 20  # a longer line is a paragraph, a table row or a list (`rag.answer.overview` reads so too)


def _distinct(a: Candidate, b: Candidate) -> bool:
    if fold(a.text) == fold(b.text):
        return False
    union = a.terms | b.terms
    return not union or len(a.terms & b.terms) / len(union) < 0.7


# A heading's or a list item's mark at a line's start, a quote's ">", emphasis and table pipes.
# Typographic bullets ("• Strategic alliances: ...") mark list items in pasted text as "-" does.
_MARKDOWN_RE = re.compile(r"(?m)^\s*(?:#{1,6}|>|[-*+•▪◦‣]|\d+[.)])(?=\s)|\*\*|\|")


def cited_quote(text: str, marker: int) -> str:
    """The quote on one line with its marker; a quote that does not end a sentence (a heading,
    a table row) gets a full stop after the marker, so the answer's sentences stay apart. The
    document's own footnote markers ("tall.[12]", pasted from Wikipedia) are left out of the
    answer, where they would read as citations; Markdown's marks ("# ", "- ", "**", table
    pipes) and bullets ("• ") are left out too, so a heading or a table row reads as plain words. The citation
    keeps the quote as written."""
    line = " ".join(_MARKDOWN_RE.sub(" ", MARKER_RE.sub(" ", text)).split())
    line = re.sub(r"\s+([.,;:!?])", r"\1", line)
    return f"{line} [{marker}]" if ends_like_a_sentence(line) else f"{line} [{marker}]."


def ends_like_a_sentence(text: str) -> bool:
    """Whether ``text`` ends with a full stop, "!", "?" or "…", closing quotes aside."""
    return text.rstrip("”\"’') ").endswith((".", "!", "?", "…"))
