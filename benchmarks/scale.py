"""Scale: index build time, query latency and memory as the corpus grows, beside bm25s.

    python benchmarks/scale.py                           # 10^3 .. 10^6 chunks, writes docs/BENCHMARKS.md
    python benchmarks/scale.py --sizes 1000,10000 --no-write

The corpus is synthetic but made of real text: documents of four sentences drawn at random
(fixed seed) from the SciFact abstracts (``../shared/data/scifact``), so word frequencies look
like a real scientific corpus and every document is one chunk. Queries are 100 SciFact claims.

Each size is measured in fresh child processes, so peak memory (``ru_maxrss``) belongs to one
job: building the index (``Chatbot.from_documents``, embedding and writing everything),
then opening it and retrieving the top 10 for each query (``Chatbot.retrieve``, the hybrid
retrieval that ``ask`` runs before composing). The peer is bm25s (k1=1.2, b=0.75, English
stop words, Snowball stemmer), built and queried in its own process on the same documents;
it holds a sparse BM25 matrix in memory and writes nothing to disk, so it is a floor for
the lexical half alone, not a like-for-like system.
"""

from __future__ import annotations

import argparse
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
SENTENCES_PER_DOCUMENT = 4
QUERIES = 100
SEED = 0


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
# Jobs, each run in its own process


def job_build(count: int, folder: Path) -> dict:
    from rag import Chatbot

    docs = list(documents(count))
    start = time.perf_counter()
    bot = Chatbot.from_documents(docs, index_dir=folder, progress=True)
    seconds = time.perf_counter() - start
    return {"chunks": bot.index.chunk_count, "build_s": seconds, "disk_mb": folder_mb(folder), "rss_mb": peak_rss_mb()}


def job_query(folder: Path) -> dict:
    from rag import Chatbot

    start = time.perf_counter()
    bot = Chatbot.from_index(folder)
    bot.retrieve("warm-up question about cells", k=10)
    opened = time.perf_counter() - start
    latencies = []
    for text in queries():
        start = time.perf_counter()
        bot.retrieve(text, k=10)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"open_s": opened, "median_ms": median(latencies), "p95_ms": p95(latencies), "rss_mb": peak_rss_mb()}


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
        retriever.retrieve(query, k=10, show_progress=False)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"build_s": build, "median_ms": median(latencies), "p95_ms": p95(latencies), "rss_mb": peak_rss_mb()}


def run_job(*args: str) -> dict:
    """Run one job in a child process and return what it printed as its last line."""
    done = subprocess.run(
        [sys.executable, __file__, "--job", *args], stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------
# Report


def table(rows: list[dict]) -> str:
    lines = [
        "| chunks | build (s) | chunks/s | on disk (MB) | build peak RSS (MB) | open (s) "
        "| retrieve median / p95 (ms) | query peak RSS (MB) | bm25s build (s) | bm25s query median / p95 (ms) "
        "| bm25s peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, q, peer = r["build"], r["query"], r["bm25s"]
        lines.append(
            f"| {b['chunks']:,} | {b['build_s']:.1f} | {b['chunks'] / b['build_s']:,.0f} | {b['disk_mb']:,.0f} "
            f"| {b['rss_mb']:,.0f} | {q['open_s']:.2f} | {q['median_ms']:.1f} / {q['p95_ms']:.1f} | {q['rss_mb']:,.0f} "
            f"| {peer['build_s']:.1f} | {peer['median_ms']:.1f} / {peer['p95_ms']:.1f} | {peer['rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    return "\n".join(
        [
            f"Scale, offline default beside bm25s ({machine()}; `python benchmarks/scale.py`). Synthetic "
            f"documents of {SENTENCES_PER_DOCUMENT} SciFact sentences each (one chunk apiece), "
            f"{QUERIES} SciFact claims as queries, top 10; every job in a fresh process.",
            "",
            table(rows),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated document counts")
    parser.add_argument("--workdir", type=Path, default=None, help="where the indexes go (removed after)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--job", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.job:
        kind, *rest = args.job
        jobs = {
            "build": lambda: job_build(int(rest[0]), Path(rest[1])),
            "query": lambda: job_query(Path(rest[0])),
            "bm25s": lambda: job_bm25s(int(rest[0])),
        }
        print(json.dumps(jobs[kind]()))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    rows = []
    for count in (int(s) for s in args.sizes.split(",")):
        folder = workdir / f"index-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        print(f"{count:,} documents: building ...", file=sys.stderr, flush=True)
        row = {"build": run_job("build", str(count), str(folder))}
        print(f"{count:,} documents: querying ...", file=sys.stderr, flush=True)
        row["query"] = run_job("query", str(folder))
        print(f"{count:,} documents: bm25s ...", file=sys.stderr, flush=True)
        row["bm25s"] = run_job("bm25s", str(count))
        shutil.rmtree(folder, ignore_errors=True)
        rows.append(row)
        print(table(rows), flush=True)
    text = markdown(rows)
    print(text)
    if not args.no_write:
        write_section("scale", text)


if __name__ == "__main__":
    main()
