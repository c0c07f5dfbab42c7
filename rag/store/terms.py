"""The lexical half of a generation: a bm25s index of the chunks' analysed terms, in one file
that opens memory-mapped.

Scoring is bm25s's ``robertson`` method (k1=1.2, b=0.75) over the terms ``rag.language.analysis``
made, taken as they are (a term holding punctuation stays one term). Its term-frequency part
is FTS5's ``bm25()`` divided by k1+1 and its IDF is FTS5's, log((N-n+0.5)/(n+0.5)), so scores
are multiplied back by k1+1 and rankings equal what the format-1 index (SQLite FTS5) gave. The
one difference is a term in half the chunks or more, whose IDF is 0 or less: FTS5 clamps it
to 1e-6, robertson to 0. In a small collection that is common (a name in most of 49 chunks),
and a question of only such terms would then score every chunk 0, where FTS5 still ranks them
by term frequency. So the matrix is built with bm25s's own steps (document frequencies, IDF
array, scores, CSC), with its robertson IDF allowed to go negative and clamped as FTS5 clamps
it: bm25s's ``BM25.index`` takes no IDF of its own. This leans on bm25s's building blocks,
hence its pinned minor version; the scores are bm25s's, there is no scoring loop here.

bm25s scores a chunk against the whole corpus (N, the average length, each term's document
frequency), so the file is written whole, at each commit, from every chunk's terms
(``rag.store.lexical`` keeps them in a column); an incremental update rebuilds it. While
reading the rows the terms are mapped to ids as they stream in, one compact array of ids per
chunk, never a list of every term as a Python string.

The file, rather than bm25s's own folder of ``.npy`` files, so that the store's machinery for
data files (generation names, temporary name, fsync, rename, removal of leftovers) holds for it
unchanged, and a commit stays one rename per file::

    8 bytes   magic, b"RAGBM25" and the layout version
    8 bytes   length of the JSON header, little-endian
    header    JSON: parameters, the vocabulary (terms in id order) and, for each array, its
              dtype, length and offset
    arrays    data, indices, indptr (bm25s's CSC matrix of scores, one column per term) and
              ids (row -> chunk id), each at an offset that is a multiple of 64

Opening reads the header (the vocabulary becomes a dict) and maps the arrays with
``np.memmap``: the pages a query touches are read by the OS and shared between processes.

The costs (``benchmarks/lexical.py``, two shared cores): a query takes 0.6 ms at 10^5 chunks
where FTS5 took 46; scores are float32 (as bm25s keeps them), so 2 of 300 SciFact top-100
lists swap two chunks whose FTS5 scores differ by 1e-6. Every commit rebuilds the file: 5 s at
10^5 chunks, and at 10^6 a 490 MB file and a peak of some 2.6 GB while bm25s sorts its matrix.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError

logger = logging.getLogger(__name__)

ENGINE = "bm25s (robertson), memory-mapped"
K1, B, METHOD = 1.2, 0.75, "robertson"
FTS5_MIN_IDF = 1e-6  # what FTS5's bm25() puts in place of an IDF of 0 or less
_MAGIC = b"RAGBM25\x01"
_ALIGN = 64
_ARRAYS = ("data", "indices", "indptr", "ids")
LONG_JOB_CHUNKS = 50_000  # about two seconds of building: below it, no bars by default
_HEADER_LIMIT = 2**31  # a damaged length must not make the reader allocate terabytes


@dataclass(frozen=True)
class TermsIndex:
    """An open lexical index: bm25s's scores memory-mapped, and the vocabulary. Read-only, so
    safe to search from several threads."""

    path: Path
    vocabulary: dict[str, int]
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    ids: np.ndarray

    @classmethod
    def open(cls, path: Path) -> TermsIndex:
        """The index in ``path``; IndexCorruptError when it is not one, or is cut short."""
        header, arrays = _read(path)
        vocabulary = {term: i for i, term in enumerate(header["vocabulary"]) if isinstance(term, str)}
        index = cls(path, vocabulary, **arrays)
        index._check_shape()
        return index

    @property
    def count(self) -> int:
        """The chunks indexed."""
        return len(self.ids)

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for any of ``terms``; scores are positive, higher is better (ties
        by chunk id)."""
        columns = [self.vocabulary[t] for t in dict.fromkeys(terms) if t in self.vocabulary]
        if not columns or k <= 0 or not self.count:
            return []
        # Every chunk holding a term scores above 0 (its IDF is at least FTS5's 1e-6).
        scores = self._scorer().get_scores_from_ids(columns) * (K1 + 1)
        matched = np.flatnonzero(scores > 0)
        if len(matched) > k:
            matched = matched[np.argpartition(-scores[matched], k - 1)[:k]]
            # the k-th score may be shared by chunks left out: take every chunk that ties it
            matched = np.flatnonzero(scores >= scores[matched].min())
        best = matched[np.lexsort((self.ids[matched], -scores[matched]))][:k]
        return [(int(self.ids[row]), float(scores[row])) for row in best]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (0 for terms the index has never seen): the
        length of the term's column, whose entries are kept even where the score is 0."""
        frequencies = {}
        for term in dict.fromkeys(terms):
            column = self.vocabulary.get(term)
            frequencies[term] = 0 if column is None else int(self.indptr[column + 1] - self.indptr[column])
        return frequencies

    def damage(self) -> str:
        """What reading every entry finds wrong ("" when nothing): rows outside the index,
        column pointers that go back, scores that are not finite numbers. Opening does not read
        them all (it would read the whole file); ``rag.store.health`` does."""
        if len(self.indices) and (int(self.indices.min()) < 0 or int(self.indices.max()) >= self.count):
            return f"{self.path.name}: its scores point at rows outside the index"
        if np.any(np.diff(self.indptr) < 0):
            return f"{self.path.name}: its column pointers go back"
        if not np.all(np.isfinite(self.data)):
            return f"{self.path.name}: it holds scores that are not numbers"
        return ""

    def size(self) -> int:
        return self.path.stat().st_size

    def _scorer(self):
        import bm25s

        scorer = bm25s.BM25(k1=K1, b=B, method=METHOD)
        scorer.scores = {"data": self.data, "indices": self.indices, "indptr": self.indptr, "num_docs": self.count}
        scorer.vocab_dict = self.vocabulary
        scorer.nonoccurrence_array = None
        return scorer

    def _check_shape(self) -> None:
        vocabulary = len(self.vocabulary)
        if len(self.indptr) != vocabulary + 1 or len(self.data) != len(self.indices):
            raise IndexCorruptError(self.path.parent, f"{self.path.name}: its arrays do not fit its vocabulary")
        if len(self.indptr) and (self.indptr[0] != 0 or self.indptr[-1] != len(self.data)):
            raise IndexCorruptError(self.path.parent, f"{self.path.name}: its column pointers do not fit its scores")


