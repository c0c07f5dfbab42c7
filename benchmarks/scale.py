"""Scale: index build time, memory, query latency and recall as the corpus grows, per store,
beside bm25s.

    python benchmarks/scale.py                           # 10^3 .. 10^6 chunks, writes docs/BENCHMARKS.md
    python benchmarks/scale.py --sizes 1000,10000 --no-write
    python benchmarks/scale.py --stores local,qdrant --sizes 1000,10000 --no-write

The corpus is synthetic but made of real text: documents of four sentences drawn at random
(fixed seed) from the SciFact abstracts (``../shared/data/scifact``), so word frequencies look
like a real scientific corpus and every document is one chunk. Queries are 100 SciFact claims.

Stores: ``local`` is the default index (a folder); ``qdrant`` is a Qdrant collection in
qdrant-client's local mode (``qdrant:PATH``), measured where this version of rag can build one
and qdrant-client is installed, and reported as not available otherwise. Local mode searches
by brute force in Python, so it runs only at the sizes up to ``--qdrant-max`` (10^4).

Each store and size is measured in fresh child processes, so peak memory (``ru_maxrss``)
belongs to one job: building the index (``Chatbot.from_documents``, embedding and writing
everything); opening it and retrieving the top 10 for each query (``Chatbot.retrieve``, the
hybrid retrieval that ``ask`` runs before composing); and recall@10 against exact search.
Dense recall compares the index's ``dense_search`` top 10 with an exact flat FAISS
inner-product search over the same embedder's vectors of the same chunks, re-chunked and
embedded in the benchmark process; hybrid recall compares ``retrieve``'s top 10 with the
same fusion (``Retriever.fuse``, the same candidate depth) over that exact dense list and
the index's lexical list. Chunks are matched by document and character span, so the
comparison does not depend on how a store numbers them; a dense result counts when its exact
score is at least the exact 10th best, so of chunks that tie (the same vector) either one
counts. An exact index scores 1.0 on both.

The peer is bm25s (k1=1.2, b=0.75, English stop words, Snowball stemmer), built and queried
in its own process on the same documents; it holds a sparse BM25 matrix in memory and writes
nothing to disk, so it is a floor for the lexical half alone, not a like-for-like system.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DATA, ROOT, machine, median, p95, require, write_section

SIZES = [1_000, 10_000, 100_000, 1_000_000]
STORES = ["local", "qdrant"]
QDRANT_MAX = 10_000  # local mode is brute force in Python: past this it measures Python, not Qdrant
SENTENCES_PER_DOCUMENT = 4
QUERIES = 100
K = 10
SEED = 0
EXACT_BATCH = 4096  # chunks embedded at a time for the exact search
TIE = 1e-6  # scores this close are a tie: float32 inner products of unit vectors


def sentences() -> list[str]:
    path = require(DATA / "scifact" / "corpus.jsonl")
    with open(path, encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    return [s.strip() for text in texts for s in text.split(". ") if len(s) > 40]


def documents(count: int):
    """``count`` synthetic documents, the same for every run and every process."""
    from rag import Document

    pool = sentences()
    rng = random.Random(SEED)
    for i in range(count):
        yield Document(f"doc-{i:07d}.txt", ". ".join(rng.choice(pool) for _ in range(SENTENCES_PER_DOCUMENT)) + ".\n")


def queries() -> list[str]:
    path = require(DATA / "scifact" / "queries.jsonl")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle][:QUERIES]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


# ----------------------------------------------------------------------------------------
# Stores: where each keeps its index, and how a Chatbot is pointed at it


def location(store: str, folder: Path) -> dict:
    """The keyword arguments that point ``Chatbot.from_documents``/``from_index`` at ``folder``.

    Qdrant's local mode is spelled ``qdrant:PATH``, as ``index_dir`` (or as ``store=`` where
    the Chatbot takes one: the two spellings its branches have used)."""
    if store == "local":
        return {"index_dir": folder}
    from rag import Chatbot

    if "store" in inspect.signature(Chatbot.from_documents).parameters:
        return {"index_dir": folder / "folder-index", "store": f"qdrant:{folder}"}
    return {"index_dir": f"qdrant:{folder}"}


def unavailable(store: str) -> str | None:
    """Why ``store`` cannot be measured with this version of rag; None when it can."""
    if store == "local":
        return None
    if store != "qdrant":
        return f"unknown store {store!r} (known: {', '.join(STORES)})"
    try:
        import qdrant_client  # noqa: F401
    except ImportError:
        return "qdrant-client is not installed (pip install -e '.[qdrant]')"
    from rag import Chatbot

    if "store" in inspect.signature(Chatbot.from_documents).parameters:
        return None
    try:
        from rag.store.location import is_store_url
    except ImportError:
        return "this version of rag has no Qdrant store (Chatbot takes no qdrant:PATH)"
    return None if is_store_url("qdrant:/x") else "this version of rag does not read qdrant:PATH as a store"


def open_bot(store: str, folder: Path):
    from rag import Chatbot

    return Chatbot.from_index(**location(store, folder))


# ----------------------------------------------------------------------------------------
# Jobs, each run in its own process


def job_build(store: str, count: int, folder: Path) -> dict:
    from rag import Chatbot

    docs = list(documents(count))
    start = time.perf_counter()
    bot = Chatbot.from_documents(docs, **location(store, folder), progress=True)
    seconds = time.perf_counter() - start
    return {"chunks": bot.index.chunk_count, "build_s": seconds, "disk_mb": folder_mb(folder), "rss_mb": peak_rss_mb()}


def job_query(store: str, folder: Path) -> dict:
    start = time.perf_counter()
    bot = open_bot(store, folder)
    bot.retrieve("warm-up question about cells", k=K)
    opened = time.perf_counter() - start
    latencies = []
    for text in queries():
        start = time.perf_counter()
        bot.retrieve(text, k=K)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"open_s": opened, "median_ms": median(latencies), "p95_ms": p95(latencies), "rss_mb": peak_rss_mb()}


def job_recall(store: str, count: int, folder: Path) -> dict:
    """Recall@10 of the index's dense search and of its hybrid retrieval against exact search
    (see the module docstring). Its own process: the exact index would count in the serving
    job's peak memory."""
    from rag.language.analysis import query_terms
    from rag.search.questions import checked_question, searchable

    bot = open_bot(store, folder)
    keys, exact = exact_dense_index(bot, count)
    retriever = bot.retriever
    depth = min(max(K, retriever.settings.candidates), bot.index.chunk_count)
    dense_found, hybrid_found = 0, 0
    for text in queries():
        question = searchable(checked_question(text))
        query = bot.embedder.embed_query(question)
        scores, rows = exact.search(query.reshape(1, -1), depth)
        exact_dense = [(int(row), float(score)) for row, score in zip(rows[0], scores[0], strict=True) if row >= 0]
        found_dense = spans_of(bot, keys, bot.index.dense_search(query, K))
        dense_found += within_exact_top(exact, query, found_dense, exact_dense[min(K, len(exact_dense)) - 1][1])
        lexical = renumbered(bot, keys, bot.index.lexical_search(query_terms(question), depth))
        exact_hybrid = {row for row, _ in retriever.fuse(exact_dense, lexical)[:K]}
        hits = bot.retrieve(text, k=K)
        hybrid_found += len({keys[span_key(hit.chunk)] for hit in hits} & exact_hybrid)
    total = K * len(queries())
    return {"dense_recall": dense_found / total, "hybrid_recall": hybrid_found / total}


