"""The evidence each sentence offers, the score that ranks sentences, and the abstention model
with its fitted numbers. Each rule is checked on passages built by hand, without an index, on
the example that motivated it; the calibration helpers on synthetic data with known answers."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, fields, replace

import numpy as np
import pytest

from rag import Chatbot, Document
from rag.answer.candidates import candidates_from_hits
from rag.answer.evidence import (
    EVIDENCE_MIN_CHUNKS,
    FITTED_ABSTENTION,
    AbstentionModel,
    ComposerSettings,
    Evidence,
    likeliest,
    read_abstention_numbers,
    score_sentences,
    shape_penalty,
    should_abstain,
    weigh_terms,
)
from rag.language.questions import analyse_question
from tests.answer.corpus import DOCS, PassageStatistics, best, hits_of, scored_by_hand
from tests.conftest import ROOT, benchmark

SWAP = (
    "Prisoner swap\n\nRussia and Ukraine exchanged prisoners on February 5. In total 314 captives changed hands, officials said. "
    "The exchange was brokered by the United Arab Emirates."
)
ANALYSIS = (
    "Harold Chambers, a political and security analyst, has followed Chechnya for a decade. "
    "He expects the rift between the two men to widen. Few others agree. Officials in Grozny declined "
    "to comment. Writing in UnHerd magazine, Chambers concluded that the rift would grow."
)


# ----------------------------------------------------------------------------------------
# Rules, each on its motivating example


@pytest.mark.parametrize(
    ("question", "passage", "first", "direct"),
    [
        # A number of the thing counted says what was asked in so many words: it leads.
        (
            "How many prisoners were exchanged on February 5?",
            "The February 5 prisoner exchange included 20 Chechen soldiers, he reported. Talks went on. "
            "The February 5 exchange included 314 prisoners (157 from each side).",
            "The February 5 exchange included 314 prisoners",
            True,
        ),
        # "Who is X?": the sentence that says what X is, not the first that mentions X.
        (
            "Who is Kadyrov?",
            "Kadyrov spoke on Telegram on Tuesday. Ramzan Kadyrov, the head of Chechnya, has ruled since 2007.",
            "Ramzan Kadyrov, the head of Chechnya",
            True,
        ),
        # A surname alone stands for the full name the question gives.
        ("In which magazine did Harold Chambers publish his view?", ANALYSIS, "Writing in UnHerd magazine", False),
        # The sentence that holds a name beyond the question's answers "who".
        ("Who brokered the swap?", SWAP, "The exchange was brokered by", False),
        # A short sentence that ends like one and holds the date asked for is not a heading.
        (
            "When did the Brisk tower open?",
            "Brisk tower\n\nThe Brisk tower is 120 metres tall.\nIt opened in 1999.",
            "It opened",
            False,
        ),
        # A name answers "which leader" even when another sentence names the question's people.
        (
            "Which Serbian leader did Costa compare Putin to?",
            "Mr Costa compared Putin to Slobodan Milošević. Putin answered Costa.",
            "Mr Costa compared Putin",
            False,
        ),
    ],
)
def test_the_sentence_that_answers_ranks_first(question, passage, first, direct):
    top = scored_by_hand(question, passage)[0]
    assert top.candidate.text.startswith(first)
    assert top.direct is direct


def test_a_surname_counts_as_the_full_name_in_the_evidence():
    top = scored_by_hand("In which magazine did Harold Chambers publish his view?", ANALYSIS)[0]
    # "harold" is met through "Chambers": only "publish" of the four known terms is missing.
    assert top.evidence.missing_share == 0.25 and top.evidence.coverage == pytest.approx(0.75, abs=1e-12)


def test_a_term_found_only_in_the_next_sentence_counts_half():
    scored = {
        s.candidate.text: s.evidence
        for s in scored_by_hand("Where is Sevastopol?", "Sevastopol is old. It has a harbour.")
    }
    assert scored["Sevastopol is old."].coverage == 1.0
    assert scored["It has a harbour."].coverage == 0.5
    assert scored["It has a harbour."].missing_share == 0.0


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("Who brokered the exchange between Finland and Norway?", True),  # a false premise
        ("Who brokered the exchange between Finland and Russia?", False),  # one name is enough
        ("Who brokered the exchange?", False),  # no names: nothing to miss
    ],
)
def test_a_passage_that_mentions_none_of_the_questions_names_is_marked(question, absent):
    assert {s.names_absent for s in scored_by_hand(question, SWAP)} == {absent}


@pytest.mark.parametrize(
    ("question", "sentence", "answer_type", "type_missing"),
    [
        ("How many soldiers guarded the swap?", "In total 314 captives changed hands, officials said.", 1.0, 0.0),
        # A count the sentence lacks is evidence against it ...
        ("How many soldiers guarded the swap?", "The exchange was brokered by the United Arab Emirates.", 0.0, 1.0),
        # ... a name is not: "who" is often answered by a description.
        ("Who brokered the swap?", "In total 314 captives changed hands, officials said.", 0.0, 0.0),
        ("Who brokered the swap?", "The exchange was brokered by the United Arab Emirates.", 1.0, 0.0),
        ("Why did the swap happen?", "The exchange was brokered by the United Arab Emirates.", 0.0, 0.0),
    ],
)
def test_the_answer_type_and_its_absence(question, sentence, answer_type, type_missing):
    evidence = {s.candidate.text: s.evidence for s in scored_by_hand(question, SWAP)}[sentence]
    assert (evidence.answer_type, evidence.type_missing) == (answer_type, type_missing)


def test_terms_the_index_never_saw_are_the_unseen_share_not_missing_coverage():
    top = scored_by_hand("What is the capital of Australia?", SWAP)[0]
    assert top.evidence.unseen_share == pytest.approx(1.0)
    assert top.evidence.coverage == 0.0


def test_a_tiny_index_weighs_terms_as_one_of_evidence_min_chunks():
    hits = hits_of("The sky over the sea was grey.")
    q = analyse_question("What colour is the sky over Xanadu?")
    tiny = weigh_terms(q, frozenset(), PassageStatistics(hits))
    floor = weigh_terms(q, frozenset(), PassageStatistics(hits, chunk_count=EVIDENCE_MIN_CHUNKS))
    assert tiny == floor
    assert 0.0 < tiny.unseen_share < 0.9  # "xanadu" and "colour" unseen, "sky" seen: not all unseen


@pytest.mark.parametrize(
    ("text", "typed", "penalty"),
    [
        ("It opened in 1999.", True, 0.0),  # short, finished, holds what was asked: not a heading
        ("It opened then.", False, "heading_penalty"),
        ("Brisk tower 1999", True, "heading_penalty"),  # a heading holding a year is still one
        ("The talks of the two leaders in the Gulf", False, "fragment_penalty"),
        ("The talks of the two leaders in the Gulf went on.", False, 0.0),
        (" ".join(["word"] * 81) + ".", False, "long_penalty"),  # a run-on table or list
    ],
)
def test_headings_fragments_and_run_on_lines_are_penalised(text, typed, penalty):
    scorer = ComposerSettings().scorer
    expected = getattr(scorer, penalty) if isinstance(penalty, str) else penalty
    assert shape_penalty(text, scorer, typed=typed) == expected


# ----------------------------------------------------------------------------------------
# The same rules through an index


def test_a_count_or_date_the_sentence_lacks_is_evidence_against_answering_but_a_name_is_not(small_bot):
    counted = {s.candidate.text: s.evidence for s in best(small_bot, "How many soldiers guarded the swap?")}
    with_count = counted["In total 314 captives changed hands, officials said."]
    assert (with_count.answer_type, with_count.type_missing) == (1.0, 0.0)
    without = counted["The exchange was brokered by the United Arab Emirates."]
    assert (without.answer_type, without.type_missing) == (0.0, 1.0)
    named = {s.candidate.text: s.evidence for s in best(small_bot, "Who brokered the swap?")}
    for evidence in named.values():
        assert evidence.type_missing == 0.0
    assert named["The exchange was brokered by the United Arab Emirates."].answer_type == 1.0
    untyped = best(small_bot, "Why did it snow late in Moscow?")[0]
    assert untyped.evidence.answer_type == 0.0 and untyped.evidence.type_missing == 0.0


def test_the_sentence_holding_the_answer_ranks_first_with_full_evidence(small_bot):
    scored = best(small_bot, "How many captives changed hands in the swap?")
    top = scored[0]
    assert "314 captives" in top.candidate.text
    assert top.evidence.answer_type == 1.0
    assert top.evidence.coverage > 0.7 and top.evidence.missing_share < 0.3
    assert top.evidence.unseen_share == 0.0 and top.evidence.top_passage == 1.0
    assert all(0.0 <= v <= 1.0 for v in top.evidence.as_dict().values())


def test_a_surname_alone_stands_for_the_full_name_the_question_gives(tmp_path):
    article = Document("analysis.txt", f"The rift\n\n{ANALYSIS}\n")
    bot = Chatbot.from_documents([article, DOCS[1]], index_dir=tmp_path)
    top = best(bot, "In which magazine did Harold Chambers publish his view?")[0]
    assert top.candidate.text.startswith("Writing in UnHerd magazine")
    # "harold" is met through "Chambers": only "publish" of the four known terms is missing.
    assert top.evidence.missing_share == 0.25 and top.evidence.coverage == pytest.approx(0.75, abs=1e-12)


def test_a_sentence_whose_passage_mentions_none_of_the_questions_names_is_marked(small_bot):
    elsewhere = best(small_bot, "Who brokered the exchange between Finland and Norway?")
    assert elsewhere and all(s.names_absent for s in elsewhere)
    one_named = best(small_bot, "Who brokered the exchange between Finland and Russia?")
    swap = [s for s in one_named if s.candidate.source == "swap.txt"]
    assert swap and not any(s.names_absent for s in swap)
    unnamed = best(small_bot, "Who brokered the exchange?")
    assert not any(s.names_absent for s in unnamed)


def test_an_age_the_passage_does_not_give_is_refused(tmp_path):
    text = "Apti Alaudinov, wearing a grey sweatshirt, spoke to reporters in Kursk. He commands the Akhmat unit."
    bot = Chatbot.from_documents([Document("a", text)], index_dir=tmp_path)
    assert bot.ask("How old is Apti Alaudinov?").abstained
    assert not bot.ask("Which unit does Apti Alaudinov command?").abstained


def test_unseen_terms_are_counted_apart_from_coverage(small_bot):
    top = best(small_bot, "What is the capital of Australia?")[0]
    assert top.evidence.unseen_share == pytest.approx(1.0)
    assert top.evidence.coverage == 0.0


# ----------------------------------------------------------------------------------------
# The abstention model and its fitted numbers


def test_the_abstention_model_is_a_logistic_function_of_the_evidence():
    model = AbstentionModel(
        bias=-1.0,
        coverage=2.0,
        passage_coverage=0.0,
        missing_share=0.0,
        rare_coverage=0.0,
        unseen_share=-1.0,
        answer_type=0.0,
        type_missing=-2.0,
        top_passage=0.0,
        threshold=0.5,
    )
    evidence = Evidence(0.75, 0.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0)
    assert model.probability(evidence) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 1.5 - 0.5 - 2.0))))


def test_the_model_is_loaded_from_the_shipped_file_and_a_number_left_out_is_the_fitted_one():
    shipped = AbstentionModel.load(FITTED_ABSTENTION)
    assert AbstentionModel() == shipped == ComposerSettings().abstention
    assert asdict(shipped) == json.loads(FITTED_ABSTENTION.read_text(encoding="utf-8"))
    stricter = AbstentionModel(threshold=0.9)
    assert stricter == replace(shipped, threshold=0.9)


@pytest.mark.parametrize(
    "numbers",
    [
        {"bias": -1.0},  # numbers missing
        {f.name: 0.5 for f in fields(AbstentionModel)} | {"gamma": 1.0},  # a number the model lacks
        {f.name: "0.5" for f in fields(AbstentionModel)},  # not numbers
    ],
)
def test_a_model_file_must_hold_every_number_and_nothing_else(tmp_path, numbers):
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps(numbers), encoding="utf-8")
    with pytest.raises(ValueError, match="must hold a number for each"):
        read_abstention_numbers(path)


@pytest.fixture(scope="module")
def calibration():
    return benchmark("calibrate_abstention")


def test_the_calibration_writes_the_file_the_model_is_loaded_from(calibration, tmp_path):
    fit = replace(AbstentionModel(), bias=-2.5, threshold=0.41)
    path = tmp_path / "abstention.json"
    calibration.write_model(fit, path)
    assert AbstentionModel.load(path) == fit
    assert calibration.same_numbers(fit, AbstentionModel.load(path))
    assert not calibration.same_numbers(fit, AbstentionModel.load(FITTED_ABSTENTION))
    # The shipped file is written the same way, so a refit changes only its numbers.
    assert FITTED_ABSTENTION.read_text(encoding="utf-8") == json.dumps(asdict(AbstentionModel()), indent=2) + "\n"


def test_the_logistic_fit_recovers_known_coefficients(calibration):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 2))
    truth = np.array([-0.5, 2.0, -1.0])
    p = 1 / (1 + np.exp(-(truth[0] + x @ truth[1:])))
    y = (rng.random(len(p)) < p).astype(float)
    beta = calibration.fit_logistic(x, y, np.ones(len(y)), l2=0.0)
    assert beta == pytest.approx(truth, abs=0.08)


def test_sample_weights_give_each_kind_of_negative_its_share(calibration):
    Sample = calibration.Sample

    class Q:
        def __init__(self, answerable):
            self.prompt = type("P", (), {"answerable": answerable})()

    samples = [Sample(Q(True), "clapnq", None)] * 4 + [Sample(Q(False), "clapnq", None)] * 2
    samples += [Sample(Q(True), "seeds", None)] * 8
    weights = calibration.sample_weights(samples)
    assert weights[:4].sum() == pytest.approx(4)
    assert weights[4:6].sum() == pytest.approx(4 * calibration.NEGATIVE_WEIGHTS["on_topic"])
    assert weights[6:].sum() == pytest.approx(4 * calibration.NEGATIVE_WEIGHTS["out_of_scope"])


def test_the_calibration_measures_the_decision_the_composer_makes(calibration, small_bot):
    question = "How many captives changed hands in the prisoner swap?"
    settings = small_bot.composer_settings
    hits = small_bot.retrieve(question)
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), small_bot.index, settings)
    model = AbstentionModel(-2.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, threshold=0.5)  # P = sigmoid(4c - 2)
    low, high = (Evidence(c, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for c in (0.25, 0.75))
    top, runner_up = replace(scored[0], evidence=low), replace(scored[1], evidence=high)
    cases = [[], [top], [top, runner_up], [replace(top, names_absent=True), runner_up], [runner_up, top]]
    samples = [calibration.Sample(None, "clapnq", picked) for picked in cases]
    answered = [bool(p >= model.threshold) for p in calibration.probabilities(model, samples)]
    composer = [bool(picked) and not should_abstain(likeliest(picked, model), model) for picked in cases]
    assert answered == composer == [False, False, True, False, True]


def test_the_shipped_numbers_are_the_ones_docs_evaluation_records():
    page = (ROOT / "docs" / "EVALUATION.md").read_text(encoding="utf-8")
    line = next(line for line in page.splitlines() if line.startswith("- weights:"))
    recorded = {name: float(value) for name, value in re.findall(r"(\w+)=([+-]?\d+\.\d+)", line)}
    shipped = AbstentionModel()
    assert recorded == {f.name: getattr(shipped, f.name) for f in fields(shipped) if f.name != "threshold"}
    threshold = re.search(r"P\(answerable\) >= \*\*(\d\.\d+)\*\*", page)
    assert threshold and float(threshold.group(1)) == shipped.threshold


CLAPNQ = ROOT.parent / "shared" / "data" / "clapnq_dev"


@pytest.mark.skipif(not CLAPNQ.exists(), reason="ClapNQ dev is not in ../shared/data")
def test_the_clapnq_converter_keeps_every_question_and_its_passage():
    clapnq = benchmark("clapnq")
    documents, questions = clapnq.load(CLAPNQ)
    ids = {d.id for d in documents}
    assert len(questions) == 600 and sum(q.prompt.answerable for q in questions) == 300
    assert all(q.prompt.expected_sources[0] in ids for q in questions)
    assert all(q.references for q in questions if q.prompt.answerable)
    assert not any(q.references for q in questions if not q.prompt.answerable)
    held_out = sum(q.held_out for q in questions)
    assert 250 < held_out < 350
    assert [q.held_out for q in questions] == [clapnq.split(q.id) == "test" for q in questions]
