"""Answers written by the tiny language model, through the ``Chatbot``: the models are random,
so it writes gibberish, and these tests check that it never reaches ``answer.text``, and that
what does is cited, verbatim, from retrieved passages."""

from __future__ import annotations

import re

from rag import Chatbot
from rag.ingest.sentences import split_sentences


def assert_cited_verbatim(answer, documents):
    """Every citation names a retrieved source and quotes it verbatim at its lines."""
    retrieved = {h.source for h in answer.hits}
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.marker for c in answer.citations}
    for citation in answer.citations:
        assert citation.source in retrieved
        text = documents[citation.source]
        assert text[citation.start_char : citation.end_char] == citation.quote
        lines = "\n".join(text.split("\n")[citation.start_line - 1 : citation.end_line])
        assert citation.quote in lines


def test_gibberish_falls_back_to_the_extractive_answer(neural_bot, extractive_bot, documents, each_question):
    question = each_question
    answer = neural_bot.ask(question)
    expected = extractive_bot.ask(question)

    assert answer.raw_text.strip()  # what the model wrote is kept for debugging ...
    assert answer.raw_text.strip() not in answer.text  # ... and never shown
    assert answer.backend == "extractive"
    assert answer.fallback_reason.startswith("The language model's answer was not used: ")
    assert (answer.text, answer.citations, answer.abstained) == (expected.text, expected.citations, expected.abstained)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected.hits]
    assert_cited_verbatim(answer, documents)


def test_fallback_answers_carry_verbatim_citations(neural_index, tiny_models, documents, questions, few_tokens):
    # Without the random reranker the passages are the fused ones, which hold the answers, so
    # the fallback cites them: the checks above are not passing only because answers abstained.
    bot = Chatbot.from_index(neural_index, llm_model=str(tiny_models.llm), generation=few_tokens)
    answers = [bot.ask(question) for question in questions]

    assert all(answer.fallback_reason for answer in answers)
    assert sum(bool(answer.citations) for answer in answers) >= 2
    for answer in answers:
        assert_cited_verbatim(answer, documents)


def test_streaming_shows_the_model_text_then_the_checked_answer(neural_bot, questions):
    stream = neural_bot.stream(questions[0])
    pieces = list(stream)
    answer = stream.answer

    assert pieces and "".join(pieces) == answer.raw_text
    assert answer.text == neural_bot.ask(questions[0]).text
    assert answer.fallback_reason is not None


def test_a_model_that_cites_well_is_shown(neural_bot, documents, monkeypatch, questions):
    """The same pipeline with the model's output scripted: a supported, cited sentence passes."""
    llm = neural_bot.llm

    def well_behaved(prompt):
        first = prompt.passages[0].text
        span = max(split_sentences(first), key=lambda s: s.end - s.start)
        yield " ".join(first[span.start : span.end].split())
        yield " [1] [9]"

    monkeypatch.setattr(llm, "stream", well_behaved)
    stream = neural_bot.stream(questions[1])
    pieces = list(stream)
    answer = stream.answer

    assert len(pieces) == 2
    assert answer.backend == llm.id == f"transformers:{llm.name}"
    assert answer.fallback_reason is None
    assert "[9]" in answer.raw_text and "[9]" not in answer.text
    assert answer.text.endswith(" [1]")
    assert [c.marker for c in answer.citations] == [1]
    assert all(check.supported for check in answer.checks)
    assert_cited_verbatim(answer, documents)
    assert neural_bot.ask(questions[1]).text == answer.text


def test_a_follow_up_is_searched_with_the_previous_question_and_shown_the_conversation(
    neural_bot, monkeypatch, questions
):
    llm = neural_bot.llm
    seen = {}

    def remember(prompt):
        seen["prompt"] = prompt.text
        yield "The documents do not say."

    monkeypatch.setattr(llm, "stream", remember)
    history = [
        {"role": "user", "content": questions[0]},
        {"role": "assistant", "content": "314 prisoners were exchanged. [1]"},
    ]
    answer = neural_bot.ask("And who reported it?", history=history)

    assert answer.abstained and answer.backend == llm.id
    assert f"User: {questions[0]}\nAssistant: 314 prisoners were exchanged." in seen["prompt"]
    expected_hits = neural_bot.retrieve(f"And who reported it? {questions[0]}", k=neural_bot.top_k)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected_hits]


def test_backends_say_what_is_active(neural_bot, extractive_bot, tiny_models):
    assert neural_bot.backends == {
        "embedder": f"sentence-transformers:{tiny_models.embedder}",
        "reranker": f"cross-encoder:{tiny_models.reranker}",
        "answers": f"transformers:{tiny_models.llm} (transformers, float32, 1 thread), checked, extractive fallback",
    }
    assert extractive_bot.backends["answers"] == "extractive"


def test_the_chat_page_names_the_writer_of_an_answer_without_its_folder(neural_bot, monkeypatch, questions):
    from rag_seeds_ui.chat import ChatApp

    llm = neural_bot.llm

    def well_behaved(prompt):
        first = prompt.passages[0].text
        span = max(split_sentences(first), key=lambda s: s.end - s.start)
        yield " ".join(first[span.start : span.end].split()) + " [1]"

    monkeypatch.setattr(llm, "stream", well_behaved)
    *_, (_, _, sources, _) = ChatApp(neural_bot).ask(questions[1], 3, None)
    assert "Answer written by: transformers:llm</div>" in sources  # the tiny model's folder is .../llm
    assert llm.name not in sources
    *_, (_, _, sources, _) = ChatApp(neural_bot, show_details=True).ask(questions[1], 3, None)
    assert f"Answer written by: transformers:{llm.name}</div>" in sources
