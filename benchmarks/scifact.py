"""Retrieval quality and speed on BEIR SciFact, side by side with bm25s in the same run.

    python benchmarks/scifact.py            # test split (300 queries), writes docs/BENCHMARKS.md
    python benchmarks/scifact.py --split train --no-write   # the split settings were chosen on

Measures nDCG@10 and Recall@100 over documents (a document scores as its best chunk), index
build time and single-query latency, for: the offline default (hashing embedder + BM25,
fused), each of its two halves alone, and bm25s (k1=1.2, b=0.75, English stop words, Snowball
stemmer, title + text: the configuration whose figure shared/data/README.md quotes).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from common import DATA, machine, median, p95, require, write_section

from rag import Chatbot, Document
from rag.search.retrieval import RetrievalSettings, Retriever

CHUNK_DEPTH = 300  # chunks retrieved per query, enough for 100 distinct documents


def load(split: str):
    folder = require(DATA / "scifact")
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle]
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle)}
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as handle:
        for line in handle:
            query_id, doc_id, score = (line.strip().split("\t") + ["", "", ""])[:3]
            if query_id != "query-id" and score.isdigit() and int(score) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
    return corpus, queries, qrels


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal


def recall_at_100(ranked: list[str], relevant: dict[str, int]) -> float:
    return len(set(ranked[:100]) & set(relevant)) / len(relevant)


def score(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    n = len(qrels)
    return (
        sum(ndcg_at_10(run[q], rel) for q, rel in qrels.items()) / n,
        sum(recall_at_100(run[q], rel) for q, rel in qrels.items()) / n,
    )


def run_ours(bot: Chatbot, settings: RetrievalSettings, queries, qrels) -> tuple[dict, list[float]]:
    retriever = Retriever(bot.index, bot.embedder, settings)
    run, latencies = {}, []
    for query_id in qrels:
        started = time.perf_counter()
        hits = retriever.search(queries[query_id], k=CHUNK_DEPTH)
        latencies.append(time.perf_counter() - started)
        run[query_id] = list(dict.fromkeys(h.source for h in hits))
    return run, latencies


def run_bm25s(corpus, queries, qrels) -> tuple[dict, float, list[float]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = [d["_id"] for d in corpus]
    started = time.perf_counter()
    tokens = bm25s.tokenize(
        [f"{d['title']} {d['text']}" for d in corpus], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - started
    run, latencies = {}, []
    for query_id in qrels:
        started = time.perf_counter()
        query = bm25s.tokenize([queries[query_id]], stopwords="en", stemmer=stemmer, show_progress=False)
        results, _ = retriever.retrieve(query, k=100, show_progress=False, n_threads=1)
        latencies.append(time.perf_counter() - started)
        run[query_id] = [ids[i] for i in results[0]]
    return run, build, latencies


def rows_for(bot: Chatbot, build: float, queries, qrels, halves: list[tuple[str, float | None]]) -> list[tuple]:
    rows = []
    for name, weight in halves:
        run, latencies = run_ours(bot, RetrievalSettings(dense_weight=weight), queries, qrels)
        rows.append((name, *score(run, qrels), build, latencies))
    return rows


def build_bot(documents: list[Document], index_dir: Path, embedding_model: str | None) -> tuple[Chatbot, float]:
    started = time.perf_counter()
    bot = Chatbot.from_documents(documents, index_dir, progress=True, embedding_model=embedding_model)
    return bot, time.perf_counter() - started


def table(title: str, command: str, rows: list[tuple]) -> list[str]:
    lines = [
        title,
        "",
        f"`{command}` on {machine()}.",
        "",
        "| retriever | nDCG@10 | Recall@100 | index build (s) | query median (ms) | query p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ndcg, recall, built, latencies in rows:
        lines.append(
            f"| {name.strip()} | {ndcg:.4f} | {recall:.4f} | {built:.1f} | {median(latencies) * 1000:.1f} | {p95(latencies) * 1000:.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument(
        "--embedding-model",
        default=None,
        help="also measure this sentence-transformers model (id or folder), fused and alone",
    )
    parser.add_argument("--model-name", default=None, help="how the tables name that model (default: as given)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    corpus, queries, qrels = load(args.split)
    documents = [Document(id=d["_id"], text=d["text"], title=d.get("title") or None) for d in corpus]
    print(f"SciFact {args.split}: {len(corpus)} documents, {len(qrels)} queries")

    with tempfile.TemporaryDirectory() as index_dir:
        bot, build = build_bot(documents, Path(index_dir) / "default", None)
        weight = bot.retriever.dense_weight
        rows = rows_for(
            bot,
            build,
            queries,
            qrels,
            [
                ("offline default (hybrid)", None),
                ("  its BM25 half alone", 0.0),
                ("  its hashing-embedder half alone", 1.0),
            ],
        )
        chunks = bot.index.chunk_count
        if args.embedding_model:
            neural, neural_build = build_bot(documents, Path(index_dir) / "neural", args.embedding_model)
            name = args.model_name or args.embedding_model
            neural_rows = rows_for(
                neural,
                neural_build,
                queries,
                qrels,
                [(f"{name} + BM25 (hybrid)", None), (f"  {name} alone", 1.0)],
            )
            neural_weight = neural.retriever.dense_weight

    run, bm25s_build, latencies = run_bm25s(corpus, queries, qrels)
    peer = ("bm25s 0.3 (peer)", *score(run, qrels), bm25s_build, latencies)
    title = f"### BEIR SciFact, {args.split} split ({len(qrels)} queries, {len(corpus)} documents, {chunks} chunks)"
    lines = table(title, f"python benchmarks/scifact.py --split {args.split}", [*rows, peer])
    lines.insert(3, f"Fusion weight {weight} (dense) was chosen on the train split; chunking as the default.")
    lines += ["", f"nDCG@10 of the offline default relative to bm25s in this run: {rows[0][1] / peer[1]:.3f}×."]
    print("\n".join(lines))
    if not args.no_write:
        write_section(f"scifact-{args.split}", "\n".join(lines))
    if args.embedding_model:
        title = f"### BEIR SciFact, {args.split} split, with a neural embedder"
        given = "FOLDER" if Path(args.embedding_model).is_dir() else args.embedding_model
        command = f"python benchmarks/scifact.py --split {args.split} --embedding-model {given}"
        if args.model_name:
            command += f" --model-name {args.model_name}"
        lines = table(title, command, [*neural_rows, rows[0], peer])
        lines.insert(
            3,
            f"Fusion weight {neural_weight} (dense) for neural embedders was chosen on the train split; "
            "the offline default and bm25s are from the same run.",
        )
        print("\n".join(lines))
        if not args.no_write:
            write_section(f"scifact-neural-{args.split}", "\n".join(lines))


if __name__ == "__main__":
    main()
