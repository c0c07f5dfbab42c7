"""The evidence each retrieved sentence offers towards answering the question, the score that
ranks the sentences, and the abstention model that decides from the best one's evidence
whether to answer at all.

Every sentence of the retrieved passages is a candidate. What is measured on each
(``Evidence``, all in [0, 1]):

* **coverage**: the share of the question's meaningful terms (stems, weighted by inverse
  document frequency in the index) that the sentence contains; a term found only in the
  sentence next to it counts half ("He said ..." takes its subject from the sentence before).
  A spelling or word-form variant ("defence"/"defense", "Russia"/"Russian") counts as found;
  a word related in meaning (``rag.language.lexicon``: "freed"/"released", "captives"/"POWs") earns
  ``related_credit`` of the term's weight. A full name in the question is met by its surname
  alone ("Harold Chambers" by "Chambers": articles name a person in full once).
* **passage coverage**: the same over the whole retrieved passage (retrieved chunks that
  overlap or abut in their document are one passage: ``rag.answer.candidates``).
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
  "which newspaper" a name (``rag.language.questions.has_answer_type``). 1 when the sentence
  holds such a thing *beyond what the question already says*, else 0.
* **type missing**: 1 when the question asks for a count or a date and the sentence holds
  none. A missing name or place says less: "who" and "where" are often answered by a
  description ("the man who founded it", "where the river meets the sea").
* **top passage**: whether the sentence is from the best-ranked passage.

A question that names things ("Which magazine did Putin write in?") is refused outright when
the deciding sentence's passage mentions none of them (``Scored.names_absent``): whatever it says,
it is about something else, and a question built on a false premise would otherwise get a
confident answer from a neighbouring fact. Names are words capitalised inside the question, so
a question written in lower case is left to the model alone.

``AbstentionModel`` is a logistic model of P(a sentence answers the question) on its
evidence, fitted on the composer's best sentences. The answer stands or falls by the likeliest
of the sentences it would quote (``likeliest``): the best-scored one covers the most of the
question, and a runner-up quoted beside it may be the one that answers. Its numbers are data,
``abstention.json`` beside this module, written by ``benchmarks/calibrate_abstention.py``
(ClapNQ dev); docs/EVALUATION.md records the data, the held-out figures and the trade-off
curve. They are read when a model is first made, not on import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from rag.answer.candidates import Candidate
from rag.answer.definitions import defined_name, describes
from rag.answer.quotes import ends_like_a_sentence
from rag.language.lexicon import load_lexicon
from rag.language.questions import MEASURED_KINDS, AnalysedQuestion, analyse_question, has_answer_type
from rag.language.terms import TermStatistics, related_in, term_weights, variant_of

# The evidence weighs terms as if the index held at least this many chunks: about the size of
# the smallest index the abstention model was fitted on (seeds/, 51 chunks). In a tinier one,
# rarity says little (every word is in one chunk of one), yet a word the index has never seen
# would outweigh the seen ones many times over, far from anything the model was fitted on: in
# a one-sentence index, "What colour is the sky over Xanadu?" read as mostly about something
# never mentioned. Indexes of this size or more are unaffected. docs/EVALUATION.md, "Small
# indexes", measures it.
EVIDENCE_MIN_CHUNKS = 50
NEIGHBOUR_CREDIT = 0.5  # of a term found only in the sentence before or after
# Sentence shapes that rarely answer, in words: a heading or byline is shorter than
# SHORT_WORDS, an unfinished fragment shorter than FRAGMENT_WORDS, a run-on table longer than
# LONG_WORDS.
SHORT_WORDS, FRAGMENT_WORDS, LONG_WORDS = 5, 15, 80

FITTED_ABSTENTION = Path(__file__).with_name("abstention.json")


@dataclass(frozen=True)
class Evidence:
    """What a sentence offers towards answering the question; see the module docstring."""

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
    """Logistic model of P(a sentence answers the question) from its ``Evidence``, fitted on the
    composer's best sentences and asked of each sentence an answer would quote (``likeliest``).

    Answer when the probability reaches ``threshold`` (0 turns abstention off). A number left
    out (None) is the fitted one from ``abstention.json``, so ``AbstentionModel(threshold=0.9)``
    is the fitted model with a stricter operating point.
    """

    bias: float | None = None
    coverage: float | None = None
    passage_coverage: float | None = None
    missing_share: float | None = None
    rare_coverage: float | None = None
    unseen_share: float | None = None
    answer_type: float | None = None
    type_missing: float | None = None
    top_passage: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        left_out = [f.name for f in fields(self) if getattr(self, f.name) is None]
        if left_out:
            fitted = dict(_fitted_numbers(FITTED_ABSTENTION))
            for name in left_out:
                object.__setattr__(self, name, fitted[name])

    @classmethod
    def load(cls, path: Path = FITTED_ABSTENTION) -> AbstentionModel:
        """The model whose numbers ``path`` holds (read afresh)."""
        return cls(**read_abstention_numbers(path))

    def probability(self, evidence: Evidence) -> float:
        z = self.bias + sum(getattr(self, name) * value for name, value in evidence.as_dict().items())
        return 1.0 / (1.0 + math.exp(-z))


def read_abstention_numbers(path: Path) -> dict[str, float]:
    """The numbers a model file holds: every one of the model's, and nothing else."""
    numbers = json.loads(path.read_text(encoding="utf-8"))
    expected = {f.name for f in fields(AbstentionModel)}
    if set(numbers) != expected or not all(isinstance(v, (int, float)) for v in numbers.values()):
        raise ValueError(f"{path} must hold a number for each of {sorted(expected)}, and nothing else.")
    return {name: float(value) for name, value in numbers.items()}


