"""Whether a written claim is supported by a passage: not only its words, but the names,
numbers and dates it states, standing in the supporting sentence(s) in the same relation.

A language model writes new sentences from the passages' own words, so a judge that counts
shared words (``LexicalJudge``) lets through wrong claims built from them: "Kadyrov said the
exchange included 20 prisoners" shares nearly every word with a passage in which 20 counts
Chechen soldiers, 314 counts prisoners, and Kadyrov is named but does not say it. ``StrictJudge``
wraps any judge and looks for the span of the passage that supports the claim: one sentence,
or one with the sentence before it when it opens with a pronoun ("He reported ...", "They were
..."), or with the nearest sentence before it that names in full a person it calls by surname
alone ("..., Kraus told the Connexionblog."); never words scattered over the passage. A span
supports the claim only when

* every number the claim states is in one of its sentences, counting the same thing: "20
  Chechen soldiers" is supported by "20 Chechen soldiers were included", "20 prisoners" is
  not (the words right after a number, up to a function word, say what it counts; the words
  of one count must all be among the other's, and what the claim's counts must be said in the
  span: "150 soldiers" does not support "150 Chechen soldiers", ``Figure.found_in``);
* every date it states (a year, a capitalised month or day, a day of a month) is in it;
* every name it states is in it (by its last word: "Chambers" for "Harold Chambers"); names
  and dates the question itself gives are what is asked about, and need not be (a person
  only where the claim names them in the question's own words);
* every title it mentions that the span gives someone by name ("Chief of General Staff Valery
  Gerasimov") goes with that person in the claim too, and a person it names in full is not
  someone else of that surname in the span (``rag.answer.naming``);
* every person it names as the one saying something ("X said", "according to X") is the one
  saying it in a sentence of the span, named there, or referred to by a pronoun or a
  description ("he reported", "the Chechen ruler wrote") whose nearest person named before it
  in the passage is X. A claim with a speaker is checked against single sentences: what it
  puts in the speaker's mouth must be in the speaker's own sentence.

and the wrapped judge scores the span at or above its threshold. The claim is read without the
frame a model puts around it ("The article mentions that ..."), and, when the question is
known, what it adds to the question must be in the span: a claim that restates the question
("The news agency interviewed Kadyrov in February 2023.") is no answer. A claim of fewer than
``MIN_CLAIM_TERMS`` distinct terms ("Sverdlikovo, Ukraine") is judged with its question in
front of it, and a bare number in it counts what a "how many" question counts ("20." answers
how many Chechen soldiers); without a question it is supported by nothing.

Trade-offs: English only, by the patterns of ``rag.language.patterns``. A faithful sentence
that joins two sentences of the sources ("20 Chechen soldiers were among the 314 prisoners"),
or names a counted thing by a synonym ("troops" for "soldiers"), is rejected: the price of
never showing a claim whose figures or speaker were moved from one sentence to another.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from rag.answer.citations import LexicalJudge, SupportJudge
from rag.answer.naming import name_key, named_in_other_words, names_in, same_people, titles_kept
from rag.answer.quotes import opens_with_pronoun
from rag.ingest.sentences import split_sentences
from rag.language.analysis import QUESTION_STOPWORDS, index_terms, question_terms, question_words, stem_all, words
from rag.language.lexicon import load_lexicon
from rag.language.patterns import (
    DATE_RE,
    DAY_OF_MONTH_RE,
    FRAME_RE,
    MONTHS,
    NUMBER_RE,
    POSSESSIVE_RE,
    SPEAKER_AFTER_RE,
    SPEAKER_BEFORE_RE,
    YEAR_RE,
    word_list,
)
from rag.language.questions import COUNTED_WORDS, capitalised_runs, counted_terms, people
from rag.language.terms import variant_of

# Number words written as figures, so that "twenty soldiers" is "20 soldiers". "one" is left
# out: it is a pronoun as often as a number ("one of his allies").
_UP_TO_TWENTY = (
    *word_list("zero one two three four five six seven eight nine ten"),
    *word_list("eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"),
)
_TENS = word_list("thirty forty fifty sixty seventy eighty ninety")
_NUMBER_VALUES = {word: str(value) for value, word in enumerate(_UP_TO_TWENTY) if word != "one"} | {
    word: str(10 * tens) for tens, word in enumerate(_TENS, 3)
}
_UNCOUNTED = frozenset(["one"])
_MONTH_NAMES = frozenset(MONTHS)
# A sentence of fewer distinct terms states nothing that can be checked on its own: "Harold
# Chambers." is supported by every sentence naming him, whatever was asked, and "control
# control control" by any sentence with the word.
MIN_CLAIM_TERMS = 3


@dataclass(frozen=True)
class Figure:
    """A number as a claim or a sentence states it, with the terms of what it counts."""

    value: str
    counted: frozenset[str]
    asked: bool = False  # what it counts is what the question counts: a bare answer's number

    def found_in(self, figures: tuple[Figure, ...], terms: frozenset[str]) -> bool:
        """Whether ``figures`` hold this number counting the same thing: the words of one
        counted thing all among the other's ("20 soldiers" and "20 Chechen soldiers", "314
        prisoners exchanged" and "314 prisoners"), or neither saying what it counts. What this
        one counts must also be said in ``terms``, the supporting sentences' own: "150 Chechen
        soldiers" is not supported by "150 soldiers and seven civilians were released", which
        counts soldiers of no stated kind."""
        return all(variant_of(term, terms) for term in self.counted) and any(
            other.value == self.value
            and (_same_thing(self.counted, other.counted) or (self.asked and not other.counted))
            for other in figures
        )

    def counting(self, counted: frozenset[str]) -> Figure:
        """This number counting ``counted``, what the question counts, when it does not say
        what it counts. It is then found where the number counts nothing said right after it
        and ``counted`` is said in its sentence ("Of the 314 prisoners, 20 were Chechen
        soldiers" answers how many Chechen soldiers with "20")."""
        return self if self.counted else replace(self, counted=counted, asked=bool(counted))


def _same_thing(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    return all(variant_of(term, b) for term in a) or all(variant_of(term, a) for term in b)


@dataclass(frozen=True)
class Statement:
    """What a sentence states that must stand in its support in the same relation."""

    figures: tuple[Figure, ...]
    dates: frozenset[str]
    names: frozenset[str]  # the last term of each name
    speakers: frozenset[str]  # the last term of each person named as saying something
    terms: frozenset[str]
    # Each title written before a name in one run ("Chief of General Staff Valery Gerasimov"):
    # the title's terms and the holder's last term; and every title the text mentions.
    titles: frozenset[tuple[tuple[str, ...], str]] = frozenset()
    mentioned_titles: frozenset[tuple[str, ...]] = frozenset()
    # Each person named in full: first and last term ("Ramzan Kadyrov": ("ramzan", "kadyrov")).
    full_names: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class SupportSpan:
    """The span of a passage (``passage[start:end]``) that supports a claim best, and its score."""

    score: float
    start: int = 0
    end: int = 0


def statement_of(sentence: str, before: str = "") -> Statement:
    """What ``sentence`` states; ``before`` is the passage's text before it, where a speaker
    written as a pronoun or a description is looked up."""
    titles, mentioned, full_names = names_in(sentence)
    return Statement(
        figures=figures_of(sentence),
        dates=dates_of(sentence),
        names=names_of(sentence),
        speakers=speakers_of(sentence, before),
        terms=frozenset(index_terms(sentence)),
        titles=titles,
        mentioned_titles=mentioned,
        full_names=full_names,
    )


def figures_of(text: str) -> tuple[Figure, ...]:
    """The numbers ``text`` states as counts, each with the words after it that say what it
    counts (up to the first function word, number or verb: "20 Chechen soldiers were" counts
    "Chechen soldiers"). Years and days of a month are dates, not counts."""
    out = []
    for match in NUMBER_RE.finditer(text):
        number = match.group().rstrip(".,").replace(",", "")
        if not number or number.lower() in _UNCOUNTED or _is_date_number(text, match):
            continue
        counted = []
        for word in words(text[match.end() :])[:COUNTED_WORDS]:
            if word in QUESTION_STOPWORDS or word[0].isdigit() or word in _NUMBER_VALUES or _only_a_verb(word):
                break
            counted.append(word)
        out.append(Figure(_NUMBER_VALUES.get(number.lower(), number.lower()), frozenset(stem_all(counted))))
    return tuple(out)


def _only_a_verb(word: str) -> bool:
    """Whether WordNet knows ``word`` only as a verb ("exchanged", "returned"): the counted thing
    has ended ("314 prisoners exchanged"), while "wounded" and "Chechen" may still describe it."""
    lexicon = load_lexicon()
    return bool(lexicon.base_forms(word, "v")) and not any(lexicon.base_forms(word, part) for part in ("n", "a"))


def _is_date_number(text: str, match) -> bool:
    number = match.group().rstrip(".,")
    if YEAR_RE.match(number):
        return True
    following = words(text[match.end() :])[:1]
    return bool(DAY_OF_MONTH_RE.search(text, 0, match.start())) or bool(following and following[0] in _MONTH_NAMES)


def dates_of(text: str) -> frozenset[str]:
    """The dates ``text`` states: years, decades, written dates, capitalised months and days
    ("May" the month, not "may" the verb), and the day of a month ("February 5": "5")."""
    found = set()
    for match in DATE_RE.finditer(text):
        date = match.group()
        if date[0].isdigit() or date[0].isupper():
            found.add(date.lower()[:3] if date[0].isalpha() else date.lower())
    for match in NUMBER_RE.finditer(text):
        number = match.group().rstrip(".,")
        if number[:1].isdigit() and _is_date_number(text, match) and not YEAR_RE.match(number):
            found.add(number)
    return frozenset(found)


def names_of(text: str) -> frozenset[str]:
    """The last term of each name in ``text`` ("chamber" for "Harold Chambers"); a word that
    opens the sentence only because it is capitalised there is not a name."""
    lexicon = load_lexicon()
    knows = lexicon.knows if lexicon.available else None
    out = set()
    for run in capitalised_runs(text, knows):
        for part in POSSESSIVE_RE.split(run):
            terms = index_terms(part)
            if terms:
                out.add(terms[-1])
    return frozenset(out)


def speakers_of(sentence: str, before: str = "") -> frozenset[str]:
    """The last term of each person ``sentence`` names as saying something; one it refers to
    by a pronoun or description is the nearest person named before it (in ``before`` and the
    sentence up to there)."""
    out = set()
    for match in SPEAKER_BEFORE_RE.finditer(sentence):
        if match.group("name"):
            out.update(name_key(match.group("name")))
        else:
            out.update(_antecedent(before + " " + sentence[: match.start()]))
    for match in SPEAKER_AFTER_RE.finditer(sentence):
        out.update(names_of(" " + match.group("phrase")))
    return frozenset(out)


@lru_cache(maxsize=1024)
def _antecedent(text: str) -> tuple[str, ...]:
    """The last term of the last person named in ``text``, if WordNet tells people apart."""
    lexicon = load_lexicon()
    persons = set(people(text, lexicon))
    for run in reversed(capitalised_runs(text, lexicon.knows if lexicon.available else None)):
        for part in reversed(POSSESSIVE_RE.split(run)):
            if part in persons:
                return tuple(name_key(part))
    return ()


def _given_to(claim: str, question: str, asked: Statement) -> Statement:
    """What ``question`` (stating ``asked``) gives ``claim`` to build on (``holds``'s
    ``asked``): its dates, and its names, but a person's only where the claim names them in the
    question's own words (``rag.answer.naming.named_in_other_words``)."""
    other = named_in_other_words(question, claim)
    return replace(asked, names=frozenset(name for name in asked.names if name not in other))


def holds(claim: Statement, span: list[Statement], asked: Statement | None = None) -> bool:
    """Whether the sentences ``span`` state what ``claim`` does in the same relation; ``asked``
    is what the question gives (``_given_to``), which need not be there. Speakers and numbers
    are never given: who said it and how many are what an answer must get right."""
    figures = tuple(f for s in span for f in s.figures)
    dates = frozenset().union(*(s.dates for s in span))
    terms = frozenset().union(*(s.terms for s in span))
    speakers = frozenset().union(*(s.speakers for s in span))
    given_names = asked.names if asked else frozenset()
    given_dates = asked.dates if asked else frozenset()
    return (
        all(figure.found_in(figures, terms) for figure in claim.figures)
        and claim.dates <= dates | given_dates
        and all(variant_of(name, terms | speakers | given_names) for name in claim.names)
        and all(variant_of(speaker, speakers) for speaker in claim.speakers)
        and titles_kept(claim.mentioned_titles, claim.names, frozenset().union(*(s.titles for s in span)))
        and same_people(claim.full_names, frozenset().union(*(s.full_names for s in span)))
    )


class StrictJudge:
    """``base`` (the lexical judge by default) on the span of the passage that states what the
    claim states in the same relation; see the module docstring. ``question``: the question
    the claim answers, whose own words a claim does not need support for (``best_span``)."""

    name = "strict"

    def __init__(self, base: SupportJudge | None = None, question: str | None = None) -> None:
        self.base = base or LexicalJudge()
        self.threshold = self.base.threshold
        self.question = question
        self.asked = frozenset(index_terms(question)) if question else frozenset()
        self.meaning = frozenset(question_terms(question)) if question else frozenset()
        self.asked_statement = statement_of(question) if question else None
        # What a "how many" question counts: what a bare number answering it counts ("20."
        # answers how many Chechen soldiers).
        self.counted = frozenset(counted_terms(question)) if question else frozenset()

    def support(self, claim: str, passage: str) -> float:
        return self.best_span(claim, passage).score

    def is_about_the_question(self, claim: str) -> bool:
        """Whether ``claim`` shares a word of meaning with the question (or is a bare answer,
        read with the question in front of it; or there is no question). A supported claim that
        shares none ("The source is the outlet Agentstvo." for which unit the soldiers belonged
        to) is true, but no answer."""
        return not self.question or self.is_bare_answer(claim) or bool(self.question_words_in(claim))

    def is_bare_answer(self, claim: str) -> bool:
        """Whether ``claim`` states too little to be read without its question ("The answer
        is: Turkey."): it is then judged with the question in front of it."""
        return len(statement_of(FRAME_RE.sub("", claim, count=1)).terms) < MIN_CLAIM_TERMS

    def question_words_in(self, text: str) -> frozenset[str]:
        """The question's words of meaning that ``text`` holds, in any form ("Russian" holds
        the question's "Russia")."""
        terms = frozenset(index_terms(text))
        return frozenset(term for term in self.meaning if variant_of(term, terms))

    def best_span(self, claim: str, passage: str) -> SupportSpan:
        """The span that supports ``claim`` best; score 0 if none does, or if it states too
        little to be checked. The claim is read without its frame ("The article mentions
        that ..."). With a question, the claim's terms that the question does not hold must be
        found in the span at the judge's threshold too: the passages were retrieved for the
        question's words, so a claim that only restates the question is supported anywhere."""
        claim = FRAME_RE.sub("", claim, count=1)
        stated = statement_of(claim)
        added = [term for term in stated.terms if not variant_of(term, self.asked)]
        if self.asked and not added:
            return SupportSpan(0.0)
        judged = claim
        if len(stated.terms) < MIN_CLAIM_TERMS:
            if not self.asked:
                return SupportSpan(0.0)
            # "Sverdlikovo." answers only with its question: the words that carry its meaning
            # ("How many ... did ... say" are only the asking)
            judged = f"{' '.join(question_words(self.question))} {claim}"
            stated = replace(stated, figures=tuple(f.counting(self.counted) for f in stated.figures))
        given = _given_to(claim, self.question, self.asked_statement) if self.question else None
        spans = split_sentences(passage)
        statements = [statement_of(passage[s.start : s.end], passage[: s.start]) for s in spans]
        best = SupportSpan(0.0)
        for used in _spans(passage, spans, pairs=not stated.speakers):
            read = [statements[n] for n in used]
            if not holds(stated, read, given):
                continue
            score = self.base.support(judged, " ".join(passage[spans[n].start : spans[n].end] for n in used))
            if self.asked:
                terms = frozenset().union(*(s.terms for s in read))
                score = min(score, sum(bool(variant_of(t, terms)) for t in added) / len(added))
            if score > best.score:  # on a tie, the earlier, single sentence
                best = SupportSpan(score, spans[used[0]].start, spans[used[-1]].end)
        return best


def _spans(passage: str, spans: list, pairs: bool) -> list[tuple[int, ...]]:
    """The sentences a claim may draw on together, as sentence numbers: each sentence alone,
    then each that leans on an earlier one with that one. A sentence opening with a pronoun
    ("He reported ...") leans on the one before it; one that calls by surname alone a person
    named in full earlier in the passage ("Josef Kraus, a security analyst …", then a quote,
    then "…, Kraus told the Connexionblog.") on the nearest sentence naming them in full. The
    span cited runs from the first to the last, but only these are read: what the sentences
    between them say does not support the claim."""
    out: list[tuple[int, ...]] = [(n,) for n in range(len(spans))]
    if pairs:
        texts = [passage[span.start : span.end] for span in spans]
        named = [people(text, load_lexicon()) for text in texts]
        for n in range(1, len(spans)):
            before = {n - 1} if opens_with_pronoun(texts[n]) else _named_in_full_before(n, named)
            out += [(k, n) for k in sorted(before)]
    return out


def _named_in_full_before(n: int, named: list[list[str]]) -> set[int]:
    """For each person sentence ``n`` calls by surname alone, the nearest sentence before it
    that names them in full (none for a person never named in full before)."""
    found = set()
    for surname in {name for name in named[n] if " " not in name}:
        k = next((k for k in range(n - 1, -1, -1) if any(_is_full_name_of(name, surname) for name in named[k])), None)
        if k is not None:
            found.add(k)
    return found


def _is_full_name_of(name: str, surname: str) -> bool:
    return " " in name and name.split()[-1] == surname


def strict(judge: SupportJudge | None, question: str | None = None) -> StrictJudge:
    """``judge`` made strict (the lexical judge when None), for claims answering ``question``
    (None: for claims read alone); a strict judge for the same question as it is."""
    if isinstance(judge, StrictJudge):
        return judge if question == judge.question else StrictJudge(judge.base, question)
    return StrictJudge(judge, question)