# ----------------------------------------------------------------------------------------
# Writing


def write_terms_index(
    path: Path, rows: Iterable[tuple[int, str]], total: int | None = None, progress: bool | None = False
) -> int:
    """Index ``rows`` (chunk id, its terms joined by spaces) into a new file at ``path``,
    fsynced; the number of chunks. ``progress``: bars for reading the ``total`` rows and for
    bm25s's steps, for a long job only (None: on a terminal only)."""
    from tqdm.auto import tqdm

    shown = _shown(progress, total or 0)
    vocabulary: dict[str, int] = {}
    chunk_ids = array("q")
    corpus: list[array] = []
    for chunk_id, terms in tqdm(rows, total=total, desc="Lexical index", unit="chunk", disable=not shown):
        chunk_ids.append(chunk_id)
        corpus.append(array("i", [vocabulary.setdefault(term, len(vocabulary)) for term in terms.split()]))
    logger.info("building the lexical index of %d chunks (%d terms)", len(corpus), len(vocabulary))
    matrix = _score_matrix(corpus, len(vocabulary), shown)
    del corpus
    ids = np.frombuffer(chunk_ids, dtype=np.int64) if chunk_ids else np.zeros(0, np.int64)
    _write(path, list(vocabulary), {**matrix, "ids": ids})
    return len(ids)


