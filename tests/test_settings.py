"""One ``Settings`` value configures a chatbot: passed whole it builds the same bot as its
fields given as keywords, and a keyword given beside it overrides that field."""

from __future__ import annotations

import dataclasses

import pytest

from rag import Chatbot, Document
from rag.answer.extractive import ComposerSettings
from rag.answer.llm import GenerationSettings
from rag.chatbot import open_chatbot
from rag.errors import ModelLoadError
from rag.search.retrieval import RetrievalSettings
from rag.settings import Settings, split_settings
from tests.conftest import SEEDS

QUESTIONS = [
    "How many prisoners were exchanged on February 5?",
    "Which Serbian leader did Chris Costa compare Putin to?",
    "What are these articles about?",
    "What is the capital of Australia?",
]
TUNED = {
    "retrieval": RetrievalSettings(fusion="rrf", candidates=40),
    "composer": ComposerSettings(max_sentences=1, use_lexicon=False),
    "generation": GenerationSettings(max_new_tokens=24),
}


def same_bot(one: Chatbot, other: Chatbot) -> None:
    assert one.settings == other.settings
    assert (one.backends, one.top_k) == (other.backends, other.top_k)
    for question in QUESTIONS:
        assert one.ask(question) == other.ask(question), question


def test_the_defaults_are_what_a_bot_built_without_settings_has(seeds_index):
    bot = Chatbot.from_index(seeds_index)
    assert bot.settings == Settings()
    assert bot.composer_settings == ComposerSettings()


def test_settings_passed_whole_open_the_same_bot_as_their_fields_as_keywords(seeds_index):
    whole = Chatbot.from_index(seeds_index, settings=Settings(**TUNED))
    named = Chatbot.from_index(seeds_index, **TUNED)
    assert whole.settings == named.settings == Settings(**TUNED)
    same_bot(whole, named)
    assert whole.ask(QUESTIONS[1]) != Chatbot.from_index(seeds_index).ask(QUESTIONS[1]), "the settings took effect"


def test_settings_passed_whole_index_as_the_keywords_do(tmp_path):
    documents = [Document(id="a.txt", text="The sky over Xanadu is green. The sea is grey.")]
    whole = Chatbot.from_documents(documents, tmp_path / "whole", settings=Settings(**TUNED), top_k=2)
    named = Chatbot.from_documents(documents, tmp_path / "named", **TUNED, top_k=2)
    assert whole.top_k == named.top_k == 2
    assert whole.ask("What colour is the sky over Xanadu?") == named.ask("What colour is the sky over Xanadu?")
    folder = Chatbot.from_folder(SEEDS, index_dir=tmp_path / "seeds", settings=Settings(**TUNED))
    assert folder.settings == Settings(**TUNED) and folder.folder == SEEDS


def test_settings_and_keywords_together_the_keywords_win_and_none_keeps_the_setting(seeds_index):
    composer = ComposerSettings(max_sentences=2)
    bot = Chatbot.from_index(seeds_index, settings=Settings(**TUNED), composer=composer, reranker_model=None)
    assert bot.settings == Settings(**TUNED | {"composer": composer})


def test_open_chatbot_passes_the_settings_on(seeds_index, tmp_path):
    assert open_chatbot(seeds_index, settings=Settings(**TUNED)).settings == Settings(**TUNED)
    built = open_chatbot(tmp_path / "index", SEEDS, settings=Settings(**TUNED), top_k=3)
    assert (built.settings, built.top_k, built.folder) == (Settings(**TUNED), 3, SEEDS)


def test_a_model_that_does_not_load_is_the_same_error_named_either_way(seeds_index, tmp_path):
    missing = str(tmp_path / "missing-model")
    for which in ("reranker_model", "llm_model"):
        with pytest.raises(ModelLoadError) as named:
            Chatbot.from_index(seeds_index, **{which: missing})
        with pytest.raises(ModelLoadError) as whole:
            Chatbot.from_index(seeds_index, settings=Settings(**{which: missing}))
        assert str(whole.value) == str(named.value)


