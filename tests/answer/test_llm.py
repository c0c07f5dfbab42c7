"""The language-model writer (``rag.answer.llm``): the tiny GPT-2 loaded, prompted and
streamed through the real transformers code."""

from __future__ import annotations

import threading

import pytest
from model_passages import hit

from rag.answer.llm import LLMAnswerer, load_llm
from rag.answer.prompting import SYSTEM_PROMPT, GenerationSettings, ModelPrompt, build_messages, render_plain
from rag.errors import RagError
from rag.models.registry import forget_loaded_models
from rag.records import Hit
from tests.tiny_models import LLM_WINDOW


@pytest.fixture(scope="module")
def tiny_llm(tiny_models) -> LLMAnswerer:
    return load_llm(str(tiny_models.llm), settings=GenerationSettings(max_new_tokens=24))


def test_loading_the_language_model_draws_no_progress_bar(tiny_models, capfd):
    forget_loaded_models()
    capfd.readouterr()
    load_llm(str(tiny_models.plain_llm), device="cpu")
    assert "Loading weights" not in capfd.readouterr().err


def seeds_like_passages(count: int) -> list[Hit]:
    sentence = "The February 5 exchange included 314 prisoners, and Kadyrov said Chechen soldiers were among them. "
    return [hit(sentence * 12, f"{n}.txt", start_line=n, chunk_id=n) for n in range(count)]


def test_the_tiny_model_loads_with_its_window_and_template(tiny_llm, tiny_models):
    assert tiny_llm.id == f"transformers:{tiny_models.llm}"
    assert tiny_llm.window == LLM_WINDOW
    assert tiny_llm.has_chat_template
    assert tiny_llm.device == "cpu"


def test_the_prompt_uses_the_chat_template_and_fits_the_window(tiny_llm):
    prompt = tiny_llm.prompt("How many prisoners were exchanged?", seeds_like_passages(8))

    assert prompt.text.startswith(f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nSources:")
    assert prompt.text.endswith("Question: How many prisoners were exchanged?<|im_end|>\n<|im_start|>assistant\n")
    assert 0 < len(prompt.passages) < 8
    assert prompt.token_count == tiny_llm.count_tokens(prompt.text)
    assert prompt.token_count <= LLM_WINDOW - 24


def test_a_model_without_a_template_gets_the_plain_layout(tiny_models):
    plain = load_llm(str(tiny_models.plain_llm), settings=GenerationSettings(max_new_tokens=24))
    passages = seeds_like_passages(1)
    prompt = plain.prompt("How many prisoners were exchanged?", passages)

    assert not plain.has_chat_template
    assert prompt.text == render_plain(build_messages("How many prisoners were exchanged?", passages))


def test_streaming_gives_the_same_text_as_generating(tiny_llm):
    prompt = tiny_llm.prompt("How many prisoners were exchanged?", seeds_like_passages(2))
    pieces = list(tiny_llm.stream(prompt))

    # TextIteratorStreamer hands over whole words; gibberish without spaces comes as one piece.
    assert pieces and all(pieces)
    assert "".join(pieces) == tiny_llm.generate(prompt)
    assert tiny_llm.count_tokens("".join(pieces)) <= 24 + 2  # bounded by max_new_tokens


def test_a_stream_abandoned_early_stops_generating(tiny_llm):
    prompt = tiny_llm.prompt("How many prisoners were exchanged?", seeds_like_passages(2))
    stream = tiny_llm.stream(prompt)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "rag-llm-generate"]


def test_no_passage_means_no_generation(tiny_llm):
    assert list(tiny_llm.stream(ModelPrompt("unused", [], 0))) == []


def test_a_window_too_small_for_the_answer_is_an_error(tiny_models):
    with pytest.raises(RagError, match="reads at most 1024 tokens"):
        load_llm(str(tiny_models.llm), settings=GenerationSettings(max_new_tokens=LLM_WINDOW))


def test_generation_runs_with_the_chosen_threads_and_leaves_the_callers_alone(tiny_models, monkeypatch):
    import torch

    writer = load_llm(str(tiny_models.llm), settings=GenerationSettings(max_new_tokens=8, threads=3))
    seen = []
    generate = writer.model.generate

    def counting_threads(*args, **kwargs):
        seen.append(torch.get_num_threads())  # in the generation thread
        return generate(*args, **kwargs)

    monkeypatch.setattr(writer.model, "generate", counting_threads)
    before = torch.get_num_threads()
    writer.generate(writer.prompt("How many prisoners were exchanged?", seeds_like_passages(1)))
    assert seen == [3]
    assert torch.get_num_threads() == before


def test_the_dtype_asked_for_is_the_dtype_loaded(tiny_models):
    writer = load_llm(str(tiny_models.llm), settings=GenerationSettings(dtype="bfloat16"))
    assert writer.dtype == "bfloat16"
    assert writer.description == f"transformers:{tiny_models.llm} (transformers, bfloat16, 1 thread)"
    assert load_llm(str(tiny_models.llm), settings=GenerationSettings(dtype="float32")).dtype == "float32"
