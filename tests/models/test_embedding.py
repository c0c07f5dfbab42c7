"""The sentence-transformers embedder (``rag.models.embedding``): its prompts, its vectors, and
an index built with it: recorded by id and fingerprint, opened with the model moved, refused
with another model in its place, and fused with the lexical results."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import Chatbot, Document
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.models.embedding import BGE_QUERY, known_prompts, load_embedder
from rag.models.registry import forget_loaded_models, model_fingerprint
from rag.search.retrieval import RetrievalSettings, Retriever
from tests.tiny_models import DOCUMENT_PROMPT, QUERY_PROMPT, SEEDS


def manifest_embedder(index_dir: Path) -> dict:
    return json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["embedder"]


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


def test_an_index_opens_with_its_model_moved_elsewhere(tiny_models, neural_index, tmp_path, questions):
    index_dir = shutil.copytree(neural_index, tmp_path / "index")
    moved = shutil.copytree(tiny_models.embedder, tmp_path / "another-venv" / "embedder")
    question = questions[0]
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
    forget_loaded_models()

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


def test_an_index_without_a_fingerprint_opens_as_it_did(tiny_models, neural_index, tmp_path, questions):
    """Indexes built before fingerprints were recorded: the same folder opens them, and only it."""
    index_dir = shutil.copytree(neural_index, tmp_path / "index")
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    del manifest["embedder"]["fingerprint"]
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    moved = shutil.copytree(tiny_models.embedder, tmp_path / "moved")

    assert Chatbot.from_index(index_dir).embedder.id == f"sentence-transformers:{tiny_models.embedder}"
    assert Chatbot.from_index(index_dir, embedding_model=str(tiny_models.embedder)).retrieve(questions[0])
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


def test_dense_and_lexical_results_stay_fused(neural_bot, questions):
    hits = neural_bot.retriever.search(questions[0], k=20)
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


@pytest.mark.parametrize("dim", ["8", "0", "15", "65537", "99999999999"])
def test_an_offline_embedder_dimension_out_of_range_is_a_model_load_error_naming_the_range(dim, tmp_path):
    from rag.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="dimension must be a whole number from 16 to 65,536"):
        load_embedder(f"hashing-v2-{dim}")
    with pytest.raises(ModelLoadError, match=f"not {int(dim)}"):
        Chatbot.from_documents([Document(id="a.txt", text="Grozny")], tmp_path, embedding_model=f"hashing-v2-{dim}")
    assert load_embedder("hashing-v2-16").dim == 16 and load_embedder("hashing-v2-65536").dim == 65536
