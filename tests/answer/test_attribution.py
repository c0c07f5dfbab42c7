"""Citations after the fact, over the seeds: hand-written model outputs on real retrieved hits
are kept only where a sentence of the hits states what they state in the same relation, each
kept sentence cited verbatim at its lines; and through the ``Chatbot`` with a scripted writer,
a refusal gives way to a confident extractive answer and an invented answer does not survive."""

from __future__ import annotations

import pytest

from rag import Chatbot
from rag.answer.checking import check_output
from rag.answer.prompting import ModelPrompt
from rag.answer.refusal import REFUSAL
from rag.cli_format import format_answer
from tests.test_chatbot import quote_is_verbatim_at_its_lines

EXCHANGE_FILE = "003_58ec4efac89fea89.txt"
TALKS_FILE = "000_f2df93452cb9e121.txt"


@pytest.fixture(scope="module")
def exchange_hits(seeds_bot):
    return seeds_bot.retrieve("How many prisoners were exchanged on February 5?", k=5)


@pytest.fixture(scope="module")
def talks_hits(seeds_bot):
    return seeds_bot.retrieve("What did Blinken say about the peace talks between Ukraine and Russia?", k=5)


def kept(raw: str, hits) -> list[tuple[str, str, bool]]:
    """(sentence, quote, attributed) for each sentence kept; [] when the output fails."""
    checked = check_output(raw, hits)
    if checked.failure:
        return []
    for citation in checked.citations:
        assert quote_is_verbatim_at_its_lines(citation), citation
    quotes = {c.marker: c for c in checked.citations}
    return [
        (check.sentence, quotes[check.markers[0]].quote, quotes[check.markers[0]].attributed)
        for check in checked.checks
    ]


def test_the_total_is_kept_and_cited_to_the_sentence_that_states_it(exchange_hits):
    assert kept("The February 5 exchange included 314 prisoners.", exchange_hits) == [
        (
            "The February 5 exchange included 314 prisoners.",
            "The February 5 exchange included 314 prisoners (157 from each side).",
            True,
        )
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "Kadyrov said the February 5 exchange included 20 prisoners.",  # a sub-count given as the total
        "The February 5 exchange included 20 prisoners.",
        "The February 5 exchange included 314 Chechen soldiers.",
        "Kadyrov said the February 5 exchange included 314 prisoners.",  # nobody says it there
    ],
)
def test_a_moved_figure_or_speaker_is_not_kept(exchange_hits, raw):
    assert kept(raw, exchange_hits) == []


@pytest.mark.parametrize(
    "raw, holds",
    [
        (
            "Blinken said the US had not seen any evidence that peace talks were progressing in a constructive way.",
            True,
        ),
        (
            "Kadyrov said the US had not seen any evidence that peace talks were progressing in a constructive way.",
            False,
        ),
        ("Putin said the US had not seen any evidence that peace talks were progressing in a constructive way.", False),
    ],
)
def test_a_statement_is_kept_only_in_its_speakers_mouth(talks_hits, raw, holds):
    result = kept(raw, talks_hits)
    assert bool(result) is holds
    if holds:
        assert result[0][1].startswith("However, US Secretary of State Antony Blinken said")


def test_the_unsupported_sentence_is_dropped_and_the_rest_kept(exchange_hits):
    raw = "The February 5 exchange included 314 prisoners. Kadyrov said 20 of them were prisoners of war. [1]"
    assert [sentence for sentence, _, _ in kept(raw, exchange_hits)] == [
        "The February 5 exchange included 314 prisoners."
    ]


class ScriptedWriter:
    """The language model's seam in ``Chatbot`` (``prompt`` and ``stream``), writing ``text``."""

    id = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text

    def prompt(self, question, hits, history=None, rules=None) -> ModelPrompt:
        return ModelPrompt(question, list(hits), 0)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt):
        yield self.text


@pytest.fixture
def writing_bot(seeds_index):
    bot = Chatbot.from_index(seeds_index)
    yield bot
    bot.close()


def test_an_unmarked_answer_is_shown_with_attributed_citations(writing_bot):
    writing_bot.llm = ScriptedWriter("The February 5 exchange included 314 prisoners.")
    answer = writing_bot.ask("How many prisoners were exchanged on February 5?")

    assert answer.backend == "scripted" and answer.fallback_reason is None  # the writer that wrote it
    assert answer.text == "The February 5 exchange included 314 prisoners. [1]"
    assert [(c.source, c.start_line, c.attributed) for c in answer.citations] == [(EXCHANGE_FILE, 21, True)]
    assert answer.to_dict()["citations"][0]["attributed"] is True
    assert "[1] 003_58ec4efac89fea89.txt, line 21 (attributed)" in format_answer(answer)


def test_a_refusal_gives_way_to_a_confident_extractive_answer(writing_bot, seeds_bot):
    writing_bot.llm = ScriptedWriter(REFUSAL)
    question = "How many prisoners were exchanged on February 5?"
    answer = writing_bot.ask(question)

    assert not answer.abstained and answer.backend == "extractive"
    assert answer.text == seeds_bot.ask(question).text
    assert answer.raw_text == REFUSAL
    assert answer.fallback_reason.startswith("The language model declined to answer, but the extractive composer")


@pytest.mark.parametrize(
    "question, invented",
    [
        ("How many sailors died when the Russian cruiser Moscow sank?", "The cruiser Moscow sank with 40 sailors."),
        ("Who won the 2018 FIFA World Cup?", "France won the 2018 FIFA World Cup."),
        ("How old is Ramzan Kadyrov?", "Ramzan Kadyrov is 47 years old."),
    ],
)
def test_an_invented_answer_to_what_the_documents_do_not_say_does_not_survive(writing_bot, question, invented):
    writing_bot.llm = ScriptedWriter(invented)
    answer = writing_bot.ask(question)

    assert answer.abstained and answer.backend == "extractive"
    assert invented not in answer.text
    assert answer.fallback_reason.startswith("The language model's answer was not used: it cites no passage")
