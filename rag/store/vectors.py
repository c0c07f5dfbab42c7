"""The dense vectors of an index, keyed by chunk id: the only module that knows FAISS.

``FaissVectors`` is an exact inner-product index (``IndexIDMap2(IndexFlatIP)``): vectors are
normalised by the embedders, so inner product is cosine similarity, and exact search costs a
pass over every vector, which is cheap at the sizes this project indexes and gives up no
recall (an approximate index is the trade for larger ones). The class is deliberately one concrete engine, not a base class: its public
methods are the whole interface the rest of the store uses, so another engine (an approximate
FAISS index, a Qdrant collection) is a class with the same methods:

    empty(dimension) / load(path)   a new, empty index / the one saved at ``path``
    add(ids, vectors)               vectors (one row each) under the given chunk ids
    remove(ids)                     drop the vectors of these chunk ids
    search(query, k)                the ids and scores of the ``k`` nearest, best first
    count, dimension                how many vectors, of what dimension
    save(path)                      write it to ``path`` (the caller fsyncs and renames)

faiss is imported inside the methods that need it: it is slow to import and not needed to
read a manifest or to say why an index cannot be opened.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError

logger = logging.getLogger(__name__)


class FaissVectors:
    """Vectors keyed by chunk id, searched exactly by inner product."""

    def __init__(self, index) -> None:
        self._index = index

    @classmethod
    def empty(cls, dimension: int) -> FaissVectors:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, path: Path) -> FaissVectors:
        """The vectors saved at ``path``; IndexCorruptError when FAISS cannot read them."""
        import faiss

        # A single query gains nothing from OpenMP threads, and loses badly when the cores are
        # busy: on a loaded 2-core machine a 10k-chunk search took 102 ms with 2 threads, 14 ms
        # with one. Batch embedding is elsewhere, so one thread costs nothing here.
        faiss.omp_set_num_threads(1)
        try:
            return cls(faiss.read_index(str(path)))
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

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        self._index.add_with_ids(matrix, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        """The ids of the (at most) ``k`` vectors with the highest inner product with
        ``query``, best first, and those products."""
        k = min(k, self.count)
        if k <= 0:
            return [], []
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i >= 0]
        return [i for i, _ in found], [s for _, s in found]

    def save(self, path: Path) -> None:
        """OSError when the file cannot be written (FAISS says so with a RuntimeError)."""
        import faiss

        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as error:
            logger.info("FAISS could not write %s: %s", path, error)
            code = errno.ENOSPC if "No space left" in str(error) else errno.EIO
            raise OSError(code, os.strerror(code), str(path)) from error
