"""Approximate dense search: recall@10 against exact search, latency, build time and size of
the vector index as it grows, for the layouts ``rag.store.vectors.FaissVectors`` can take.

    python benchmarks/ann.py                              # 10^4, 10^5, 10^6 vectors
    python benchmarks/ann.py --sizes 10000,100000 --probes 64,128,256,512
    python benchmarks/ann.py --sizes 1000000 --no-flat    # skip the 4 GB exact index

For each size it prints an exact row and an IVF row (forced, whatever the size, so the trade
can be seen below the threshold too), with the nprobe ``FaissVectors`` picks or each of
``--probes``. "build s" is adding every vector and saving, which for IVF is training on a
sample and filling the lists; it uses both cores and runs while the machine may be shared.

Vectors are real: the offline HashingEmbedder (1024-d) over ``scale.py``'s synthetic SciFact
documents (four random abstract sentences each, one chunk per document), embedded once and
cached as ``.npy`` files under ``--cache`` (4 GB at 10^6: never in the repository). Queries are
``scale.py``'s 100 SciFact claims. The truth for recall is an exact inner-product search over
the same vectors (``IndexFlatIP``), and recall@10 is the share of the exact top 10 found in the
approximate top 10, averaged over the queries.

Each query is searched alone with one FAISS thread, as the served index does; building (training
and adding) uses every core, as ``FaissVectors.save`` does. MB is the size of the saved file,
which is what a served index holds in memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import machine, median, p95
from scale import documents, queries

from rag.models.embedding import HashingEmbedder
from rag.store.vectors import FaissVectors

SIZES = [10_000, 100_000, 1_000_000]
BATCH = 10_000
K = 10


def cached_vectors(count: int, cache: Path) -> np.ndarray:
    """The first ``count`` documents' vectors, embedded once and read back memory-mapped.
    ``documents(n)`` is a prefix of ``documents(m)`` for n < m, so a larger cache serves."""
    for larger in sorted(cache.glob("hashing-1024-*[0-9].npy"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        if int(larger.stem.rsplit("-", 1)[1]) >= count:
            return np.load(larger, mmap_mode="r")[:count]
    path = cache / f"hashing-1024-{count}.npy"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        embedder = HashingEmbedder()
        partial = path.with_suffix(".partial.npy")
        matrix = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(count, embedder.dim))
        batch: list[str] = []
        done = 0
        start = time.perf_counter()
        for document in documents(count):
            batch.append(document.text)
            if len(batch) == BATCH or done + len(batch) == count:
                matrix[done : done + len(batch)] = embedder.embed_documents(batch)
                done += len(batch)
                batch = []
                print(f"  embedded {done:,} of {count:,} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        matrix.flush()
        del matrix
        partial.rename(path)
    return np.load(path, mmap_mode="r")


def query_vectors() -> np.ndarray:
    embedder = HashingEmbedder()
    return np.stack([embedder.embed_query(text) for text in queries()])


def exact_top(vectors: np.ndarray, query_matrix: np.ndarray, k: int = K) -> list[set[int]]:
    """Each query's true top ``k`` row numbers, by exact inner product, a slice at a time
    (the whole matrix need not fit in memory twice)."""
    best_scores = np.zeros((len(query_matrix), 0), dtype=np.float32)
    best_rows = np.zeros((len(query_matrix), 0), dtype=np.int64)
    for start in range(0, len(vectors), BATCH * 10):
        scores = query_matrix @ np.asarray(vectors[start : start + BATCH * 10]).T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores, best_rows = np.take_along_axis(best_scores, keep, 1), np.take_along_axis(best_rows, keep, 1)
    return [set(map(int, row)) for row in best_rows]


@dataclass
class Row:
    size: int
    layout: str
    build_s: float
    median_ms: float
    p95_ms: float
    recall: float
    mb: float

    def line(self) -> str:
        return (
            f"| {self.size:,} | {self.layout} | {self.build_s:.1f} | {self.median_ms:.2f} | {self.p95_ms:.2f} "
            f"| {self.recall:.3f} | {self.mb:,.0f} |"
        )


def built(vectors: np.ndarray, exact_below: int, folder: Path) -> tuple[FaissVectors, float, float]:
    """The index ``FaissVectors`` saves for these vectors (row numbers as ids), loaded back as a
    served index is; with the seconds adding and saving took and the file's size in MB."""
    index = FaissVectors.empty(vectors.shape[1], exact_below=exact_below)
    start = time.perf_counter()
    for first in range(0, len(vectors), BATCH * 10):
        rows = np.asarray(vectors[first : first + BATCH * 10])
        index.add(range(first, first + len(rows)), rows)
    path = folder / "vectors.faiss"
    index.save(path)
    seconds = time.perf_counter() - start
    del index
    return FaissVectors.load(path, exact_below=exact_below), seconds, path.stat().st_size / 2**20


def searched(index: FaissVectors, query_matrix: np.ndarray, truth: list[set[int]]) -> tuple[list[float], float]:
    """Each query's latency (ms), searched alone; and recall@10 against ``truth``."""
    latencies, recalls = [], []
    for query, true in zip(query_matrix, truth, strict=True):
        start = time.perf_counter()
        ids, _ = index.search(query, K)
        latencies.append((time.perf_counter() - start) * 1000)
        recalls.append(len(true & set(ids)) / K)
    return latencies, float(np.mean(recalls))


def measure(size: int, vectors: np.ndarray, query_matrix: np.ndarray, probes: list[int], flat: bool) -> list[Row]:
    truth = exact_top(vectors, query_matrix)
    rows = []
    layouts = ([size + 1] if flat else []) + [2]  # exact, then IVF whatever the default threshold
    for exact_below in layouts:
        with tempfile.TemporaryDirectory(prefix="rag-ann-") as folder:
            index, seconds, mb = built(vectors, exact_below, Path(folder))
            for probe in probes if not index.exact and probes else [None]:
                if probe is not None:
                    index.probes = probe
                latencies, recall = searched(index, query_matrix, truth)
                rows.append(Row(size, index.layout, seconds, median(latencies), p95(latencies), recall, mb))
                print(rows[-1].line(), flush=True)
            del index
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--probes", default="", help="nprobe values to sweep (default: what the index picks)")
    parser.add_argument("--no-flat", action="store_true", help="skip the exact rows (4 GB at 10^6)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-ann-cache")
    parser.add_argument("--embed-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    everything = cached_vectors(max(sizes), args.cache)
    if args.embed_only:
        return
    probes = [int(p) for p in args.probes.split(",") if p]
    query_matrix = query_vectors()
    print(f"{machine()}; {len(query_matrix)} queries, top {K}, one FAISS thread a query\n")
    print("| vectors | layout | build s | median ms | p95 ms | recall@10 | MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        measure(size, everything[:size], query_matrix, probes, not args.no_flat)


if __name__ == "__main__":
    main()
