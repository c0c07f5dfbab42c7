"""Index build time and ``ask`` latency on the seeds, offline default.

    python benchmarks/seeds_latency.py     # writes the seeds section of docs/BENCHMARKS.md

Build: a cold index of seeds/ into a fresh folder, repeated; the peer is bm25s indexing the
same five files in the same run (tokenise + index, no disk), to show what share of our build
is the lexical index alone. Ask: every question of tests/prompts/seeds.jsonl, three rounds,
on an open index (the first round includes any warm-up), plus the same questions through
bm25s retrieval alone as a floor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, median, p95, write_section

from rag import Chatbot
from rag.ingest.loading import load_folder

BUILD_ROUNDS = 7
ASK_ROUNDS = 3


def build_times(seeds: Path) -> list[float]:
    times = []
    for _ in range(BUILD_ROUNDS):
        with tempfile.TemporaryDirectory() as index_dir:
            started = time.perf_counter()
            Chatbot.from_folder(seeds, index_dir=index_dir, progress=False)
            times.append(time.perf_counter() - started)
    return times


def bm25s_build_times(seeds: Path) -> list[float]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    times = []
    for _ in range(BUILD_ROUNDS):
        started = time.perf_counter()
        texts = [d.text for d in load_folder(seeds)]
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    seeds = ROOT / "seeds"
    with open(ROOT / "tests" / "prompts" / "seeds.jsonl", encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]

    builds = build_times(seeds)
    peer_builds = bm25s_build_times(seeds)
    with tempfile.TemporaryDirectory() as index_dir:
        bot = Chatbot.from_folder(seeds, index_dir=index_dir, progress=False)
        asks = []
        for _ in range(ASK_ROUNDS):
            for question in questions:
                started = time.perf_counter()
                bot.ask(question)
                asks.append(time.perf_counter() - started)
        retrieves = []
        for question in questions:
            started = time.perf_counter()
            bot.retrieve(question, k=bot.top_k)
            retrieves.append(time.perf_counter() - started)

    lines = [
        "### Seeds: build and ask latency (offline default)",
        "",
        f"`python benchmarks/seeds_latency.py` on {machine()}; {len(questions)} questions × {ASK_ROUNDS} rounds.",
        "",
        "| measure | median | p95 | targets |",
        "|---|---:|---:|---|",
        f"| index build, 5 seed files, cold (s) | {median(builds):.3f} | {p95(builds):.3f} | < 2 s |",
        f"| bm25s tokenise + index of the same files (s), peer | {median(peer_builds):.4f} | {p95(peer_builds):.4f} | |",
        f"| `ask` (ms) | {median(asks) * 1000:.1f} | {p95(asks) * 1000:.1f} | median < 50 ms |",
        f"| `retrieve` alone, k={bot.top_k} (ms) | {median(retrieves) * 1000:.1f} | {p95(retrieves) * 1000:.1f} | |",
        "",
        "A cold build includes loading FAISS and the stemmer, writing SQLite, the bm25s file and the FAISS file with",
        "fsync, and the atomic rename; the peer only tokenises and indexes in memory.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("seeds", "\n".join(lines))


if __name__ == "__main__":
    main()
