"""The checks on what a language model wrote (``rag.answer.checking``): markers resolved and
renumbered, unsupported sentences dropped, the refusal recognised, and the extractive answer
instead when too little holds."""

from __future__ import annotations

import pytest
from model_passages import CHECHENS, EXCHANGE, hit, two_passages

from rag.answer.checking import answer_from_output, check_output, is_refusal
from rag.answer.prompting import ModelPrompt
from rag.answer.refusal import REFUSAL
from rag.answer.support import StrictJudge
from rag.records import Answer, Hit


@pytest.fixture
def passages() -> list[Hit]:
    return two_passages()


def test_valid_markers_are_kept_and_cite_the_whole_passage(passages):
    raw = "Russia and Ukraine exchanged 314 prisoners on February 5 [1]. Kadyrov said 20 Chechen soldiers were among them [2]."
    checked = check_output(raw, passages)

    assert checked.failure is None
    assert not checked.abstained
    assert checked.text == (
        "Russia and Ukraine exchanged 314 prisoners on February 5. [1] "
        "Kadyrov said 20 Chechen soldiers were among them. [2]"
    )
    assert [(c.marker, c.source, c.start_line, c.quote) for c in checked.citations] == [
        (1, "003_exchange.txt", 21, EXCHANGE),
        (2, "003_exchange.txt", 11, CHECHENS),
    ]
    assert [c.start_char for c in checked.citations] == [900, 400]
    assert [check.supported for check in checked.checks] == [True, True]


def test_markers_are_renumbered_in_order_of_use(passages):
    checked = check_output("Twenty Chechen soldiers were among the prisoners returned to Russia [2].", passages)
    assert checked.text == "Twenty Chechen soldiers were among the prisoners returned to Russia. [1]"
    assert [(c.marker, c.quote) for c in checked.citations] == [(1, CHECHENS)]


def test_out_of_range_markers_are_removed(passages):
    checked = check_output("Russia and Ukraine exchanged 314 prisoners [1][7].", passages)
    assert checked.failure is None
    assert checked.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert [c.marker for c in checked.citations] == [1]


def test_a_list_in_one_marker_cites_each_source(passages):
    raw = "Kadyrov said that 20 Chechen soldiers were among the prisoners returned to Russia [2, 1]."
    checked = check_output(raw, passages)
    assert checked.failure is None
    assert checked.text == "Kadyrov said that 20 Chechen soldiers were among the prisoners returned to Russia. [1][2]"
    assert [(c.marker, c.quote) for c in checked.citations] == [(1, CHECHENS), (2, EXCHANGE)]


def test_a_sentence_joining_two_sources_is_not_supported(passages):
    # Each half is true, but no one sentence of the sources says the 20 were among the 314.
    raw = "20 Chechen soldiers were among the 314 prisoners exchanged on February 5 [2, 1]."
    assert check_output(raw, passages).failure == "only 0 of its 1 sentences are supported by the retrieved passages"


def test_only_out_of_range_markers_and_no_support_fail(passages):
    checked = check_output("Russia and Ukraine exchanged 390 prisoners [3]. They met in Istanbul [12].", passages)
    assert checked.failure == (
        "its citation markers point at no retrieved passage, and only 0 of its 2 sentences are supported "
        "by the retrieved passages"
    )
    assert checked.citations == []


def test_no_markers_and_no_support_fail(passages):
    checked = check_output("Russia and Ukraine exchanged prisoners in Geneva under heavy snow.", passages)
    assert checked.failure == (
        "it cites no passage, and only 0 of its 1 sentences are supported by the retrieved passages"
    )


def test_a_sentence_without_a_marker_is_attributed_to_the_sentence_that_supports_it(passages):
    checked = check_output("Russia and Ukraine exchanged 314 prisoners.", passages)
    assert checked.failure is None
    assert checked.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert [(c.marker, c.source, c.start_line, c.quote, c.start_char, c.attributed) for c in checked.citations] == [
        (1, "003_exchange.txt", 21, EXCHANGE, 900, True)
    ]
    assert [check.supported for check in checked.checks] == [True]


def test_a_sentence_with_a_rejected_marker_is_attributed_to_another_passage(passages):
    # [1] does not say it; the second passage does, and the sentence keeps a computed citation.
    raw = "On February 5, Russia and Ukraine exchanged 314 prisoners [2]. Twenty Chechen soldiers were among them [1]."
    checked = check_output(raw, passages)
    assert checked.failure is None
    assert checked.text == (
        "On February 5, Russia and Ukraine exchanged 314 prisoners. [1] Twenty Chechen soldiers were among them. [2]"
    )
    assert [(c.quote, c.attributed) for c in checked.citations] == [(EXCHANGE, True), (CHECHENS, True)]


