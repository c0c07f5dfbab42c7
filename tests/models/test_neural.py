"""The neural path through the public API, on tiny models built in seconds: index with a
sentence-transformers embedder, rerank with a cross-encoder, answer with a causal LM, stream.

The models are random, so the language model writes gibberish: these tests check that it never
reaches ``answer.text``, and that what does is cited, verbatim, from retrieved passages.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from huggingface_hub import constants as hub_constants

from rag import Chatbot, Document, RagError
from rag.answer.llm import GenerationSettings
from rag.cli import main
from rag.doctor import diagnose
from rag.errors import IndexCorruptError, IndexMismatchError, ModelLoadError
from rag.ingest.loading import load_folder
from rag.ingest.sentences import split_sentences
from rag.models.embedding import load_embedder
from rag.models.neural import (
    BGE_QUERY,
    _cross_encoder,
    _sentence_transformer,
    known_prompts,
    load_reranker,
    model_fingerprint,
    pick_device,
    quiet_loading,
    resolve_model,
)
from rag.search.retrieval import RetrievalSettings, Retriever
from tests.tiny_models import DOCUMENT_PROMPT, QUERY_PROMPT, SEEDS

QUESTIONS = [
    "How many prisoners were exchanged on February 5?",
    "Which political and security analyst called Kadyrov's support for the invasion of Ukraine a gamble?",
    "According to Kadyrov's Telegram message, in which country were the Russia-Ukraine peace negotiations taking place?",
]
FEW_TOKENS = GenerationSettings(max_new_tokens=24)


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


def manifest_embedder(index_dir: Path) -> dict:
    return json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["embedder"]


# ----------------------------------------------------------------------------------------
# Naming and finding models


def test_an_existing_folder_resolves_to_its_absolute_path(tiny_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_models.embedder.parent)
    assert resolve_model("embedder", "embedding") == str(tiny_models.embedder)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2", "embedding") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


@pytest.mark.parametrize("name", ["./no-such-model", "/no/such/model", "~/no-such-model", "a/b/c"])
def test_a_missing_folder_is_a_model_load_error(name):
    with pytest.raises(ModelLoadError, match="folder .* does not exist"):
        resolve_model(name, "embedding")


def test_a_file_is_not_a_model_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is a file"):
        resolve_model(str(tmp_path / "model.bin"), "reranker")


def test_a_folder_without_a_model_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match=f"The folder {tmp_path} does not hold a loadable reranker model"):
        load_reranker(str(tmp_path))


def test_an_uncached_hub_model_offline_says_how_to_get_it():
    # conftest sets HF_HUB_OFFLINE=1: this looks in the cache only, never on the network.
    with pytest.raises(ModelLoadError) as caught:
        load_embedder("rag-seeds-tests/no-such-model")
    message = str(caught.value)
    assert "Cannot load the embedding model 'rag-seeds-tests/no-such-model'" in message
    assert "HF_HUB_OFFLINE is set" in message
    assert "`hf download rag-seeds-tests/no-such-model`" in message


@pytest.mark.parametrize("which", ["embedding_model", "reranker_model", "llm_model"])
def test_a_missing_model_folder_through_the_public_api_is_a_rag_error(tmp_path, which):
    missing = tmp_path / "missing-model"
    with pytest.raises(RagError, match=f"folder '{missing}' does not exist"):
        Chatbot.from_folder(SEEDS, index_dir=tmp_path / "index", **{which: str(missing)})


def test_the_cli_reports_a_missing_model_in_one_line(tmp_path):
    result = CliRunner().invoke(
        main, ["ask", "Who?", "--folder", str(SEEDS), "--index-dir", str(tmp_path), "--llm-model", "./gone"]
    )
    assert result.exit_code == 2
    assert "Error: The language model folder './gone' does not exist." in result.output
    assert "Traceback" not in result.output


def test_device_is_chosen_automatically_unless_set(monkeypatch):
    import torch

    monkeypatch.delenv("RAG_DEVICE", raising=False)
    assert pick_device() == ("cuda" if torch.cuda.is_available() else pick_device("cpu"))
    monkeypatch.setenv("RAG_DEVICE", "cpu")
    assert pick_device() == "cpu"


def test_loading_a_model_draws_no_progress_bar(tiny_models, capfd):
    from transformers.utils import logging as transformers_logging

    _sentence_transformer.cache_clear()
    _cross_encoder.cache_clear()
    capfd.readouterr()
    load_embedder(str(tiny_models.embedder), device="cpu")
    load_reranker(str(tiny_models.reranker), device="cpu")
    assert "Loading weights" not in capfd.readouterr().err
    # Other bars, such as those of an index being built, are drawn as before.
    list(transformers_logging.tqdm(range(3), desc="Embedding"))
    assert "Embedding: 100%" in capfd.readouterr().err


@pytest.mark.skipif(hub_constants.HF_HUB_DISABLE_PROGRESS_BARS is not None, reason="bars set by the environment")
@pytest.mark.parametrize("before", ["on", "off", "one group off"])
def test_quiet_loading_puts_the_progress_bar_settings_back(before):
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    group = "huggingface_hub.lfs_upload"
    try:
        if before == "off":
            transformers_logging.disable_progress_bar()
        elif before == "one group off":
            disable_progress_bars(group)
        settings = (transformers_logging.is_progress_bar_enabled(), are_progress_bars_disabled(group))
        with quiet_loading(), quiet_loading():  # nested, as when a load loads another model
            assert not transformers_logging.is_progress_bar_enabled()
            assert are_progress_bars_disabled(group) == settings[1]  # downloads show theirs, if they did
        assert (transformers_logging.is_progress_bar_enabled(), are_progress_bars_disabled(group)) == settings
        assert are_progress_bars_disabled() == (before == "off")
    finally:
        transformers_logging.enable_progress_bar()
        enable_progress_bars()


def test_importing_rag_loads_no_neural_library():
    code = "import sys, rag, rag.models.neural, rag.answer.llm, rag.doctor; print(sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ----------------------------------------------------------------------------------------
# The embedder


def test_known_prompts_for_families_that_do_not_save_them():
    assert known_prompts("BAAI/bge-small-en-v1.5") == {"query": BGE_QUERY, "document": ""}
    assert known_prompts("intfloat/e5-base-v2") == {"query": "query: ", "document": "passage: "}
    assert known_prompts("intfloat/multilingual-e5-small") == {"query": "query: ", "document": "passage: "}
    assert known_prompts("sentence-transformers/all-MiniLM-L6-v2") == {}


def test_the_embedder_uses_the_models_prompts_and_normalises(tiny_models):
    embedder = load_embedder(str(tiny_models.embedder))
    model = embedder.model
    text = "Kadyrov said 20 Chechen soldiers were in the exchange."

    assert embedder.id == f"sentence-transformers:{tiny_models.embedder}"
    assert embedder.dim == 32
    assert (embedder.query_prompt, embedder.document_prompt) == (QUERY_PROMPT, DOCUMENT_PROMPT)
    query = embedder.embed_query(text)
    document = embedder.embed_documents([text])[0]
    assert query.dtype == np.float32 and query.shape == (32,)
    np.testing.assert_allclose(np.linalg.norm(query), 1.0, atol=1e-5)
    np.testing.assert_allclose(query, model.encode(QUERY_PROMPT + text, normalize_embeddings=True), atol=1e-5)
    np.testing.assert_allclose(document, model.encode(DOCUMENT_PROMPT + text, normalize_embeddings=True), atol=1e-5)
    assert not np.allclose(query, document, atol=1e-4)


def test_batches_give_the_same_vectors_as_one_at_a_time(tiny_models):
    embedder = load_embedder(str(tiny_models.embedder))
    texts = [f"Passage {n} about the prisoner exchange." + " More words." * (n % 7) for n in range(70)]
    batched = embedder.embed_documents(texts)
    assert batched.shape == (70, 32) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    for row in (0, 33, 69):
        np.testing.assert_allclose(batched[row], embedder.embed_documents([texts[row]])[0], atol=1e-5)
    assert embedder.embed_documents([]).shape == (0, 32)


def test_the_manifest_id_loads_the_same_embedder(tiny_models, neural_index):
    recorded = manifest_embedder(neural_index)
    assert recorded == {
        "id": f"sentence-transformers:{tiny_models.embedder}",
        "dim": 32,
        "fingerprint": model_fingerprint(tiny_models.embedder),
    }
    assert recorded["fingerprint"].startswith("model-files-v1:")
    assert load_embedder(recorded["id"]).id == recorded["id"]


def test_a_model_folder_has_the_same_fingerprint_wherever_it_is(tiny_models, tmp_path):
    copy = shutil.copytree(tiny_models.embedder, tmp_path / "elsewhere" / "minilm")
    assert model_fingerprint(copy) == model_fingerprint(tiny_models.embedder)
    # Neither the model card nor hidden files (what `hf download --local-dir` keeps) count ...
    (copy / "README.md").write_text("Notes of our own.", encoding="utf-8")
    (copy / ".cache").mkdir()
    (copy / ".cache" / "download.lock").write_text("x", encoding="utf-8")
    assert model_fingerprint(copy) == model_fingerprint(tiny_models.embedder)
    # ... any other file does.
    (copy / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}', encoding="utf-8")
    assert model_fingerprint(copy) != model_fingerprint(tiny_models.embedder)
    assert model_fingerprint(tmp_path / "no-such-folder") is None


def test_a_big_weight_file_is_fingerprinted_by_its_size_and_ends(tmp_path):
    weights = tmp_path / "model.safetensors"
    data = bytearray(range(256)) * (3 * 4096)  # 3 MiB: read by its ends only
    weights.write_bytes(data)
    first = model_fingerprint(tmp_path)
    for position in (10, len(data) - 10):  # the header and the last tensor
        changed = bytearray(data)
        changed[position] ^= 1
        weights.write_bytes(changed)
        assert model_fingerprint(tmp_path) != first
    weights.write_bytes(data + b"\0")
    assert model_fingerprint(tmp_path) != first
    weights.write_bytes(data)
    assert model_fingerprint(tmp_path) == first


def test_an_index_opens_with_its_model_moved_elsewhere(tiny_models, neural_index, tmp_path):
    index_dir = shutil.copytree(neural_index, tmp_path / "index")
    moved = shutil.copytree(tiny_models.embedder, tmp_path / "another-venv" / "embedder")
    question = QUESTIONS[0]
    expected = [h.chunk.id for h in Chatbot.from_index(index_dir).retrieve(question)]

    bot = Chatbot.from_index(index_dir, embedding_model=str(moved))
    assert bot.embedder.id == f"sentence-transformers:{moved}"
    assert [h.chunk.id for h in bot.retrieve(question)] == expected
    # Updating the index with it goes ahead too, and records where the model is now.
    (docs := tmp_path / "docs").mkdir()
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, docs)
    (docs / "new.txt").write_text("Apples are red.", encoding="utf-8")
    Chatbot.from_folder(docs, index_dir=index_dir, embedding_model=str(moved))
    assert manifest_embedder(index_dir)["id"] == f"sentence-transformers:{moved}"
    # Moved again with nothing to re-embed: the index still records where it is now, so that
    # `rag ask` finds it without --embedding-model.
    again = shutil.move(moved, tmp_path / "third-place")
    Chatbot.from_folder(docs, index_dir=index_dir, embedding_model=str(again))
    assert manifest_embedder(index_dir)["id"] == f"sentence-transformers:{again}"
    assert Chatbot.from_index(index_dir).embedder.id == f"sentence-transformers:{again}"


def test_another_model_at_the_same_path_does_not_open_the_index(tiny_models, tmp_path):
    from safetensors.torch import load_file, save_file

    model = shutil.copytree(tiny_models.embedder, tmp_path / "model")
    documents = [Document(id="a.txt", text="Apples are red."), Document(id="b.txt", text="Pears are green.")]
    Chatbot.from_documents(documents, tmp_path / "index", embedding_model=str(model))
    # Another model of the same shape saved in its place: the vectors would no longer match.
    weights = load_file(model / "model.safetensors")
    save_file({name: tensor + 0.01 for name, tensor in weights.items()}, model / "model.safetensors")
    _sentence_transformer.cache_clear()

    with pytest.raises(
        IndexMismatchError, match=re.escape(f"sentence-transformers:{model}, but the model there has changed")
    ):
        Chatbot.from_index(tmp_path / "index")
    with pytest.raises(IndexMismatchError, match="Put back the model the index was built with, or rebuild"):
        Chatbot.from_documents(documents, tmp_path / "index", embedding_model=str(model))
    assert Chatbot.from_documents(documents, tmp_path / "index", embedding_model=str(model), rebuild=True)


def test_a_fingerprint_that_is_not_text_is_damage(neural_index, tmp_path):
    index_dir = shutil.copytree(neural_index, tmp_path / "index")
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["embedder"]["fingerprint"] = 5
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="embedder.fingerprint should be text, not a whole number"):
        Chatbot.from_index(index_dir)


def test_an_index_without_a_fingerprint_opens_as_it_did(tiny_models, neural_index, tmp_path):
    """Indexes built before fingerprints were recorded: the same folder opens them, and only it."""
    index_dir = shutil.copytree(neural_index, tmp_path / "index")
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    del manifest["embedder"]["fingerprint"]
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    moved = shutil.copytree(tiny_models.embedder, tmp_path / "moved")

    assert Chatbot.from_index(index_dir).embedder.id == f"sentence-transformers:{tiny_models.embedder}"
    assert Chatbot.from_index(index_dir, embedding_model=str(tiny_models.embedder)).retrieve(QUESTIONS[0])
    with pytest.raises(IndexMismatchError, match=re.escape(f"not sentence-transformers:{moved} (dim 32)")):
        Chatbot.from_index(index_dir, embedding_model=str(moved))


def test_switching_embedders_on_an_existing_index(tiny_models, neural_index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(neural_index, index_dir)
    tiny_id = f"sentence-transformers:{tiny_models.embedder}"

    # Another embedder on this index is a clear error that says how to rebuild.
    with pytest.raises(IndexMismatchError, match=f"built with the embedder {tiny_id} .*--rebuild"):
        Chatbot.from_folder(SEEDS, index_dir=index_dir, embedding_model="hashing")
    # No embedder named: the index's own is adopted.
    assert Chatbot.from_folder(SEEDS, index_dir=index_dir).embedder.id == tiny_id
    assert Chatbot.from_index(index_dir).embedder.id == tiny_id
    # rebuild=True re-embeds everything with the new one.
    bot = Chatbot.from_folder(SEEDS, index_dir=index_dir, embedding_model="hashing", rebuild=True)
    assert bot.embedder.id == "hashing-v2-1024"
    assert manifest_embedder(index_dir) == {"id": "hashing-v2-1024", "dim": 1024}


def test_dense_and_lexical_results_stay_fused(neural_bot):
    hits = neural_bot.retriever.search(QUESTIONS[0], k=20)
    assert any(h.dense_rank is not None for h in hits)
    assert any(h.lexical_rank is not None for h in hits)


def test_a_neural_embedder_weighs_more_in_the_fusion_than_the_hashing_one(neural_bot, tmp_path):
    assert neural_bot.retriever.dense_weight == 0.5
    fused = dict(neural_bot.retriever.fuse([(1, 0.9), (2, 0.5)], [(2, 10.0), (3, 4.0)]))
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.0})
    hashing = Chatbot.from_documents([Document(id="a.txt", text="Apples are red.")], tmp_path)
    assert hashing.retriever.dense_weight == 0.1
    chosen = Retriever(neural_bot.index, neural_bot.embedder, RetrievalSettings(dense_weight=0.3))
    assert chosen.dense_weight == 0.3


# ----------------------------------------------------------------------------------------
# The reranker


def test_the_reranker_orders_the_fused_candidates_by_its_scores(neural_bot, tiny_models, monkeypatch):
    from sentence_transformers import CrossEncoder

    retriever = neural_bot.retriever
    assert retriever.reranker.id == f"cross-encoder:{tiny_models.reranker}"
    question = QUESTIONS[0]

    hits = neural_bot.retrieve(question, k=5)
    monkeypatch.setattr(retriever, "reranker", None)
    fused = neural_bot.retrieve(question, k=retriever.settings.rerank_candidates)
    monkeypatch.undo()
    scores = CrossEncoder(str(tiny_models.reranker), device="cpu").predict([(question, h.text) for h in fused])
    expected = sorted(range(len(fused)), key=lambda i: (-scores[i], i))[:5]

    assert [h.chunk.id for h in hits] == [fused[i].chunk.id for i in expected]
    np.testing.assert_allclose([h.score for h in hits], [scores[i] for i in expected], rtol=1e-5)


# ----------------------------------------------------------------------------------------
# Answers from the language model


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


@pytest.mark.parametrize("question", QUESTIONS)
def test_gibberish_falls_back_to_the_extractive_answer(neural_bot, extractive_bot, documents, question):
    answer = neural_bot.ask(question)
    expected = extractive_bot.ask(question)

    assert answer.raw_text.strip()  # what the model wrote is kept for debugging ...
    assert answer.raw_text.strip() not in answer.text  # ... and never shown
    assert answer.backend == "extractive"
    assert answer.fallback_reason.startswith("The language model's answer was not used: ")
    assert (answer.text, answer.citations, answer.abstained) == (expected.text, expected.citations, expected.abstained)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected.hits]
    assert_cited_verbatim(answer, documents)


def test_fallback_answers_carry_verbatim_citations(neural_index, tiny_models, documents):
    # Without the random reranker the passages are the fused ones, which hold the answers, so
    # the fallback cites them: the checks above are not passing only because answers abstained.
    bot = Chatbot.from_index(neural_index, llm_model=str(tiny_models.llm), generation=FEW_TOKENS)
    answers = [bot.ask(question) for question in QUESTIONS]

    assert all(answer.fallback_reason for answer in answers)
    assert sum(bool(answer.citations) for answer in answers) >= 2
    for answer in answers:
        assert_cited_verbatim(answer, documents)


def test_streaming_shows_the_model_text_then_the_checked_answer(neural_bot):
    stream = neural_bot.stream(QUESTIONS[0])
    pieces = list(stream)
    answer = stream.answer

    assert pieces and "".join(pieces) == answer.raw_text
    assert answer.text == neural_bot.ask(QUESTIONS[0]).text
    assert answer.fallback_reason is not None


def test_a_model_that_cites_well_is_shown(neural_bot, documents, monkeypatch):
    """The same pipeline with the model's output scripted: a supported, cited sentence passes."""
    llm = neural_bot.llm

    def well_behaved(prompt):
        first = prompt.passages[0].text
        span = max(split_sentences(first), key=lambda s: s.end - s.start)
        yield " ".join(first[span.start : span.end].split())
        yield " [1] [9]"

    monkeypatch.setattr(llm, "stream", well_behaved)
    stream = neural_bot.stream(QUESTIONS[1])
    pieces = list(stream)
    answer = stream.answer

    assert len(pieces) == 2
    assert answer.backend == "llm"
    assert answer.fallback_reason is None
    assert "[9]" in answer.raw_text and "[9]" not in answer.text
    assert answer.text.endswith(" [1]")
    assert [c.marker for c in answer.citations] == [1]
    assert all(check.supported for check in answer.checks)
    assert_cited_verbatim(answer, documents)
    assert neural_bot.ask(QUESTIONS[1]).text == answer.text


