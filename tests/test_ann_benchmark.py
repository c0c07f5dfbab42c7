"""benchmarks/ann.py on random vectors: its exact truth is the true top 10, and its rows measure
the index they say (exact rows at recall 1, IVF rows at the layout FaissVectors reports)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import benchmark


@pytest.fixture(scope="module")
def ann():
    return benchmark("ann")


def unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, 16)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_truth_is_the_exact_top_ten_however_the_rows_are_sliced(ann, monkeypatch):
    monkeypatch.setattr(ann, "BATCH", 7)  # slices of 70 rows: the top 10 is merged across them
    vectors, queries = unit_rows(500, 0), unit_rows(4, 1)
    expected = [set(np.argsort(-(vectors @ q))[:10].tolist()) for q in queries]
    assert ann.exact_top(vectors, queries) == expected


def test_a_run_gives_an_exact_row_and_an_ivf_row_for_each_probe(ann, capsys):
    vectors, queries = unit_rows(2_000, 2), unit_rows(20, 3)
    rows = ann.measure(2_000, vectors, queries, probes=[8, 128], flat=True)

    assert [(r.size, r.layout) for r in rows] == [
        (2_000, "exact (flat)"),
        (2_000, "IVF128,SQ8, nprobe 8"),
        (2_000, "IVF128,SQ8, nprobe 128"),
    ]
    assert rows[0].recall == 1.0
    assert rows[1].recall < rows[2].recall  # a search of every list finds what one of 8 misses
    assert rows[2].recall >= 0.9  # every list scanned: only the one-byte codes can miss
    assert rows[0].mb > rows[2].mb  # four bytes a dimension against one
    assert capsys.readouterr().out.count("| 2,000 |") == 3
