"""``rag doctor`` says what ``rag ask`` would meet: the embedder it would use, and whether the
index opens, holds what its manifest says and was built with that embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_models import SEEDS, tiny_models  # noqa: F401 - a fixture

from rag import Chatbot
from rag.cli import main
from rag.doctor import diagnose
from rag.errors import IndexMismatchError


def checks_of(index_dir: Path, **models) -> dict:
    return {check.name: check for check in diagnose(index_dir, **models)}


def ask_error(index_dir: Path, **models) -> str:
    """What ``rag ask`` with these options says instead of answering."""
    with pytest.raises(IndexMismatchError) as raised:
        Chatbot.from_index(index_dir, **models)
    return str(raised.value)


@pytest.fixture(scope="module")
def tiny_index(tiny_models, tmp_path_factory) -> Path:  # noqa: F811 - the imported fixture
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


def test_a_model_named_for_an_index_built_offline_is_flagged_as_rag_ask_would(tiny_models, seeds_index):  # noqa: F811
    named = {"embedding_model": str(tiny_models.embedder)}
    checks = checks_of(seeds_index, **named)
    assert checks["embedder"].ok  # it loads; it is the index that cannot use it
    assert not checks["index"].ok and checks["index"].broken
    assert checks["index"].detail == ask_error(seeds_index, **named)
    assert "built with the embedder hashing-v2-1024 (dim 1024)" in checks["index"].detail
    assert f"--index-dir {seeds_index} --rebuild" in checks["index"].detail


def test_the_offline_embedder_named_for_an_index_built_with_a_model_is_flagged(tiny_models, tiny_index):  # noqa: F811
    checks = checks_of(tiny_index, embedding_model="hashing")
    assert checks["index"].broken
    assert checks["index"].detail == ask_error(tiny_index, embedding_model="hashing")
    assert f"built with the embedder sentence-transformers:{tiny_models.embedder} (dim 32)" in checks["index"].detail


def test_rag_doctor_exits_1_on_an_embedder_the_index_was_not_built_with(tiny_models, seeds_index):  # noqa: F811
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(seeds_index), "--embedding-model", str(tiny_models.embedder)]
    )
    assert result.exit_code == 1
    assert f"--  index          The index in {seeds_index} was built with the embedder hashing-v2-1024" in result.output


def test_the_embedder_the_index_was_built_with_passes_named_or_not(tiny_models, tiny_index):  # noqa: F811
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
    assert embedder.detail.startswith(
        f"The index in {hashing_index} was built with the embedder sentence-transformers:{gone}, "
        f"which `rag ask` needs to embed questions (or rebuild the index with another: "
        f"`rag index FOLDER --index-dir {hashing_index} --rebuild`). "
    )
    assert embedder.detail.endswith(
        f"The embedding model folder '{gone}' does not exist. Give the path of a "
        "folder saved with save_pretrained, or a Hugging Face id such as 'org/model'."
    )