def within_exact_top(exact, query, found: list[int], kth_score: float) -> int:
    """How many of ``found`` belong in the exact top K: their exact score is at least the K-th
    best. Counted by score, not by id, so chunks that tie (the same text, or the same vector)
    count whichever of them a search returns."""
    scores = [float(exact.reconstruct(row) @ query) for row in found[:K]]
    return sum(score >= kth_score - TIE for score in scores)


def exact_dense_index(bot, count: int):
    """The chunks of the benchmark's documents, chunked with the index's settings, numbered in
    corpus order (a fresh build numbers them so too, so fusion breaks ties alike), in an exact
    flat FAISS index of the index's embedder's vectors; and each chunk's number by its span."""
    import faiss
    import numpy as np

    from rag.ingest.chunking import chunk_document
    from rag.ingest.pipeline import chunker_of, token_counter_of

    manifest = bot.index.manifest
    counter, settings = token_counter_of(manifest), chunker_of(manifest)
    keys: dict[tuple[str, int, int], int] = {}
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(bot.embedder.dim))
    batch: list[str] = []

    def flush() -> None:
        if batch:
            vectors = bot.embedder.embed_documents(batch)
            first = len(keys) - len(batch)
            exact.add_with_ids(vectors, np.arange(first, first + len(batch), dtype=np.int64))
            batch.clear()

    for document in documents(count):
        for chunk in chunk_document(document, counter, settings):
            keys[(document.id, chunk.start_char, chunk.end_char)] = len(keys)
            # what the pipeline embeds: a titled document's title heads each of its chunks
            batch.append(f"{document.title}\n{chunk.text}" if document.title else chunk.text)
            if len(batch) >= EXACT_BATCH:
                flush()
    flush()
    return keys, exact