@lru_cache(maxsize=4)
def _fitted_numbers(path: Path) -> tuple[tuple[str, float], ...]:
    return tuple(read_abstention_numbers(path).items())


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
    abstention: AbstentionModel = field(default_factory=AbstentionModel)


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


@dataclass(frozen=True)
class TermWeights:
    """The question's terms as the index weighs them."""

    known: list[str]  # the terms the index knows (or knows a variant or relative of), in order
    weights: dict[str, float]
    total: float  # the known terms' weight
    unseen_share: float  # the share of all terms' weight that the index has never seen
    rare: list[str]  # the rarest known terms


def weigh_terms(q: AnalysedQuestion, retrieved: frozenset[str], stats: TermStatistics) -> TermWeights:
    """``q``'s terms weighed by their rarity in the index; ``retrieved`` is every term of the
    retrieved passages, where a term the index lacks may be found as a variant or relative."""
    frequencies = stats.document_frequencies(q.terms)
    # A term the index lacks in this form may be there as a variant ("defence" / "defense")
    # or as a word of the same meaning ("badmouthing" / "discrediting"); it then weighs as
    # much as that word, the commonest one found if there are several.
    stand_ins = {}
    for term in q.terms:
        if frequencies.get(term, 0) == 0:
            stand_in = variant_of(term, retrieved) or related_in(q.related[term], retrieved)
            if stand_in:
                stand_ins[term] = [stand_in] if isinstance(stand_in, str) else list(stand_in)
    found = sorted({word for words in stand_ins.values() for word in words})
    if found:
        stand_in_frequencies = stats.document_frequencies(found)
        for term, words in stand_ins.items():
            frequencies[term] = max(stand_in_frequencies.get(word, 0) for word in words)
    weights = term_weights({t: frequencies.get(t, 0) for t in q.terms}, max(stats.chunk_count, EVIDENCE_MIN_CHUNKS))
    total = sum(weights.values()) or 1.0
    unseen = sum(weights[t] for t in q.terms if frequencies.get(t, 0) == 0) / total
    # Coverage is measured on the terms the index knows; the ones it does not are the separate
    # unseen share, so a paraphrase's unfamiliar words are not counted twice against it.
    known = [t for t in q.terms if frequencies.get(t, 0) > 0]
    known_total = sum(weights[t] for t in known) or 1.0
    # The rarest terms the index knows: the two highest weights, with every term tied with them
    # (in a small index many terms occur in a single chunk, and a fixed two would be arbitrary).
    cut = sorted((weights[t] for t in known), reverse=True)[1] if len(known) > 1 else 0.0
    rare = [t for t in known if weights[t] >= cut - 1e-9]
    return TermWeights(known=known, weights=weights, total=known_total, unseen_share=unseen, rare=rare)


