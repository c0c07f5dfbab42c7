"""The narrow evidence (``GenerationSettings(evidence="sentences")``): the model is given the
extractive answer's sentences as numbered sources, each narrowed to its verbatim text and
offsets in the chunk it came from, and is not asked at all when the composer refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import Chatbot, RagError
from rag.answer.narrowing import checked_on_whole_chunks, quoted_sentences
from rag.answer.prompting import (
    SENTENCES_RETRY_PROMPT,
    SENTENCES_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    GenerationSettings,
    ModelPrompt,
    build_messages,
)
from rag.answer.refusal import abstain
from rag.records import Answer, Chunk, Citation, Hit

TEXT = "Talks were held. Harold Chambers called it a gamble. He writes for UnHerd.\nNothing else."
CHUNK = Chunk(id=7, source="a.txt", text=TEXT, start_char=100, end_char=100 + len(TEXT), start_line=3, end_line=4)
OTHER = Chunk(id=8, source="b.txt", text="Unrelated text.", start_char=0, end_char=15, start_line=1, end_line=1)
HITS = [Hit(OTHER, 0.9), Hit(CHUNK, 0.8)]


def citation(marker: int, sentence: str, source: str = "a.txt") -> Citation:
    start = 100 + TEXT.index(sentence)
    return Citation(marker, source, 3, 3, sentence, start, start + len(sentence))


def extractive(*citations: Citation) -> Answer:
    return Answer(question="Who called it a gamble?", text="…", citations=list(citations), hits=HITS)


def test_each_quoted_sentence_becomes_a_hit_on_its_chunk_narrowed_to_the_sentence():
    answer = extractive(citation(1, "Harold Chambers called it a gamble."), citation(2, "He writes for UnHerd."))

    narrowed = quoted_sentences(answer, HITS)

    assert [(h.chunk.id, h.source, h.text, h.chunk.start_char, h.chunk.end_char, h.score) for h in narrowed] == [
        (7, "a.txt", "Harold Chambers called it a gamble.", 117, 152, 0.8),
        (7, "a.txt", "He writes for UnHerd.", 153, 174, 0.8),
    ]
    for hit in narrowed:  # still the document's own text at the chunk's offsets
        assert TEXT[hit.chunk.start_char - 100 : hit.chunk.end_char - 100] == hit.text


def test_the_prompt_numbers_the_sentences_as_sources():
    answer = extractive(citation(1, "Harold Chambers called it a gamble."), citation(2, "He writes for UnHerd."))

    messages = build_messages("Who called it a gamble?", quoted_sentences(answer, HITS), rules=SENTENCES_SYSTEM_PROMPT)

    assert messages[0]["content"] == SENTENCES_SYSTEM_PROMPT
    assert "Answer in one sentence, in the words of the numbered sentences." in SENTENCES_SYSTEM_PROMPT
    assert messages[1]["content"] == (
        "Sources:\n\n"
        '<source id="1" file="a.txt" lines="3">\nHarold Chambers called it a gamble.\n</source>\n\n'
        '<source id="2" file="a.txt" lines="3">\nHe writes for UnHerd.\n</source>\n\n'
        "Question: Who called it a gamble?"
    )


def test_whole_passages_keep_the_usual_rules():
    assert build_messages("Who called it a gamble?", HITS)[0]["content"] == SYSTEM_PROMPT


def test_the_checks_read_each_sentence_s_whole_chunk():
    answer = extractive(citation(1, "He writes for UnHerd."), citation(2, "Harold Chambers called it a gamble."))
    narrowed = quoted_sentences(answer, HITS)

    checked = checked_on_whole_chunks(ModelPrompt("the prompt", narrowed, 12), HITS)

    assert (checked.text, checked.token_count) == ("the prompt", 12)
    assert checked.passages == [HITS[1], HITS[1]]


def test_a_refusal_or_a_quote_no_hit_holds_gives_nothing():
    closest = citation(0, "Talks were held.")
    assert quoted_sentences(abstain("Who won?", HITS, closest), HITS) == []
    assert quoted_sentences(extractive(citation(1, "Talks were held.", source="b.txt")), HITS) == []
    moved = Citation(1, "a.txt", 3, 3, "Talks were held!", 100, 116)  # not the chunk's text there
    assert quoted_sentences(extractive(moved), HITS) == []


def test_a_pdf_quote_read_on_beyond_every_retrieved_hit_is_given_alone():
    # the composer reads a PDF passage that a page cuts short on into the next page
    on_next_page = Citation(1, "a.pdf", 9, 9, "This partnership let him rise.", 400, 430)
    [alone] = quoted_sentences(extractive(on_next_page), HITS)
    assert (alone.source, alone.text, alone.chunk.start_char, alone.chunk.end_char) == (
        "a.pdf",
        "This partnership let him rise.",
        400,
        430,
    )
    assert alone.chunk.id not in {hit.chunk.id for hit in HITS}  # its checks read it alone
    # a retrieved PDF passage holding that place with other text: the index changed
    held = Hit(replace(CHUNK, source="a.pdf", start_char=390, end_char=440, text="x" * 50), 0.7)
    assert quoted_sentences(extractive(on_next_page), [held]) == []


def test_an_unknown_evidence_kind_is_refused_with_the_choices():
    with pytest.raises(RagError, match=r'must be one of passages, sentences, not .sentence.: evidence="passages"'):
        GenerationSettings(evidence="sentence")


class RecordingWriter:
    """A model that answers with ``texts`` in turn (the last again when they run out) and keeps
    the prompts and the rules it was given."""

    id = "recording"

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.prompts: list[ModelPrompt] = []
        self.rules: list[str | None] = []
        self.streamed = 0

    def prompt(self, question, hits, history=None, rules=None) -> ModelPrompt:
        prompt = ModelPrompt(question, list(hits), 0)
        self.prompts.append(prompt)
        self.rules.append(rules)
        return prompt

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt):
        self.streamed += 1
        yield self.texts[min(self.streamed, len(self.texts)) - 1]


@pytest.fixture
def narrow_bot(seeds_index):
    bot = Chatbot.from_index(seeds_index, generation=GenerationSettings(evidence="sentences"))
    yield bot
    bot.close()


def test_the_model_reads_the_extractive_sentences_and_its_answer_is_checked_against_them(narrow_bot, seeds_bot):
    question = "How many prisoners were exchanged on February 5?"
    narrow_bot.llm = RecordingWriter("The February 5 exchange included 314 prisoners. [1]")

    answer = narrow_bot.ask(question)

    quoted = [c.quote for c in seeds_bot.ask(question).citations]
    assert [h.text for h in narrow_bot.llm.prompts[0].passages] == quoted
    assert answer.backend == "recording" and answer.fallback_reason is None
    assert answer.text == "The February 5 exchange included 314 prisoners. [1]"
    # checked against, and cited to, the whole chunk the sentence was quoted from
    chunk = next(h.chunk for h in seeds_bot.retrieve(question, k=5) if h.text.find(quoted[0]) >= 0)
    assert [(c.source, c.start_line, c.quote) for c in answer.citations] == [
        ("003_58ec4efac89fea89.txt", chunk.start_line, chunk.text)
    ]
    assert chunk.start_line == 17


def test_the_model_is_not_asked_when_the_composer_refuses(narrow_bot, seeds_bot):
    question = "Who won the 2018 FIFA World Cup?"
    narrow_bot.llm = RecordingWriter("France won the 2018 FIFA World Cup. [1]")

    answer = narrow_bot.ask(question)

    assert narrow_bot.llm.prompts == []
    assert answer.abstained and answer.backend == "extractive"
    assert answer.text == seeds_bot.ask(question).text


def test_an_answer_that_does_not_hold_gets_one_second_try_asked_to_copy(narrow_bot):
    question = "How many prisoners were exchanged on February 5?"
    narrow_bot.llm = RecordingWriter(
        "Kadyrov said 20 prisoners were exchanged. [1]",  # a sub-count given as the total
        "The February 5 exchange included 314 prisoners. [1]",
    )

    stream = narrow_bot.stream(question)
    streamed = "".join(stream)

    assert narrow_bot.llm.rules == [SENTENCES_SYSTEM_PROMPT, SENTENCES_RETRY_PROMPT]
    assert streamed == "Kadyrov said 20 prisoners were exchanged. [1]", "the second try is not streamed"
    assert stream.answer.backend == "recording"
    assert stream.answer.text == "The February 5 exchange included 314 prisoners. [1]"


def test_a_second_try_that_does_not_hold_either_gives_the_extractive_answer(narrow_bot, seeds_bot):
    question = "How many prisoners were exchanged on February 5?"
    narrow_bot.llm = RecordingWriter("Kadyrov said 20 prisoners were exchanged. [1]")

    answer = narrow_bot.ask(question)

    assert narrow_bot.llm.streamed == 2, "one second try, no more"
    assert answer.backend == "extractive" and answer.fallback_reason
    assert answer.text == seeds_bot.ask(question).text


def test_an_answer_that_holds_is_not_asked_again(narrow_bot):
    narrow_bot.llm = RecordingWriter("The February 5 exchange included 314 prisoners. [1]")

    narrow_bot.ask("How many prisoners were exchanged on February 5?")

    assert narrow_bot.llm.rules == [SENTENCES_SYSTEM_PROMPT] and narrow_bot.llm.streamed == 1


def test_with_whole_passages_there_is_no_second_try(seeds_index):
    with Chatbot.from_index(seeds_index) as bot:
        bot.llm = RecordingWriter("Kadyrov said 20 prisoners were exchanged. [1]")
        answer = bot.ask("How many prisoners were exchanged on February 5?")

    assert bot.llm.streamed == 1 and answer.backend == "extractive"


class LongWindedWriter(RecordingWriter):
    """A model whose answers count as long as its token limit: it was cut off."""

    def count_tokens(self, text: str) -> int:
        return NARROW_LIMIT


NARROW_LIMIT = GenerationSettings().max_new_tokens


def test_a_bare_answer_is_whole_when_the_model_stopped_short_of_its_limit_and_cut_off_when_it_did_not(narrow_bot):
    question = "Which government-run news agency interviewed Kadyrov in February 2023?"
    narrow_bot.llm = RecordingWriter("Grozny Inform")
    answer = narrow_bot.ask(question)
    assert answer.backend == "recording" and answer.text == "Grozny Inform [1]"

    narrow_bot.llm = LongWindedWriter("Grozny Inform")
    answer = narrow_bot.ask(question)
    assert answer.backend == "extractive" and "Grozny Inform" in answer.text


def test_a_last_try_reads_the_best_sentence_alone_when_there_were_several(narrow_bot):
    question = "Which Russian investigative outlet reported that the returned Chechens had been captured in Kursk?"
    wrong = "Meduza reported that the returned Chechens were captured in Kursk."
    right = "According to the outlet Agentstvo, the returned Chechen soldiers were members of the Akhmat unit."
    narrow_bot.llm = RecordingWriter(wrong, wrong, right)

    answer = narrow_bot.ask(question)

    first, second, last = narrow_bot.llm.prompts
    assert len(first.passages) > 1 and second.passages == first.passages
    assert last.passages == first.passages[:1]
    assert narrow_bot.llm.rules == [SENTENCES_SYSTEM_PROMPT, SENTENCES_RETRY_PROMPT, SENTENCES_RETRY_PROMPT]
    assert answer.backend == "recording" and answer.text.startswith(right)