def test_a_follow_up_is_searched_with_the_previous_question_and_shown_the_conversation(neural_bot, monkeypatch):
    llm = neural_bot.llm
    seen = {}

    def remember(prompt):
        seen["prompt"] = prompt.text
        yield "The documents do not say."

    monkeypatch.setattr(llm, "stream", remember)
    history = [
        {"role": "user", "content": QUESTIONS[0]},
        {"role": "assistant", "content": "314 prisoners were exchanged. [1]"},
    ]
    answer = neural_bot.ask("And who reported it?", history=history)

    assert answer.abstained and answer.backend == "llm"
    assert f"User: {QUESTIONS[0]}\nAssistant: 314 prisoners were exchanged." in seen["prompt"]
    expected_hits = neural_bot.retrieve(f"And who reported it? {QUESTIONS[0]}", k=neural_bot.top_k)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected_hits]


def test_backends_say_what_is_active(neural_bot, extractive_bot, tiny_models):
    assert neural_bot.backends == {
        "embedder": f"sentence-transformers:{tiny_models.embedder}",
        "reranker": f"cross-encoder:{tiny_models.reranker}",
        "answers": f"transformers:{tiny_models.llm} (checked, extractive fallback)",
    }
    assert extractive_bot.backends["answers"] == "extractive"