def test_written_and_attributed_citations_are_told_apart(passages):
    raw = "Russia and Ukraine exchanged 314 prisoners [1]. Twenty Chechen soldiers were among them."
    checked = check_output(raw, passages)
    assert checked.text == (
        "Russia and Ukraine exchanged 314 prisoners. [1] Twenty Chechen soldiers were among them. [2]"
    )
    assert [(c.marker, c.attributed) for c in checked.citations] == [(1, False), (2, True)]


def test_an_unsupported_sentence_is_dropped_when_most_are_supported(passages):
    raw = "Russia and Ukraine exchanged 314 prisoners [1]. The exchange was organised by Switzerland [2]."
    checked = check_output(raw, passages)
    assert checked.failure is None
    assert checked.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert [c.marker for c in checked.citations] == [1]


def test_mostly_unsupported_output_fails(passages):
    raw = (
        "Russia and Ukraine exchanged 314 prisoners [1]. "
        "The exchange was organised by Switzerland [2]. "
        "It took place in Geneva under heavy snow [1]."
    )
    checked = check_output(raw, passages)
    assert checked.failure == "only 1 of its 3 sentences are supported by the retrieved passages"
    assert [check.supported for check in checked.checks] == [True, False, False]


def test_an_invented_number_is_not_supported(passages):
    checked = check_output("Russia and Ukraine exchanged 390 prisoners on February 5 [1].", passages)
    assert checked.failure == "only 0 of its 1 sentences are supported by the retrieved passages"


@pytest.mark.parametrize(
    "raw", [REFUSAL, "the documents do not say", "  The documents do not say. [1]", "“The documents do not say.”"]
)
def test_the_refusal_phrase_alone_abstains(passages, raw):
    checked = check_output(raw, passages)
    assert is_refusal(raw)
    assert checked.failure is None
    assert checked.abstained
    assert checked.text == REFUSAL
    assert checked.citations == []


def test_the_refusal_phrase_with_more_is_not_an_abstention(passages):
    assert not is_refusal("The documents do not say who won, but 314 prisoners were exchanged.")


def test_empty_output_and_no_passages_fail(passages):
    assert check_output("  \n", passages).failure == "the language model wrote nothing"
    assert (
        check_output("Anything [1].", []).failure == "no retrieved passage fits in the language model's context window"
    )


def test_a_passing_output_becomes_the_answer(passages):
    prompt = ModelPrompt("the prompt", passages, 3)
    raw = "Russia and Ukraine exchanged 314 prisoners [1]."

    def never() -> Answer:
        raise AssertionError("the fallback must not be used")

    answer = answer_from_output("How many?", passages, prompt, raw, never)
    assert answer.backend == "llm"
    assert answer.fallback_reason is None
    assert answer.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert answer.raw_text == raw
    assert answer.hits == passages
    assert [c.quote for c in answer.citations] == [EXCHANGE]


def test_a_failing_output_falls_back_and_says_why(passages):
    prompt = ModelPrompt("the prompt", passages, 3)
    raw = "ens ens ens eet eet eet"
    extractive = Answer(question="How many?", text=f"{EXCHANGE} [1]", raw_text=f"{EXCHANGE} [1]")

    answer = answer_from_output("How many?", passages, prompt, raw, lambda: extractive)
    assert answer.backend == "extractive"
    assert answer.text == f"{EXCHANGE} [1]"
    assert answer.raw_text == raw
    assert answer.fallback_reason == (
        "The language model's answer was not used: it cites no passage, and only 0 of its 1 sentences are "
        "supported by the retrieved passages. This is the extractive answer."
    )


def test_the_configured_judge_decides_support(passages):
    class RejectAll:
        threshold = 0.5

        def support(self, claim: str, passage: str) -> float:
            return 0.0

    prompt = ModelPrompt("the prompt", passages, 3)
    extractive = Answer(question="How many?", text="extractive")
    raw = "Russia and Ukraine exchanged 314 prisoners [1]."
    answer = answer_from_output("How many?", passages, prompt, raw, lambda: extractive, judge=RejectAll())
    assert answer.text == "extractive"
    assert "only 0 of its 1 sentences are supported" in answer.fallback_reason


def test_a_refusal_does_not_replace_an_extractive_answer_that_answers(passages):
    prompt = ModelPrompt("the prompt", passages, 3)
    extractive = Answer(question="How many?", text=f"{EXCHANGE} [1]", raw_text=f"{EXCHANGE} [1]")

    answer = answer_from_output("How many?", passages, prompt, REFUSAL, lambda: extractive)
    assert answer.text == f"{EXCHANGE} [1]"
    assert not answer.abstained
    assert answer.backend == "extractive"
    assert answer.raw_text == REFUSAL
    assert answer.fallback_reason == (
        "The language model declined to answer, but the extractive composer's evidence says the passages "
        "answer the question. This is the extractive answer."
    )


