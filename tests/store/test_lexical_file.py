"""The bm25s lexical file: FTS5's BM25 scores and clamp, exact document frequencies, terms taken
whole, and damage told plainly."""

import contextlib
import math
import sqlite3

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.store.terms import LONG_JOB_CHUNKS, TermsIndex, write_terms_index

# chunk id -> its analysed terms, as rag.store.lexical stores them
ROWS = [
    (3, "appl grow tree orchard appl"),
    (7, "banana grow tropic climat"),
    (8, "cherri small stone fruit bird"),
    (20, "us polici grow"),
]
PUNCTUATED = [*ROWS[:3], (20, "u.s. polici grow")]


def build(tmp_path, rows=ROWS):
    path = tmp_path / "lexical-1.bm25"
    assert write_terms_index(path, iter(rows)) == len(rows)
    return TermsIndex.open(path)


def fts5(rows, terms, k=100):
    """What format 1 (SQLite FTS5, bm25()) gave for ``terms``."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')")
        db.executemany("INSERT INTO t (rowid, terms) VALUES (?, ?)", rows)
        query = " OR ".join(f'"{term}"' for term in terms)
        found = db.execute("SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY rank LIMIT ?", (query, k))
        return [(rowid, -score) for rowid, score in found]


def bm25(tf, length, df, n=4, average=4.25, k1=1.2, b=0.75):
    """FTS5's formula, for the exact values below."""
    idf = math.log((n - df + 0.5) / (df + 0.5))
    return (idf if idf > 0 else 1e-6) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))


def test_scores_are_fts5_bm25_to_float32_precision(tmp_path):
    index = build(tmp_path)
    found = index.search(["appl", "banana", "zzz"], 10)
    assert [chunk_id for chunk_id, _ in found] == [3, 7]
    assert found[0][1] == pytest.approx(bm25(tf=2, length=5, df=1), rel=1e-6)
    assert found[1][1] == pytest.approx(bm25(tf=1, length=4, df=1), rel=1e-6)
    reference = fts5(ROWS, ["appl", "banana", "zzz"])
    assert [i for i, _ in reference] == [3, 7]
    assert [s for _, s in found] == pytest.approx([s for _, s in reference], rel=1e-6)


def test_a_term_in_half_the_chunks_or_more_still_matches_ranked_as_fts5_ranks_it(tmp_path):
    # "grow" is in 3 of 4 chunks: its IDF is below 0, which FTS5 and this index clamp to 1e-6
    index = build(tmp_path)
    found = index.search(["grow"], 10)
    assert [chunk_id for chunk_id, _ in found] == [20, 7, 3] == [i for i, _ in fts5(ROWS, ["grow"])]
    assert found[0][1] == pytest.approx(bm25(tf=1, length=3, df=3), rel=1e-5)
    assert index.search(["grow"], 2) == found[:2]


def test_document_frequencies_are_exact_counts(tmp_path):
    index = build(tmp_path, PUNCTUATED)
    assert index.document_frequencies(["grow", "appl", "u.s.", "u", "zzz", "grow"]) == {
        "grow": 3,
        "appl": 1,
        "u.s.": 1,
        "u": 0,
        "zzz": 0,
    }


def test_terms_holding_punctuation_are_matched_whole(tmp_path):
    # FTS5's tokenizer split "u.s." into "u" and "s" (and counted both in the chunk's length);
    # the analyser's term is kept as it is
    index = build(tmp_path, PUNCTUATED)
    assert [i for i, _ in index.search(["u.s."], 10)] == [20]
    assert index.search(["u"], 10) == [] and index.search(["s"], 10) == []


def test_nothing_to_search_finds_nothing(tmp_path):
    index = build(tmp_path)
    assert index.search([], 10) == index.search(["zzz"], 10) == index.search(["appl"], 0) == []
    empty = build(tmp_path, rows=[])
    assert (empty.count, empty.search(["appl"], 10), empty.document_frequencies(["appl"])) == (0, [], {"appl": 0})


def test_ties_are_broken_by_chunk_id(tmp_path):
    index = build(tmp_path, rows=[(9, "x y"), (4, "x y"), (6, "x y"), (1, "z w")])
    assert [i for i, _ in index.search(["x"], 10)] == [4, 6, 9]
    assert [i for i, _ in index.search(["x"], 2)] == [4, 6]


@pytest.mark.parametrize(
    "damage, detail",
    [
        (lambda data: b"NOTBM25!" + data[8:], "not a lexical index of this version"),
        (lambda data: data[:40], "its header is cut short"),
        (lambda data: data[: len(data) - 64], "array is cut short"),
        (lambda data: data[:16] + b"x" + data[17:], "its header is unreadable"),
    ],
)
def test_a_damaged_file_is_an_index_corrupt_error(tmp_path, damage, detail):
    path = build(tmp_path).path
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IndexCorruptError, match=detail):
        TermsIndex.open(path)


@pytest.mark.parametrize(
    "array, value, detail",
    [
        ("indices", 99, "its scores point at rows outside the index"),
        ("indptr", 0, "its column pointers go back"),
        ("data", float("nan"), "it holds scores that are not numbers"),
    ],
)
def test_damage_inside_the_arrays_is_found_by_reading_them(tmp_path, array, value, detail):
    index = build(tmp_path)
    assert index.damage() == ""
    target = getattr(index, array)
    where = len(target) - 2  # not the first pointer nor the last, which opening checks
    damaged = np.memmap(index.path, dtype=target.dtype, mode="r+", offset=target.offset, shape=target.shape)
    damaged[where] = value
    damaged.flush()
    del damaged
    assert TermsIndex.open(index.path).damage() == f"lexical-1.bm25: {detail}"


def test_bars_are_shown_for_a_long_job_when_asked_and_not_otherwise(tmp_path, capsys):
    write_terms_index(tmp_path / "quiet.bm25", iter(ROWS), LONG_JOB_CHUNKS, progress=False)
    write_terms_index(tmp_path / "short.bm25", iter(ROWS), len(ROWS), progress=True)
    write_terms_index(tmp_path / "default.bm25", iter(ROWS), LONG_JOB_CHUNKS, progress=None)  # not a terminal
    assert capsys.readouterr().err == ""
    write_terms_index(tmp_path / "shown.bm25", iter(ROWS), LONG_JOB_CHUNKS, progress=True)
    shown = capsys.readouterr().err
    assert f"Lexical index:   0%|          | 4/{LONG_JOB_CHUNKS}" in shown and "BM25S Compute Scores" in shown
