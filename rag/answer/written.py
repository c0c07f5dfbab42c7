"""The answer a language model writes (``Chatbot`` with ``llm_model`` or ``llm_url``): streamed
as it is written, then checked (``rag.answer.checking``), named by its writer, or the
extractive answer instead when it does not hold.

With ``GenerationSettings.evidence == "sentences"`` the model is given only the sentences the
extractive composer would quote (``rag.answer.narrowing``), and is not asked where the composer
refuses. An answer from them that does not hold is asked for again, asked this time to copy
rather than to answer (``SENTENCES_RETRY_PROMPT``; decoding is greedy, so the same prompt would
give the same answer), and once more from the first sentence alone when there were several (the
one the composer leads with: the best, where it says what was asked outright).
What a try writes is checked as the first answer is, and the first that holds is shown; none
holds, the extractive answer. The tries after the first are not streamed: the final answer
replaces what was streamed either way. Each costs a generation only where the one before
failed, and each is one more chance for a wrong answer that the judge cannot tell from a
right one to be shown.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import replace
from functools import cache

from rag.answer.checking import answer_from_output
from rag.answer.citations import SupportJudge
from rag.answer.narrowing import checked_on_whole_chunks, quoted_sentences
from rag.answer.prompting import SENTENCES_RETRY_PROMPT, SENTENCES_SYSTEM_PROMPT, GenerationSettings, ModelPrompt
from rag.answer.streaming import words_of
from rag.answer.writers import Writer
from rag.records import Answer, Hit

FINISHED_MARGIN = 4  # tokens


def written_answer(
    writer: Writer,
    question: str,
    hits: list[Hit],
    history: Sequence[Mapping[str, str]],
    extractive: Callable[[], Answer],
    *,
    judge: SupportJudge | None,
    settings: GenerationSettings,
    follow_up: bool = False,
) -> Generator[str, None, Answer]:
    """Yield the model's text as it writes it; return the checked ``Answer``. ``extractive``
    composes the extractive answer (called at most once). ``follow_up``: the question leans on
    the conversation ("And who reported it?"), which the model reads and the extractive
    composer does not, so a refusal by the model stands."""
    composer = cache(extractive)
    narrow = settings.evidence == "sentences"
    evidence = quoted_sentences(composer(), hits) if narrow else hits
    if not evidence:  # the composer refuses or quotes nothing: the model is not asked
        yield from words_of(composer().text)
        return composer()

    def checked(prompt: ModelPrompt, written: str) -> Answer:
        judged = checked_on_whole_chunks(prompt, hits) if narrow else prompt
        # Short of the token limit the model stopped of its own accord: its last sentence is
        # whole, with or without a full stop (a re-tokenised answer may count a token or two
        # more or less than was generated).
        finished = writer.count_tokens(written) < settings.max_new_tokens - FINISHED_MARGIN
        return answer_from_output(
            question,
            hits,
            judged,
            written,
            composer,
            judge=judge,
            settings=settings,
            refusal_stands=follow_up,
            finished=finished,
        )

    prompt = writer.prompt(question, evidence, history, SENTENCES_SYSTEM_PROMPT if narrow else None)
    pieces: list[str] = []
    for piece in writer.stream(prompt):
        pieces.append(piece)
        yield piece
    answer = checked(prompt, "".join(pieces))
    # Tried again only with the sentences: all of them, then the first alone; not streamed.
    retries = ([evidence, evidence[:1]] if len(evidence) > 1 else [evidence]) if narrow else []
    for sentences in retries:
        if answer.fallback_reason is None:
            break
        prompt = writer.prompt(question, sentences, history, SENTENCES_RETRY_PROMPT)
        answer = checked(prompt, "".join(writer.stream(prompt)))
    return replace(answer, backend=writer.id) if answer.backend == "llm" else answer