# ----------------------------------------------------------------------------------------
# rag doctor


def test_doctor_lists_each_model_with_its_device_and_dimension(tiny_models, neural_index):
    checks = {
        c.name: c
        for c in diagnose(
            neural_index,
            embedding_model=str(tiny_models.embedder),
            reranker_model=str(tiny_models.reranker),
            llm_model=str(tiny_models.llm),
        )
    }
    assert checks["embedder"].ok and checks["reranker"].ok and checks["llm"].ok
    assert checks["embedder"].detail == (
        f"sentence-transformers:{tiny_models.embedder}, dim 32, sentence-transformers, loads, "
        "query prompt 'query: ', document prompt 'passage: ', device cpu"
    )
    assert checks["reranker"].detail == (
        f"cross-encoder:{tiny_models.reranker}, loads, device cpu, dim 32, max length 512"
    )
    assert checks["llm"].detail.startswith(f"transformers:{tiny_models.llm}, loads, device cpu, dim 32, ")
    assert checks["llm"].detail.endswith("parameters, window 1024 tokens, chat template")


def test_doctor_names_the_embedder_the_index_was_built_with_when_none_is_named(tiny_models, neural_index):
    # `rag ask --index-dir` on this index embeds questions with the tiny model, so doctor says so.
    embedder = {c.name: c for c in diagnose(neural_index)}["embedder"]
    assert embedder.ok
    assert embedder.detail.startswith(f"sentence-transformers:{tiny_models.embedder}, dim 32, sentence-transformers")
    assert embedder.detail.endswith(", as the index records")


def test_doctor_reports_what_does_not_load(tmp_path):
    checks = {c.name: c for c in diagnose(tmp_path, reranker_model=str(tmp_path / "gone"), llm_model=None)}
    assert not checks["reranker"].ok
    assert "does not exist" in checks["reranker"].detail
    assert checks["llm"].ok and checks["llm"].detail.startswith("none configured: extractive answers")


def test_rag_doctor_exits_1_when_a_named_model_does_not_load(tmp_path):
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(tmp_path), "--reranker-model", str(tmp_path / "gone")]
    )
    assert result.exit_code == 1
    assert "--  reranker" in result.output
    assert "--  index          none in" in result.output  # no index yet is not a failure by itself


def test_rag_doctor_prints_the_model_lines(tiny_models, tmp_path):
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(tmp_path), "--reranker-model", str(tiny_models.reranker)]
    )
    assert result.exit_code == 0
    assert f"ok  reranker       cross-encoder:{tiny_models.reranker}, loads, device cpu" in result.output
    assert "ok  llm            none configured" in result.output
