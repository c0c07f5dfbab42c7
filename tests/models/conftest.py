"""Shared set-up of the neural path's tests: seeds/ indexed with the tiny embedder, and bots
on that index with and without the tiny language model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Chatbot
from rag.answer.prompting import GenerationSettings
from rag.ingest.loading import load_folder
from tests.tiny_models import SEEDS

QUESTIONS = [
    "How many prisoners were exchanged on February 5?",
    "Which political and security analyst called Kadyrov's support for the invasion of Ukraine a gamble?",
    "According to Kadyrov's Telegram message, in which country were the Russia-Ukraine peace negotiations taking place?",
]
# float32: the random model's gibberish is the same on every CPU (auto is bfloat16 where it is fast)
FEW_TOKENS = GenerationSettings(max_new_tokens=24, dtype="float32")


@pytest.fixture(scope="module")
def questions() -> list[str]:
    """Three seeds questions with answers in the documents."""
    return list(QUESTIONS)


@pytest.fixture(params=QUESTIONS, ids=["exchange", "analyst", "negotiations"])
def each_question(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def neural_index(tiny_models, tmp_path_factory) -> Path:
    """seeds/ indexed with the tiny embedder, once per module; tests copy it before changing it."""
    index_dir = tmp_path_factory.mktemp("neural-index")
    Chatbot.from_folder(SEEDS, index_dir=index_dir, embedding_model=str(tiny_models.embedder))
    return index_dir


@pytest.fixture(scope="module")
def neural_bot(neural_index, tiny_models) -> Chatbot:
    return Chatbot.from_index(
        neural_index,
        reranker_model=str(tiny_models.reranker),
        llm_model=str(tiny_models.llm),
        generation=FEW_TOKENS,
    )


@pytest.fixture(scope="module")
def extractive_bot(neural_index, tiny_models) -> Chatbot:
    """The same index and reranker, no language model: what the fallback must equal."""
    return Chatbot.from_index(neural_index, reranker_model=str(tiny_models.reranker))


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return {d.id: d.text for d in load_folder(SEEDS)}


@pytest.fixture(scope="module")
def few_tokens() -> GenerationSettings:
    """Enough for the tiny model to write something, little enough to keep the tests quick."""
    return FEW_TOKENS