def evidence_of(q: AnalysedQuestion, w: TermWeights, candidate: Candidate, question: str) -> Evidence:
    """What ``candidate`` offers towards answering ``question``; see the module docstring."""
    top = float(candidate.hit_rank == 0)
    if not w.known:
        return Evidence(0.0, 0.0, 1.0, 0.0, w.unseen_share, 0.0, float(q.kind in MEASURED_KINDS), top)
    # In question order, not sets: float sums must not depend on set order.
    here = {
        t: max(q.match(t, candidate.terms), NEIGHBOUR_CREDIT * q.match(t, candidate.context_terms)) for t in w.known
    }
    in_passage = {t: q.match(t, candidate.passage_terms) for t in w.known}
    for given, surname in q.surnames.items():
        if given in here and surname in here:
            here[given] = max(here[given], here[surname])
            in_passage[given] = max(in_passage[given], in_passage[surname])
    coverage = sum(w.weights[t] * here[t] for t in w.known) / w.total
    passage = sum(w.weights[t] * in_passage[t] for t in w.known) / w.total
    missing = sum(1 for t in w.known if here[t] == 0.0) / len(w.known)
    rare = sum(here[t] > 0.0 for t in w.rare) / len(w.rare) if w.rare else 0.0
    typed = has_answer_type(q.kind, candidate.text, question, q.asked, q.lexicon)
    missing_type = float(q.kind in MEASURED_KINDS and not typed)
    return Evidence(coverage, passage, missing, rare, w.unseen_share, float(typed), missing_type, top)


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
    q = analyse_question(question, lexicon, settings.related_credit)
    retrieved = frozenset().union(*(c.passage_terms for c in candidates)) if candidates else frozenset()
    w = weigh_terms(q, retrieved, stats)
    defined = defined_name(question)
    scored = []
    for candidate in candidates:
        evidence = evidence_of(q, w, candidate, question)
        names_absent = bool(q.names) and not any(mentions(candidate, name) for name in q.names)
        defines = bool(defined) and describes(candidate.text, defined, lexicon)
        counts = bool(q.counted) and q.counts(candidate.text)
        score = (
            scorer.coverage * evidence.coverage
            + scorer.passage_coverage * evidence.passage_coverage
            + scorer.answer_type * evidence.answer_type
            + scorer.rank_prior / (1 + candidate.hit_rank)
            + scorer.definition * defines
            + scorer.counted * counts
            - shape_penalty(candidate.text, scorer, typed=bool(evidence.answer_type))
        )
        scored.append(Scored(candidate, score, evidence, names_absent, direct=defines or counts))
    scored.sort(key=lambda s: (-s.score, s.candidate.hit_rank, s.candidate.start_char))
    return scored


def mentions(candidate: Candidate, name: list[str]) -> bool:
    """Whether the sentence's passage holds any word of ``name`` (its index terms)."""
    return any(variant_of(term, candidate.passage_terms) for term in name)


def shape_penalty(text: str, scorer: SentenceScorer, typed: bool = False) -> float:
    """Headings, bylines, fragments and run-on tables rarely answer anything. A short sentence
    that ends like one and holds what was asked for is not a heading: "It opened in 1999."."""
    word_count = len(text.split())
    finished = ends_like_a_sentence(text)
    if word_count < SHORT_WORDS:
        return 0.0 if finished and typed else scorer.heading_penalty
    if not finished and word_count < FRAGMENT_WORDS:
        return scorer.fragment_penalty
    if word_count > LONG_WORDS:
        return scorer.long_penalty
    return 0.0


def answer_probability(scored: Scored, model: AbstentionModel) -> float:
    """The model's P(``scored`` answers the question); 0 when its passage names nothing the
    question names."""
    return 0.0 if scored.names_absent else model.probability(scored.evidence)


def likeliest(picked: Sequence[Scored], model: AbstentionModel) -> Scored:
    """The sentence an answer quoting ``picked`` (best first) stands or falls by: the one the
    model finds likeliest to answer (the first of equals). The best-scored sentence is ranked on
    how much of the question it covers, and a runner-up quoted beside it may be the one that
    answers: "Ukrainians show confidence ..." covers more of a question about what Putin told
    Michel, according to the FT, than the sentence that says it. But when the best sentence's
    passage names nothing the question names, it is the best itself: the answer would lead with
    a sentence about something else, whatever a runner-up says."""
    if picked[0].names_absent:
        return picked[0]
    return max(picked, key=lambda s: answer_probability(s, model))


def should_abstain(deciding: Scored, model: AbstentionModel) -> bool:
    """Whether to refuse, on the sentence the decision rests on (``likeliest``)."""
    if model.threshold <= 0.0:  # abstention turned off, the rule on names included
        return False
    return answer_probability(deciding, model) < model.threshold


def closest_worth_showing(deciding: Scored, model: AbstentionModel) -> Scored | None:
    """The refused deciding sentence, when a person may still want to read it: its passage
    names what the question names, and the model gives it at least half the probability an
    answer needs. A presentation choice only: the answer stays a refusal, with nothing cited."""
    if deciding.names_absent or model.probability(deciding.evidence) < model.threshold / 2:
        return None
    return deciding