def test_a_refusal_stands_when_the_extractive_composer_refuses_too(passages):
    prompt = ModelPrompt("the prompt", passages, 3)
    refused = Answer(question="Who won?", text=REFUSAL, abstained=True)

    answer = answer_from_output("Who won?", passages, prompt, REFUSAL, lambda: refused)
    assert answer.abstained
    assert answer.backend == "llm"
    assert answer.text == REFUSAL
    assert answer.fallback_reason is None


@pytest.mark.parametrize(
    "raw",
    [
        "Russia and Ukraine exchanged 390 prisoners. He said twenty Chechen soldiers were among the prisoners.",
        "Geneva hosted the exchange of prisoners. They said twenty Chechen soldiers were among the prisoners.",
    ],
)
def test_a_sentence_leaning_on_a_dropped_one_is_dropped_with_it(passages, raw):
    # The second sentence alone is supported, but "he" / "they" would now name the wrong subject.
    checked = check_output(raw, passages)
    assert (
        checked.failure == "it cites no passage, and only 0 of its 2 sentences are supported by the retrieved passages"
    )


def test_a_sentence_leaning_on_a_kept_one_is_kept(passages):
    raw = "Russia and Ukraine exchanged 314 prisoners. They exchanged 157 from each side."
    assert check_output(raw, passages).text == (
        "Russia and Ukraine exchanged 314 prisoners. [1] They exchanged 157 from each side. [1]"
    )


@pytest.mark.parametrize(
    "raw, shown",
    [
        # a list's opening says nothing by itself
        (
            "Russia and Ukraine exchanged prisoners as follows:\nTwenty Chechen soldiers were among the prisoners.",
            "Twenty Chechen soldiers were among the prisoners. [1]",
        ),
        # the last sentence, cut off by the token limit
        (
            "Russia and Ukraine exchanged 314 prisoners. Kadyrov said that 20 Chechen soldiers were among",
            "Russia and Ukraine exchanged 314 prisoners. [1]",
        ),
        # said again, as a looping model does: once, and it counts against the share kept
        (
            "Russia and Ukraine exchanged 314 prisoners. Russia and Ukraine exchanged 314 prisoners.",
            "Russia and Ukraine exchanged 314 prisoners. [1]",
        ),
        (
            "Russia and Ukraine exchanged 314 prisoners. Twenty Chechen soldiers were among the prisoners.",
            "Russia and Ukraine exchanged 314 prisoners. [1] Twenty Chechen soldiers were among the prisoners. [2]",
        ),
    ],
)
def test_openings_and_unfinished_sentences_are_dropped(passages, raw, shown):
    checked = check_output(raw, passages)
    assert checked.failure is None
    assert checked.text == shown


def test_a_last_sentence_without_a_full_stop_is_whole_when_the_model_stopped_short_of_its_limit(passages):
    raw = "Russia and Ukraine exchanged 314 prisoners. Twenty Chechen soldiers were among the prisoners"
    cut = check_output(raw, passages)
    whole = check_output(raw, passages, finished=True)

    assert cut.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert whole.text == (
        "Russia and Ukraine exchanged 314 prisoners. [1] Twenty Chechen soldiers were among the prisoners [2]"
    )


@pytest.mark.parametrize(
    "question, raw, failure",
    [
        (
            "Who exchanged prisoners on February 5?",
            "314 prisoners were exchanged on February 5, 157 from each side.",
            "it names no person, which the question asks for",
        ),
        (
            "When were the prisoners exchanged?",
            "Russia and Ukraine exchanged 314 prisoners.",
            "it names no date, which the question asks for",
        ),
        ("How many prisoners were exchanged on February 5?", "Russia and Ukraine exchanged 314 prisoners.", None),
        ("When were the prisoners exchanged?", "On February 5, Russia and Ukraine exchanged 314 prisoners.", None),
    ],
)
def test_an_answer_must_name_the_kind_of_thing_asked_for(passages, question, raw, failure):
    assert check_output(raw, passages, question=question).failure == failure


def test_the_question_reaches_the_checks(passages):
    prompt = ModelPrompt("the prompt", passages, 3)
    extractive = Answer(question="q", text="extractive")
    restated = "Russia and Ukraine exchanged prisoners on February 5."  # nothing beyond the question
    answer = answer_from_output(
        "Did Russia and Ukraine exchange prisoners on February 5?", passages, prompt, restated, lambda: extractive
    )
    assert answer.text == "extractive"
    assert "only 0 of its 1 sentences are supported" in answer.fallback_reason
    assert check_output(restated, passages).failure is None  # read alone, it holds


