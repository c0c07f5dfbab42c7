"""FaissVectors past its exact threshold: saved as IVF,SQ8, kept IVF through updates, retrained
as it grows, back to exact when it shrinks; with a small threshold so each test is quick."""

import numpy as np
import pytest

import rag.store.vectors as vectors_module
from rag import Document
from rag.ingest.pipeline import update_index
from rag.models.embedding import HashingEmbedder
from rag.store.health import vector_problems
from rag.store.index import Index
from rag.store.vectors import EXACT_BELOW, FaissVectors, IvfPlan, ivf_plan
from tests.store.sample_index import settings

DIMENSION = 32


CENTRES = np.random.default_rng(0).standard_normal((40, DIMENSION))


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around the same 40 random centres, so an IVF index has structure to find."""
    rng = np.random.default_rng(seed)
    rows = CENTRES[rng.integers(0, len(CENTRES), count)] + 0.35 * rng.standard_normal((count, DIMENSION))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def saved_and_loaded(vectors: FaissVectors, tmp_path, exact_below: int) -> FaissVectors:
    path = tmp_path / "vectors.faiss"
    vectors.save(path)
    return FaissVectors.load(path, exact_below=exact_below)


def exact_top(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    return {int(i) for i in ids[np.argsort(-(matrix @ query), kind="stable")[:k]]}


def test_the_plan_grows_lists_with_the_root_of_the_count_within_bounds():
    assert ivf_plan(1_000) == IvfPlan(lists=128, probes=64, sample=1_000)
    assert ivf_plan(100_000) == IvfPlan(lists=1024, probes=512, sample=40_960)
    # Past SCAN_BUDGET vectors, a search scans a shrinking share of the lists.
    assert ivf_plan(1_000_000) == IvfPlan(lists=2048, probes=410, sample=81_920)
    assert ivf_plan(10**9) == IvfPlan(lists=2048, probes=16, sample=81_920)
    assert ivf_plan(2_000).lists == 128 and ivf_plan(40) == IvfPlan(lists=40, probes=20, sample=40)


def test_a_new_index_is_exact_until_saved_at_the_threshold(tmp_path):
    vectors = FaissVectors.empty(DIMENSION, exact_below=2_000)
    vectors.add(range(1_999), clustered(1_999))
    assert saved_and_loaded(vectors, tmp_path, 2_000).layout == "exact (flat)"

    vectors.add([5_000], clustered(1, seed=1))
    loaded = saved_and_loaded(vectors, tmp_path, 2_000)
    assert (loaded.exact, loaded.layout) == (False, "IVF128,SQ8, nprobe 64")
    assert (loaded.count, loaded.dimension) == (2_000, DIMENSION)


def test_the_default_threshold_keeps_small_indexes_exact(tmp_path):
    vectors = FaissVectors.empty(DIMENSION)
    vectors.add(range(100), clustered(100))
    assert saved_and_loaded(vectors, tmp_path, EXACT_BELOW).exact


def test_an_ivf_index_finds_what_an_exact_search_finds(tmp_path):
    matrix, ids = clustered(3_000), np.arange(3_000, dtype=np.int64) * 3 + 7
    vectors = FaissVectors.empty(DIMENSION, exact_below=1_000)
    vectors.add(ids, matrix)
    loaded = saved_and_loaded(vectors, tmp_path, 1_000)
    assert not loaded.exact

    queries = clustered(50, seed=2)
    recall = np.mean([len(set(loaded.search(q, 10)[0]) & exact_top(matrix, ids, q, 10)) / 10 for q in queries])
    assert recall >= 0.9
    found, scores = loaded.search(matrix[123], 5)
    assert found[0] == ids[123] and scores[0] == pytest.approx(1.0, abs=0.02)
    assert scores == sorted(scores, reverse=True)


def test_an_ivf_index_takes_additions_and_removals_and_stays_ivf(tmp_path):
    matrix = clustered(3_000)
    vectors = FaissVectors.empty(DIMENSION, exact_below=1_000)
    vectors.add(range(3_000), matrix)
    loaded = saved_and_loaded(vectors, tmp_path, 1_000)

    loaded.remove(range(0, 3_000, 2))
    fresh = clustered(10, seed=3)
    loaded.add(range(10_000, 10_010), fresh)
    assert loaded.count == 1_510
    assert loaded.search(matrix[100], 1)[0] != [100]
    assert loaded.search(matrix[101], 1)[0] == [101]
    assert loaded.search(fresh[4], 1)[0] == [10_004]

    again = saved_and_loaded(loaded, tmp_path, 1_000)
    assert (again.exact, again.count, again.layout) == (False, 1_510, loaded.layout)
    assert again.search(fresh[4], 3) == loaded.search(fresh[4], 3)


def test_an_ivf_index_that_shrinks_under_half_the_threshold_is_exact_again(tmp_path):
    matrix = clustered(2_000)
    vectors = FaissVectors.empty(DIMENSION, exact_below=2_000)
    vectors.add(range(2_000), matrix)
    loaded = saved_and_loaded(vectors, tmp_path, 2_000)

    loaded.remove(range(1_000, 2_000))
    assert not saved_and_loaded(loaded, tmp_path, 2_000).exact  # 1,000: not under half
    loaded.remove([999])
    flat = saved_and_loaded(loaded, tmp_path, 2_000)
    assert (flat.exact, flat.count) == (True, 999)
    # Decoded from one byte a dimension: each vector still finds itself first, nearly at 1.
    found, scores = flat.search(matrix[500], 1)
    assert found == [500] and scores[0] == pytest.approx(1.0, abs=0.02)


def test_an_ivf_index_grown_to_need_twice_the_lists_is_retrained(tmp_path):
    matrix = clustered(4_400, seed=4)
    vectors = FaissVectors.empty(DIMENSION, exact_below=300)
    vectors.add(range(300), matrix[:300])
    small = saved_and_loaded(vectors, tmp_path, 300)
    assert small.layout == "IVF64,SQ8, nprobe 32"

    small.add(range(300, 400), matrix[300:400])
    assert saved_and_loaded(small, tmp_path, 300).layout == "IVF64,SQ8, nprobe 32"  # not grown enough

    small.add(range(400, 4_400), matrix[400:])
    grown = saved_and_loaded(small, tmp_path, 300)
    assert (grown.layout, grown.count) == ("IVF256,SQ8, nprobe 128", 4_400)
    ids = np.arange(4_400)
    queries = clustered(30, seed=5)
    recall = np.mean([len(set(grown.search(q, 10)[0]) & exact_top(matrix, ids, q, 10)) / 10 for q in queries])
    assert recall >= 0.9


def test_probes_trade_recall_for_speed_on_ivf_and_are_refused_on_exact(tmp_path):
    vectors = FaissVectors.empty(DIMENSION, exact_below=1_000)
    vectors.add(range(1_000), clustered(1_000))
    assert vectors.probes is None
    with pytest.raises(ValueError, match="no lists to probe"):
        vectors.probes = 4
    loaded = saved_and_loaded(vectors, tmp_path, 1_000)
    loaded.probes = 10**6
    assert (loaded.probes, loaded.layout) == (128, "IVF128,SQ8, nprobe 128")


def test_a_threshold_under_two_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        FaissVectors.empty(DIMENSION, exact_below=1)


def test_an_index_the_updater_builds_past_the_threshold_is_ivf_and_stays_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors_module, "EXACT_BELOW", 30)
    documents = [
        Document(id=f"{i:02d}.txt", text=f"Note {i}: fruit number {i} grows in orchard {i % 7}.") for i in range(40)
    ]
    update_index(tmp_path, documents, settings())
    update_index(tmp_path, documents[:35], settings())  # an update removes five

    index = Index.open(tmp_path)
    path = tmp_path / index.manifest.files["vectors"]["name"]
    # Trained at 40 and not retrained for the five removed: 35 is not under half the threshold.
    assert (FaissVectors.load(path).layout, index.chunk_count) == ("IVF40,SQ8, nprobe 20", 35)
    assert vector_problems(path, index.manifest) == []
    query = HashingEmbedder(64).embed_query(documents[12].text)
    [(found, _)] = index.dense_search(query, 1)
    assert index.chunks([found])[found].source == "12.txt"