def _shown(progress: bool | None, total: int) -> bool:
    """Whether to show bars: for a long job only (a short one is over before a bar says
    anything), when asked to, or by default (None) on a terminal."""
    return total >= LONG_JOB_CHUNKS and (progress or (progress is None and sys.stderr.isatty()))


def _score_matrix(corpus: list[array], vocabulary: int, progress: bool = False) -> dict[str, np.ndarray]:
    """bm25s's CSC matrix of scores (one column per term) for ``corpus`` (term ids per chunk)."""
    if not corpus:
        return {
            "data": np.zeros(0, np.float32),
            "indices": np.zeros(0, np.int32),
            "indptr": np.zeros(vocabulary + 1, np.int64),
        }
    from bm25s import scoring

    frequencies = scoring._calculate_doc_freqs(corpus, range(vocabulary), show_progress=progress)
    idf = scoring._build_idf_array(frequencies, len(corpus), compute_idf_fn=_fts5_idf, dtype="float32")
    average = float(np.mean([len(terms) for terms in corpus]))
    data, rows, columns = scoring._build_scores_and_indices_for_matrix(
        corpus, idf, average, frequencies, K1, B, None, None, method=METHOD, show_progress=progress
    )
    data, indices, indptr = scoring._np_csc_python(data, rows, columns, (len(corpus), vocabulary))
    return {
        "data": np.asarray(data, np.float32),
        "indices": np.asarray(indices, np.int32),
        "indptr": np.asarray(indptr, np.int64),
    }


def _fts5_idf(df: int, N: int) -> float:  # noqa: N803 (bm25s's keyword)
    """bm25s's robertson IDF, log((N-n+0.5)/(n+0.5)), clamped as FTS5 clamps it: 1e-6 where it
    is not above 0, so that a chunk holding only such terms still matches, ranked by them."""
    from bm25s import scoring

    idf = scoring._score_idf_robertson(df, N, allow_negative=True)
    return idf if idf > 0 else FTS5_MIN_IDF


def _write(path: Path, vocabulary: list[str], arrays: dict[str, np.ndarray]) -> None:
    entries, offset = {}, 0
    for name in _ARRAYS:
        entries[name] = {"dtype": arrays[name].dtype.str, "length": len(arrays[name]), "offset": offset}
        offset = _aligned(offset + arrays[name].nbytes)
    header = json.dumps(
        {"k1": K1, "b": B, "method": METHOD, "vocabulary": vocabulary, "arrays": entries}, ensure_ascii=False
    ).encode("utf-8", "surrogatepass")
    start = _aligned(len(_MAGIC) + 8 + len(header))
    with open(path, "wb") as handle:
        handle.write(_MAGIC + len(header).to_bytes(8, "little") + header)
        for name in _ARRAYS:
            handle.seek(start + entries[name]["offset"])
            handle.write(np.ascontiguousarray(arrays[name]).tobytes())
        handle.truncate(start + offset)
        handle.flush()
        os.fsync(handle.fileno())


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    def damaged(why: str) -> IndexCorruptError:
        return IndexCorruptError(path.parent, f"{path.name}: {why}")

    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            raise damaged("not a lexical index of this version")
        length = int.from_bytes(handle.read(8), "little")
        if length > min(size, _HEADER_LIMIT):
            raise damaged("its header is cut short")
        try:
            header = json.loads(handle.read(length).decode("utf-8", "surrogatepass"))
            start = _aligned(len(_MAGIC) + 8 + length)
            arrays = {}
            for name in _ARRAYS:
                entry = header["arrays"][name]
                dtype = np.dtype(entry["dtype"])
                end = start + entry["offset"] + entry["length"] * dtype.itemsize
                if end > size:
                    raise damaged(f"its {name} array is cut short")
                arrays[name] = (
                    np.memmap(path, dtype=dtype, mode="r", offset=start + entry["offset"], shape=(entry["length"],))
                    if entry["length"]
                    else np.zeros(0, dtype)
                )
        except (ValueError, KeyError, TypeError) as error:
            raise damaged(f"its header is unreadable ({error})") from error
    if not isinstance(header.get("vocabulary"), list):
        raise damaged("its header has no vocabulary")
    return header, arrays