def test_a_loop_counts_against_the_share_kept(passages):
    raw = (
        "Russia and Ukraine exchanged 314 prisoners. Russia and Ukraine exchanged 314 prisoners. "
        "Russia and Ukraine met in Geneva."
    )
    assert check_output(raw, passages).failure == (
        "it cites no passage, and only 1 of its 3 sentences are supported by the retrieved passages"
    )


def test_a_sentence_embroidered_with_a_clause_is_shown_without_it(passages):
    raw = "Kadyrov, who leads Chechnya, said that 20 Chechen soldiers were among the prisoners returned to Russia."
    assert StrictJudge().support(raw, CHECHENS) < StrictJudge().threshold  # "leads Chechnya" holds nowhere
    checked = check_output(raw, passages, question="How many Chechen soldiers were returned to Russia?")
    assert checked.failure is None
    assert checked.text == "Kadyrov said that 20 Chechen soldiers were among the prisoners returned to Russia. [1]"
    assert [(c.quote, c.attributed) for c in checked.citations] == [(CHECHENS, True)]


def test_of_coordinated_clauses_the_ones_that_hold_are_shown(passages):
    raw = "The exchange was held in Geneva, and Russia and Ukraine exchanged 314 prisoners."
    checked = check_output(raw, passages, question="How many prisoners did Russia and Ukraine exchange?")
    assert checked.failure is None
    assert checked.text == "Russia and Ukraine exchanged 314 prisoners. [1]"
    assert [c.quote for c in checked.citations] == [EXCHANGE]


def test_a_clause_that_holds_but_speaks_of_nothing_asked_is_not_shown(passages):
    raw = "The unit was Akhmat, and Russia and Ukraine exchanged 314 prisoners on February 5."
    checked = check_output(raw, passages, question="Which Chechen unit did the returned soldiers belong to?")
    assert checked.failure is not None and not checked.citations
    # the same clause answers a question about the exchange
    asked = check_output(raw, passages, question="How many prisoners were exchanged on February 5?")
    assert asked.text == "Russia and Ukraine exchanged 314 prisoners on February 5. [1]"


@pytest.mark.parametrize(
    "raw",
    [
        "Russia and Ukraine exchanged 314 prisoners on February 5, and 30 Chechen soldiers were returned to Russia.",
        "Russia and Ukraine exchanged 314 prisoners, which included 30 Chechen soldiers returned to Russia.",
    ],
)
def test_a_cut_that_leaves_out_the_count_asked_for_is_not_shown(passages, raw):
    checked = check_output(raw, passages, question="How many Chechen soldiers were returned to Russia?")
    assert checked.failure is not None, checked.text  # 314 is not the count asked for


def test_a_sentence_counts_once_towards_the_share_kept_however_it_was_cut(passages):
    raw = (
        "Russia and Ukraine exchanged 314 prisoners, and Kadyrov said that 20 Chechen soldiers were among the "
        "prisoners returned to Russia. The swap took place in Geneva. It was hosted by Switzerland. Talks lasted a week."
    )
    checked = check_output(raw, passages)
    assert (
        checked.failure == "it cites no passage, and only 1 of its 4 sentences are supported by the retrieved passages"
    )


def test_a_pronoun_after_a_cut_sentence_is_dropped_with_the_clause_it_may_lean_on(passages):
    raw = (
        "Russia and Ukraine exchanged 314 prisoners on February 5, and Zelensky thanked the UAE for mediating. "
        "He said that 20 Chechen soldiers were among the prisoners returned to Russia."
    )
    checked = check_output(raw, passages, min_supported_share=0.0)
    assert checked.text == "Russia and Ukraine exchanged 314 prisoners on February 5. [1]"


def test_a_cut_that_leaves_out_what_tied_the_sentence_to_the_question_is_not_shown():
    passages = [hit("Vladimir Putin was Russia's prime minister in 1999 before he became president.")]
    raw = "Vladimir Putin, who replaced Mikhail Kasyanov in 2004, was Russia's prime minister."
    question = "Who replaced Mikhail Kasyanov as Russia's prime minister in 2004?"
    assert check_output(raw, passages, question=question).failure is not None  # not "Vladimir Putin was ..."
    # the same cut stands where the clause cut away says nothing the question asks about
    raw = "Vladimir Putin, who likes judo, was Russia's prime minister."
    checked = check_output(raw, passages, question="Who was Russia's prime minister in 1999?")
    assert checked.text == "Vladimir Putin was Russia's prime minister. [1]"