def span_key(chunk) -> tuple[str, int, int]:
    return (chunk.source, chunk.start_char, chunk.end_char)


def spans_of(bot, keys: dict, results: list[tuple[int, float]]) -> list[int]:
    """The benchmark's numbers of the chunks a store returned, in order."""
    return [row for row, _ in renumbered(bot, keys, results)]


def renumbered(bot, keys: dict, results: list[tuple[int, float]]) -> list[tuple[int, float]]:
    chunks = bot.index.chunks([chunk_id for chunk_id, _ in results])
    return [(keys[span_key(chunks[chunk_id])], score) for chunk_id, score in results if chunk_id in chunks]


def job_bm25s(count: int) -> dict:
    import bm25s
    import Stemmer

    texts = [d.text for d in documents(count)]
    stemmer = Stemmer.Stemmer("english")
    start = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - start
    latencies = []
    for text in queries():
        start = time.perf_counter()
        query = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        retriever.retrieve(query, k=K, show_progress=False)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "documents": count,
        "build_s": build,
        "median_ms": median(latencies),
        "p95_ms": p95(latencies),
        "rss_mb": peak_rss_mb(),
    }


def run_job(*args: str) -> dict:
    """Run one job in a child process and return what it printed as its last line."""
    done = subprocess.run(
        [sys.executable, __file__, "--job", *args], stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(store: str, count: int, workdir: Path) -> dict:
    """Build, serve and recall jobs for one store at one size; the index is removed after."""
    folder = workdir / f"{store}-{count}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        print(f"{store}, {count:,} documents: building ...", file=sys.stderr, flush=True)
        row = {"store": store, "build": run_job("build", store, str(count), str(folder))}
        print(f"{store}, {count:,} documents: querying ...", file=sys.stderr, flush=True)
        row["query"] = run_job("query", store, str(folder))
        print(f"{store}, {count:,} documents: recall against exact search ...", file=sys.stderr, flush=True)
        row["recall"] = run_job("recall", store, str(count), str(folder))
        return row
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------
# Report


COLUMNS = [
    "store",
    "chunks",
    "build (s)",
    "chunks/s",
    "on disk (MB)",
    "build peak RSS (MB)",
    "open (s)",
    "retrieve median / p95 (ms)",
    "serve peak RSS (MB)",
    "dense recall@10",
    "hybrid recall@10",
]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        if "unavailable" in r:
            cells = [r["store"], f"{r['documents']:,} documents", f"not available: {r['unavailable']}"]
            cells += [""] * (len(COLUMNS) - len(cells))
        elif r["store"] == "bm25s":
            cells = [
                "bm25s (peer)",
                f"{r['documents']:,} documents",
                f"{r['build_s']:.1f}",
                f"{r['documents'] / r['build_s']:,.0f}",
                "0 (in memory)",
                "",
                "",
                f"{r['median_ms']:.1f} / {r['p95_ms']:.1f}",
                f"{r['rss_mb']:,.0f}",
                "",
                "",
            ]
        else:
            b, q, recall = r["build"], r["query"], r["recall"]
            cells = [
                r["store"],
                f"{b['chunks']:,}",
                f"{b['build_s']:.1f}",
                f"{b['chunks'] / b['build_s']:,.0f}",
                f"{b['disk_mb']:,.0f}",
                f"{b['rss_mb']:,.0f}",
                f"{q['open_s']:.2f}",
                f"{q['median_ms']:.1f} / {q['p95_ms']:.1f}",
                f"{q['rss_mb']:,.0f}",
                f"{recall['dense_recall']:.3f}",
                f"{recall['hybrid_recall']:.3f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[dict], stores: list[str], qdrant_max: int = QDRANT_MAX) -> str:
    command = f"python benchmarks/scale.py --stores {','.join(stores)}"
    if "qdrant" in stores and qdrant_max != QDRANT_MAX:
        command += f" --qdrant-max {qdrant_max}"
    return "\n".join(
        [
            f"Scale, the offline default on the {' and '.join(stores)} store{'s' if len(stores) > 1 else ''} "
            f"beside bm25s ({machine()}; `{command}`). Synthetic "
            f"documents of {SENTENCES_PER_DOCUMENT} SciFact sentences each (about one chunk apiece), "
            f"{QUERIES} SciFact claims as queries, top {K}; every job in a fresh process.",
            "",
            table(rows),
            "",
            "- **build**: `Chatbot.from_documents` from documents in memory to an index ready to open "
            "(chunking, embedding, writing and committing everything); chunks/s is chunks over those "
            "seconds, and for bm25s documents over its tokenising and indexing, in memory. **on disk**: "
            "the index's folder after the build. **build peak RSS**: the building process's peak "
            "resident memory, documents included.",
            "- **open**: `Chatbot.from_index` plus one warm-up `retrieve`. **retrieve**: `Chatbot.retrieve` "
            f"(top {K}, dense and lexical candidates fused, no reranker) for each claim, one at a time. "
            "**serve peak RSS**: the peak of that process, which opens the index and runs every query.",
            f"- **dense recall@{K}**: the share of the index's dense top {K} that belongs in an exact "
            f"search's top {K} (scores at least the exact {K}th best, so tied chunks count either way), "
            "the exact search being a flat FAISS inner-product index over the same "
            "embedder's vectors of the same chunks, built in the benchmark; 1.000 for an exact "
            f"index, below it for an approximate one (IVF, HNSW). **hybrid recall@{K}**: the same for "
            f"`retrieve`'s top {K} against the fusion of that exact dense list with the index's own "
            "lexical list: what approximate dense search costs the answer's passages.",
            f"- Qdrant runs in qdrant-client's local mode, which searches by brute force in Python; it "
            f"is measured up to {qdrant_max:,} documents. bm25s keeps its sparse matrix in memory and "
            "writes nothing: a floor for the lexical half alone, not a like-for-like system.",
        ]
    )


def sizes_for(store: str, sizes: list[int], qdrant_max: int) -> list[int]:
    return [n for n in sizes if store != "qdrant" or n <= qdrant_max]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated document counts")
    parser.add_argument("--stores", default="local", help=f"comma-separated, of {', '.join(STORES)} (default: local)")
    parser.add_argument(
        "--qdrant-max", type=int, default=QDRANT_MAX, help="largest size the Qdrant store is measured at"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the indexes go (removed after)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--job", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.job:
        kind, *rest = args.job
        jobs = {
            "build": lambda: job_build(rest[0], int(rest[1]), Path(rest[2])),
            "query": lambda: job_query(rest[0], Path(rest[1])),
            "recall": lambda: job_recall(rest[0], int(rest[1]), Path(rest[2])),
            "bm25s": lambda: job_bm25s(int(rest[0])),
        }
        print(json.dumps(jobs[kind]()))
        return

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = [s for s in stores if s not in STORES]
    if unknown:
        parser.error(f"unknown store {unknown[0]!r}: choose from {', '.join(STORES)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    missing = {store: unavailable(store) for store in stores}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    rows = []
    for count in sizes:
        for store in stores:
            if count not in sizes_for(store, sizes, args.qdrant_max):
                continue
            if missing[store]:
                rows.append({"store": store, "documents": count, "unavailable": missing[store]})
            else:
                rows.append(measure(store, count, workdir))
        print(f"bm25s, {count:,} documents ...", file=sys.stderr, flush=True)
        rows.append({"store": "bm25s", **run_job("bm25s", str(count))})
        print(table(rows), flush=True)
    text = markdown(rows, stores, args.qdrant_max)
    print(text)
    if not args.no_write:
        write_section("scale", text)


if __name__ == "__main__":
    main()
