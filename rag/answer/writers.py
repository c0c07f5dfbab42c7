"""Who writes the answers: the one place a ``Chatbot`` gets its answer writer from.

Two kinds of writer exist. Without a language model (``llm_model`` unset) answers are
composed from the passages' own sentences (``rag.answer.extractive``): ``EXTRACTIVE``, and
``open_writer`` returns None. With one, a ``Writer`` writes them: today the transformers
model in this process (``rag.answer.llm.LLMAnswerer``), or an OpenAI-compatible chat server
(``rag.answer.remote.RemoteWriter``: llama.cpp's server, Ollama, vLLM) at ``llm_url``. Whatever a writer writes goes through the same checks (``rag.answer.checking``)
and falls back to the extractive answer when its citations do not hold, so a writer only
has to turn a prompt into text.

To add a writer:
1. Implement ``Writer`` (below) in a module of its own; it need not inherit from anything.
   ``prompt`` decides what fits (``rag.answer.prompting.fit_prompt`` does the trimming when
   given a renderer and a token counter); ``ModelPrompt.messages`` holds the chat messages
   for a writer that sends messages rather than text. ``stream`` yields the raw text as it
   arrives, markers ("[1]") and all, and stops when the caller stops reading (a generator's
   ``finally``); a failure is a ``rag.errors.GenerationError`` that says what to do.
2. Add it to ``open_writer``, before the transformers branch, recognised by its name:
   ``if name.startswith(("http://", "https://")): return HTTPWriter(name, settings=...)``,
   say. Anything not claimed there is a transformers model ("transformers:" optional). The
   writer's ``id`` starts with its kind ("http://…"), which the chat page keeps when it hides
   folder paths from visitors.

``Chatbot.ask`` and ``Chatbot.stream`` are one path: both call ``prompt`` then ``stream``;
``Answer.backend`` records the writer's ``id`` for an answer the model wrote (an answer
that fell back says "extractive" and why), and ``Chatbot.backends``, ``rag doctor`` and the
chat page's status line show its ``description``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from rag.answer.prompting import GenerationSettings, ModelPrompt
from rag.records import Hit

EXTRACTIVE = "extractive"
TRANSFORMERS = "transformers"


@runtime_checkable
class Writer(Protocol):
    """A language model that writes answers from numbered passages.

    ``id``: "prefix:model", recorded as ``Answer.backend`` ("transformers:/models/x.gguf",
    "http://127.0.0.1:8080/v1#model"). ``description``: ``id`` and how it runs, for status
    lines ("transformers:… (gguf, bfloat16, 1 thread)").
    """

    @property
    def id(self) -> str: ...

    @property
    def description(self) -> str: ...

    def prompt(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[Mapping[str, str]] | None = None,
        rules: str | None = None,
    ) -> ModelPrompt:
        """What the writer will be given: the passages that fit, numbered from [1]; none fit,
        ``passages == []`` (then ``stream`` yields nothing and the answer is a refusal).
        ``rules``: the system message, when not the one for whole passages."""
        ...

    def stream(self, prompt: ModelPrompt) -> Iterator[str]:
        """The answer's raw text, piece by piece as it is written; joined, the whole answer."""
        ...

    def count_tokens(self, text: str) -> int:
        """``text``'s length in the model's tokens (an estimate no lower than the count where
        the writer cannot know it exactly)."""
        ...


def open_writer(
    name: str | None,
    *,
    device: str | None = None,
    settings: GenerationSettings | None = None,
    url: str | None = None,
    server=None,
) -> Writer | None:
    """The writer the settings name, loaded now so that a writer that cannot work is an error
    when the bot is built: the chat server at ``url`` (``Settings.llm_url``; ``name`` is then
    the model it serves, its first by default), else the model ``name`` (``Settings.llm_model``)
    in this process; None for extractive answers."""
    if url:
        from rag.answer.remote import load_remote

        return load_remote(url, name, settings=settings, server=server)
    if name is None or not str(name).strip():
        return None
    from rag.answer.llm import load_llm

    return load_llm(str(name), device=device, settings=settings)


def writer_name(writer: Writer | None) -> str:
    """What the status lines call ``writer``: its description, or ``EXTRACTIVE``."""
    return EXTRACTIVE if writer is None else writer.description
