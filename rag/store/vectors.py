"""The dense vectors of an index, keyed by chunk id: the only module that knows FAISS.

``FaissVectors`` holds the vectors in one of two layouts and picks between them by size when it
is saved, so callers never choose:

* exact: ``IndexIDMap2(IndexFlatIP)``. Vectors are normalised by the embedders, so inner
  product is cosine similarity; a search is a pass over every vector and gives up no recall.
  A 1024-d search took 1.5 ms at 10^4 and 12-36 ms at 10^5 (idle to busy 2-core machine), and
  it holds 4 KB a vector.
* approximate: ``IVF{nlist},SQ8`` (``IndexIVFScalarQuantizer``, inner product, chunk ids stored
  in the inverted lists). A search scores the query against ``nlist`` centroids and scans the
  ``nprobe`` nearest lists; vectors are kept as one byte a dimension (1 GB at 10^6 1024-d).
  IVF, unlike HNSW, supports removing ids, which incremental updates need.

``save`` converts a flat index that has reached ``exact_below`` vectors to IVF, trained on a
sample of its vectors; once IVF it stays IVF across updates (``add`` and ``remove`` work on the
lists directly), is retrained when it has grown to want twice the lists it was trained with
(about four times the vectors: its lists have grown long), and goes back to flat when it falls
under half the threshold (the gap keeps an index near the line from flipping at every update).
Retraining and going back decode the stored bytes: the vectors come back with the scalar
quantiser's error (under 1/255 of each dimension's range), not as they were embedded.
``nprobe`` is saved in the file, so an index searches as it was built.

The trade, measured by benchmarks/ann.py on the offline embedder's vectors (SciFact sentences,
100 claims as queries, one thread, a shared 2-core machine): feature hashing spreads a text over
all 1024 dimensions, so its vectors are nearly orthogonal and cluster poorly; a query's nearest
neighbours lie in many lists, and recall@10 follows the share of the lists scanned more than
their number (at 10^5, IVF1024: 0.64 scanning 1/16 of them, 0.83 a quarter, 0.92 half; one byte
a dimension alone costs 0.02). So the index stays exact up to 50,000 vectors (a few ms), and IVF
scans half the lists, but at most about SCAN_BUDGET vectors' worth: the bytes an exact search
reads at the threshold (four bytes a dimension against one). Measured: 10^5, IVF1024 nprobe 512,
recall 0.92 at 8 ms against 30 ms exact, 102 MB against 391; 10^6, IVF2048, 992 MB, built
(trained and filled) in 195 s, recall 0.74 / 0.81 / 0.88 at nprobe 128 / 256 / 512 and
6 / 11 / 17 ms (410 by default). What a user sees moves less: at 10^5 the hybrid retrieval's
top 10 (dense and lexical fused) overlapped the exact index's by 0.98, with the same first
passage for all 100 claims, while the dense search fell from 25 to 6 ms. Neural embedders' vectors (384-d) were not measured: they are
denser in meaning, and likely reach a given recall scanning fewer lists than this plan does.

Its public methods are the whole interface the rest of the store uses, so another engine (a
Qdrant collection) is a class with the same methods:

    empty(dimension) / load(path)   a new, empty index / the one saved at ``path``
    add(ids, vectors)               vectors (one row each) under the given chunk ids
    remove(ids)                     drop the vectors of these chunk ids
    search(query, k)                the ids and scores of the ``k`` nearest, best first
    count, dimension                how many vectors, of what dimension
    layout                          in words, for ``rag doctor`` and the benchmarks
    save(path)                      write it to ``path`` (the caller fsyncs and renames)

faiss is imported inside the methods that need it: it is slow to import and not needed to
read a manifest or to say why an index cannot be opened.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError

logger = logging.getLogger(__name__)

# An index of this many vectors or more is saved as IVF; one under half of it, as flat again.
EXACT_BELOW = 50_000
# Lists: the power of two nearest LISTS_PER_ROOT * sqrt(count), within [MIN_LISTS, MAX_LISTS].
LISTS_PER_ROOT = 4
MIN_LISTS, MAX_LISTS = 64, 2048
# Training sample: this many vectors a list (FAISS warns under 39), at most the whole index.
SAMPLE_PER_LIST = 40
TRAINING_ITERATIONS = 10
# Lists scanned per query: half of them, but no more than about SCAN_BUDGET vectors' worth.
MAX_SCAN_SHARE, SCAN_BUDGET, MIN_PROBES = 1 / 2, 200_000, 16
SEED = 1234
ADD_BATCH = 100_000  # vectors a call while filling the lists, so the log shows progress


@dataclass(frozen=True)
class IvfPlan:
    """The shape of an IVF index for a given number of vectors."""

    lists: int
    probes: int
    sample: int


def ivf_plan(count: int) -> IvfPlan:
    lists = 2 ** round(math.log2(max(1.0, LISTS_PER_ROOT * math.sqrt(count))))
    lists = min(MAX_LISTS, max(MIN_LISTS, lists), max(1, count))  # k-means needs a point a list
    share = min(MAX_SCAN_SHARE, SCAN_BUDGET / max(1, count))
    probes = min(lists, max(MIN_PROBES, math.ceil(lists * share)))
    return IvfPlan(lists=lists, probes=probes, sample=min(count, SAMPLE_PER_LIST * lists))


class FaissVectors:
    """Vectors keyed by chunk id, searched by inner product: exactly while few, by IVF once many."""

    def __init__(self, index, exact_below: int | None = None) -> None:
        # Read at call time, not bound at definition, so a test can lower the module's threshold
        # for an index the updater builds.
        exact_below = EXACT_BELOW if exact_below is None else exact_below
        if exact_below < 2:
            raise ValueError(f"exact_below must be at least 2, not {exact_below}")
        self._index = index
        self._exact_below = exact_below

    @classmethod
    def empty(cls, dimension: int, exact_below: int | None = None) -> FaissVectors:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), exact_below)

    @classmethod
    def load(cls, path: Path, exact_below: int | None = None) -> FaissVectors:
        """The vectors saved at ``path``; IndexCorruptError when FAISS cannot read them."""
        import faiss

        # A single query gains nothing from OpenMP threads, and loses badly when the cores are
        # busy: on a loaded 2-core machine a 10k-chunk search took 102 ms with 2 threads, 14 ms
        # with one. Batch embedding is elsewhere, so one thread costs nothing here.
        faiss.omp_set_num_threads(1)
        try:
            return cls(faiss.read_index(str(path)), exact_below)
        except RuntimeError as error:
            # FAISS's message names its own C++ source ("Error in std::unique_ptr<faiss::Index>
            # faiss::read_index_up(...) at index_read.cpp:3251: ..."), which tells a user nothing:
            # it is kept for -v and for the exception chain, and the user is told which file.
            logger.info("FAISS could not read %s: %s", path, error)
            raise IndexCorruptError(path.parent, f"{path.name} cannot be read as FAISS vectors") from error

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def exact(self) -> bool:
        """Whether a search scores every vector (flat) rather than the nearest lists (IVF)."""
        return not self._is_ivf()

    @property
    def layout(self) -> str:
        """The layout in words: "exact (flat)" or "IVF1024,SQ8, nprobe 32"."""
        if not self._is_ivf():
            return "exact (flat)"
        return f"IVF{self._index.nlist},SQ8, nprobe {self._index.nprobe}"

    @property
    def probes(self) -> int | None:
        """How many lists an IVF search scans (None when exact); saved with the index."""
        return int(self._index.nprobe) if self._is_ivf() else None

    @probes.setter
    def probes(self, value: int) -> None:
        """Trade recall for speed on an IVF index (the benchmarks sweep it); ValueError when exact."""
        if not self._is_ivf():
            raise ValueError("an exact index scans every vector: it has no lists to probe")
        self._index.nprobe = max(1, min(int(value), int(self._index.nlist)))

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        self._index.add_with_ids(matrix, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        """The ids of the (at most) ``k`` vectors with the highest inner product with
        ``query``, best first, and those products (approximate once the index is IVF)."""
        k = min(k, self.count)
        if k <= 0:
            return [], []
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i >= 0]
        return [i for i, _ in found], [s for _, s in found]

    def save(self, path: Path) -> None:
        """Fit the layout to the count (see the module's docstring), then write the index.
        OSError when the file cannot be written (FAISS says so with a RuntimeError)."""
        import faiss

        self._fit_layout()
        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as error:
            logger.info("FAISS could not write %s: %s", path, error)
            code = errno.ENOSPC if "No space left" in str(error) else errno.EIO
            raise OSError(code, os.strerror(code), str(path)) from error

    # ------------------------------------------------------------------------------------
    # Layout changes

    def _is_ivf(self) -> bool:
        import faiss

        return isinstance(self._index, faiss.IndexIVF)

    def _fit_layout(self) -> None:
        count = self.count
        if not self._is_ivf():
            if count >= self._exact_below:
                self._index = build_ivf(self.dimension, *flat_contents(self._index))
        elif count < self._exact_below // 2:
            logger.info("%s vectors: back to an exact index", f"{count:,}")
            self._index = build_flat(self.dimension, *ivf_contents(self._index))
        elif ivf_plan(count).lists >= 2 * self._index.nlist:
            self._index = build_ivf(self.dimension, *ivf_contents(self._index))


def flat_contents(index) -> tuple[np.ndarray, np.ndarray]:
    """The ids and vectors of an ``IndexIDMap2(IndexFlat)``, as they were added."""
    import faiss

    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    flat = faiss.downcast_index(index.index)
    vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    return ids, vectors


def ivf_lists(index) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each non-empty inverted list's ids and decoded vectors (the quantiser's approximation)."""
    from faiss.contrib.inspect_tools import get_invlist

    for number in range(index.nlist):
        ids, codes = get_invlist(index.invlists, number)
        if len(ids) == 0:
            continue
        vectors = index.sq.decode(codes)
        if index.by_residual:
            vectors += index.quantizer.reconstruct(number)
        yield ids.astype(np.int64), vectors


def ivf_contents(index) -> tuple[np.ndarray, np.ndarray]:
    """Every id and decoded vector, filled into arrays of the final size: at 10^6 the vectors
    alone are 4 GB, so a list of parts and their concatenation would be twice that."""
    ids = np.empty(index.ntotal, dtype=np.int64)
    vectors = np.empty((index.ntotal, index.d), dtype=np.float32)
    filled = 0
    for list_ids, list_vectors in ivf_lists(index):
        ids[filled : filled + len(list_ids)] = list_ids
        vectors[filled : filled + len(list_ids)] = list_vectors
        filled += len(list_ids)
    return ids[:filled], vectors[:filled]


def build_flat(dimension: int, ids: np.ndarray, vectors: np.ndarray):
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def build_ivf(dimension: int, ids: np.ndarray, vectors: np.ndarray):
    """An IVF,SQ8 index of these vectors, trained on a fixed-seed sample of them."""
    import faiss

    plan = ivf_plan(len(ids))
    logger.info(
        "%s vectors: training an approximate index (IVF%d,SQ8) on %s of them",
        f"{len(ids):,}",
        plan.lists,
        f"{plan.sample:,}",
    )
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, plan.lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.own_fields = True
    quantizer.this.disown()
    index.cp.niter = TRAINING_ITERATIONS
    index.cp.seed = SEED
    index.cp.spherical = True  # centroids on the unit sphere, like the vectors they stand for
    sample = np.random.default_rng(SEED).choice(len(ids), size=plan.sample, replace=False)
    sample.sort()  # reading a memory-mapped matrix in order
    with all_cores():
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        for start in range(0, len(ids), ADD_BATCH):
            rows = np.ascontiguousarray(vectors[start : start + ADD_BATCH], dtype=np.float32)
            index.add_with_ids(rows, ids[start : start + ADD_BATCH])
            logger.info("added %s of %s vectors to the lists", f"{start + len(rows):,}", f"{len(ids):,}")
    index.nprobe = plan.probes
    return index


@contextlib.contextmanager
def all_cores() -> Iterator[None]:
    """Training and adding use every core; searching goes back to the one thread ``load`` sets."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)