def test_an_unknown_keyword_is_a_type_error_that_names_it(seeds_index):
    with pytest.raises(TypeError, match="Unknown setting 'llm'"):
        Settings().with_named(llm="x")
    with pytest.raises(TypeError, match="top_kk"):
        Chatbot.from_index(seeds_index, top_kk=3)


def test_split_settings_keeps_what_is_not_a_setting_for_the_constructor():
    settings, rest = split_settings(None, {"llm_model": "m", "top_k": 3, "judge": None})
    assert settings == Settings(llm_model="m") and rest == {"top_k": 3, "judge": None}


def test_settings_are_frozen_and_a_tuned_composer_goes_into_the_bots_settings(seeds_index):
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().llm_model = "m"
    bot = Chatbot.from_index(seeds_index)
    bot.composer_settings = ComposerSettings(max_sentences=1)
    assert bot.settings.composer == ComposerSettings(max_sentences=1)


def test_the_device_setting_reaches_the_models_the_bot_loads(seeds_index, monkeypatch):
    import rag.chatbot
    import rag.ingest.pipeline

    asked = {}

    def recording(step):
        def load(name, *, device=None, **options):
            asked[step] = device  # and nothing loaded: no reranker, extractive answers

        return load

    def embedder(name, *, device=None):
        asked["embedder"] = device
        return real_embedder(name)

    real_embedder = rag.ingest.pipeline.load_embedder
    monkeypatch.setattr(rag.ingest.pipeline, "load_embedder", embedder)
    monkeypatch.setattr(rag.chatbot, "load_reranker", recording("reranker"))
    monkeypatch.setattr(rag.chatbot, "open_writer", recording("llm"))
    Chatbot.from_index(seeds_index, settings=Settings(device="cpu"))
    assert asked == {"embedder": "cpu", "reranker": "cpu", "llm": "cpu"}


@pytest.mark.slow
def test_neural_settings_passed_whole_open_the_same_bot_as_the_keywords(tiny_models, tmp_path):
    models = {"reranker_model": str(tiny_models.reranker), "llm_model": str(tiny_models.llm)}
    index_dir = tmp_path / "index"
    Chatbot.from_folder(SEEDS, index_dir=index_dir, embedding_model=str(tiny_models.embedder))
    generation = GenerationSettings(max_new_tokens=24)
    whole = Chatbot.from_index(index_dir, settings=Settings(**models, generation=generation))
    named = Chatbot.from_index(index_dir, **models, generation=generation)
    assert whole.backends["answers"].startswith(f"transformers:{tiny_models.llm}")
    same_bot(whole, named)


@pytest.mark.parametrize("device", ["tpu", "quantum", "cpu;rm -rf /", "cuda:x"])
def test_an_unknown_device_is_an_error_whether_or_not_a_model_uses_it(seeds_index, monkeypatch, device):
    monkeypatch.delenv("RAG_DEVICE", raising=False)
    with pytest.raises(ModelLoadError, match=r"Unknown device .* \(from device\)"):
        Settings(device=device)
    with pytest.raises(ModelLoadError, match="Unknown device"):
        Chatbot.from_index(seeds_index, device=device)  # the hashing embedder never asks for one
    monkeypatch.setenv("RAG_DEVICE", device)
    with pytest.raises(ModelLoadError, match=r"Unknown device .* \(from RAG_DEVICE\)"):
        Chatbot.from_index(seeds_index)
    assert Settings(device="CPU").device == "CPU"  # device= overrides RAG_DEVICE


def test_a_cuda_device_is_checked_against_the_machine(monkeypatch):
    import torch

    monkeypatch.delenv("RAG_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match="'cuda:1' .* needs a CUDA GPU, and this machine has none"):
        Settings(device="cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert Settings(device="cuda:1").device == "cuda:1"
    with pytest.raises(ModelLoadError, match=r"names CUDA GPU 99, but this machine has 2 \(cuda:0 to cuda:1\)"):
        Settings(device="cuda:99")
