"""FaissVectors, the vector engine behind the index, through the methods another engine would
implement; and the rule that keeps it the only module that knows FAISS."""

import re

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.store.vectors import FaissVectors
from tests.conftest import ROOT


def unit_rows(*rows):
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_search_finds_the_nearest_ids_best_first_with_their_inner_products():
    vectors = FaissVectors.empty(3)
    vectors.add([10, 20, 30], unit_rows([1, 0, 0], [0, 1, 0], [1, 1, 0]))
    assert (vectors.count, vectors.dimension) == (3, 3)

    ids, scores = vectors.search(unit_rows([1, 0.1, 0])[0], 2)
    assert ids == [10, 30]
    assert scores[0] > scores[1] and scores[0] == pytest.approx(1 / np.sqrt(1.01), rel=1e-6)


def test_a_search_for_more_than_it_holds_or_for_none_is_not_an_error():
    vectors = FaissVectors.empty(2)
    assert vectors.search(np.ones(2, dtype=np.float32), 5) == ([], [])
    vectors.add([7], unit_rows([1, 0]))
    assert vectors.search(unit_rows([1, 0])[0], 5)[0] == [7]
    assert vectors.search(unit_rows([1, 0])[0], 0) == ([], [])


def test_removed_ids_are_no_longer_found():
    vectors = FaissVectors.empty(2)
    vectors.add([1, 2], unit_rows([1, 0], [0, 1]))
    vectors.remove([1])
    assert vectors.count == 1
    assert vectors.search(unit_rows([1, 0])[0], 2)[0] == [2]


def test_saved_vectors_load_as_they_were(tmp_path):
    vectors = FaissVectors.empty(2)
    vectors.add([4, 5], unit_rows([1, 0], [1, 1]))
    vectors.save(tmp_path / "vectors-1.faiss")

    loaded = FaissVectors.load(tmp_path / "vectors-1.faiss")
    assert (loaded.count, loaded.dimension) == (2, 2)
    query = unit_rows([0, 1])[0]
    assert loaded.search(query, 2) == vectors.search(query, 2)


def test_a_file_faiss_cannot_read_is_damage_named_by_file(tmp_path):
    (tmp_path / "vectors-1.faiss").write_bytes(b"\x00garbage" * 8)
    with pytest.raises(IndexCorruptError) as raised:
        FaissVectors.load(tmp_path / "vectors-1.faiss")
    assert raised.value.detail == "vectors-1.faiss cannot be read as FAISS vectors"


def test_only_the_vectors_module_imports_faiss():
    """Another vector engine replaces one module, not a dozen places."""
    importing = {
        str(path.relative_to(ROOT))
        for folder in ("rag", "ui")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*(import faiss|from faiss)", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert importing == {"rag/store/vectors.py"}
