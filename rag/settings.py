"""``Settings``: everything a ``Chatbot`` is configured with, as one value.

It owns the grouping only: which models to load (each a Hugging Face id or a local folder,
None for the default, and the device they run on) and the retrieval, composer and generation
settings, each defined beside the stage it tunes. One value goes whole through the
constructors, ``open_chatbot``, ``rag doctor``, the CLI and the chat page, so a new option is
added here once rather than threaded through every signature on its way.

Trade-offs made:
- The keyword arguments documented in the README (``embedding_model=``, ``llm_model=``,
  ``generation=`` ...) stay: they build a ``Settings`` with ``with_named``. A keyword left at
  None keeps what ``settings=`` says, so None cannot switch a model off that the value turns
  on; pass a ``Settings`` without it instead.
- Frozen: one value can be shared by bots and threads; change one with
  ``dataclasses.replace``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from rag.answer.evidence import ComposerSettings
from rag.answer.prompting import GenerationSettings
from rag.answer.remote import ServerSettings, api_base
from rag.errors import RagError
from rag.models.devices import named_device
from rag.search.retrieval import RetrievalSettings
from rag.validation import UnknownSettingError

MODEL_FIELDS = ("embedding_model", "reranker_model", "llm_model")


@dataclass(frozen=True)
class Settings:
    """``embedding_model``, ``reranker_model``, ``llm_model``: a Hugging Face id or a local
    folder each; None for the default (the offline hashing embedder, or the one an existing
    index was built with; no reranker; extractive answers). ``device``: where the models run
    ("cpu", "cuda" ...); None for ``RAG_DEVICE``, else the fastest one present.
    ``llm_url``: an OpenAI-compatible chat server (llama.cpp's ``llama-server``, Ollama, vLLM)
    that writes the answers instead of a local ``llm_model``, which then names the server's
    model (None: its first); ``llm_server``: how long to wait for it."""

    embedding_model: str | None = None
    reranker_model: str | None = None
    llm_model: str | None = None
    device: str | None = None
    llm_url: str | None = None
    llm_server: ServerSettings = field(default_factory=ServerSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    composer: ComposerSettings = field(default_factory=ComposerSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def __post_init__(self) -> None:
        # Checked here, where every caller (Python, the CLI, the chat page) builds one, so that a
        # list or a number as a model name is a message, not a TypeError deep in a library.
        for name in MODEL_FIELDS:
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
                object.__setattr__(self, name, value)  # a model folder as a Path is fine: keep its text
            if value is not None and not isinstance(value, str):
                raise RagError(
                    f"{name} must be a Hugging Face id or a folder path (text), not {type(value).__name__}: "
                    f"{name}='org/model'."
                )
        if self.llm_url is not None:
            api_base(self.llm_url)  # a RagError now for what is not an http(s) address
        if not isinstance(self.llm_server, ServerSettings):
            raise RagError(f"llm_server must be a ServerSettings, not {type(self.llm_server).__name__}.")
        if self.device is not None and not isinstance(self.device, str):
            raise RagError(f"device must be text such as 'cpu' or 'cuda', not {type(self.device).__name__}.")
        # The device (or RAG_DEVICE) is checked now, not when a model is first put on it: with
        # the offline defaults no model ever is, and "tpu" would pass unnoticed.
        named_device(self.device)
        for name, kind in (("retrieval", RetrievalSettings), ("composer", ComposerSettings)):
            if not isinstance(getattr(self, name), kind):
                raise RagError(f"{name} must be a {kind.__name__}, not {type(getattr(self, name)).__name__}.")
        if not isinstance(self.generation, GenerationSettings):
            raise RagError(f"generation must be a GenerationSettings, not {type(self.generation).__name__}.")

    def with_named(self, **named: Any) -> Settings:
        """These settings with each keyword that is not None put in place of its field: the
        keyword way (``llm_model="..."``) and the whole-value way (``settings=``) meet here."""
        unknown = sorted(set(named) - setting_names())
        if unknown:
            raise UnknownSettingError(
                f"Unknown setting {unknown[0]!r}; the settings are {', '.join(sorted(setting_names()))}."
            )
        given = {name: value for name, value in named.items() if value is not None}
        return replace(self, **given) if given else self


def setting_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(Settings))


def settings_or_default(settings: object) -> Settings:
    """``settings`` when it is a ``Settings``, the defaults when None, else a RagError."""
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise RagError(f"settings must be a rag.settings.Settings, not {type(settings).__name__}.")
    return settings


def split_settings(settings: Settings | None, options: Mapping[str, Any]) -> tuple[Settings, dict[str, Any]]:
    """``settings`` (the defaults when None) with the ``options`` that name a setting applied,
    and the options left over, for whatever takes them next."""
    names = setting_names()
    named = {name: value for name, value in options.items() if name in names}
    rest = {name: value for name, value in options.items() if name not in names}
    return settings_or_default(settings).with_named(**named), rest
