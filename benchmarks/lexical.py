"""The lexical half alone: bm25s (format 2) beside the SQLite FTS5 search it replaced (format 1).

    python benchmarks/lexical.py parity                  # top-100 lists, seeds and SciFact
    python benchmarks/lexical.py latency --size 100000   # build once, then time 100 claims
    python benchmarks/lexical.py rebuild --size 1000000  # the lexical file alone, time and memory

``parity`` builds the seeds index and the SciFact corpus index (as ``benchmarks/scifact.py``
does) and, for each question (the seeds questions, 300 SciFact claims), compares the top-100
list of ``Index.lexical_search`` with what format 1's query (FTS5, ``ORDER BY rank``) gives
over the same chunks' terms, loaded into an FTS5 table as format 1 stored them. It counts the
lists that are identical, the same chunks in another order, and other chunks, and says where
they part.

``latency`` builds an index of ``--size`` synthetic documents (``benchmarks/scale.py``'s, one
chunk each) and times ``Index.lexical_search`` alone and ``Chatbot.retrieve`` over 100 SciFact
claims; it uses only public names, so run it once with this tree and once with an older one
on PYTHONPATH for the before and after. With this tree it also times rebuilding the lexical
file from the stored terms, which every update does.

``rebuild`` writes only the lexical file, from the analysed terms of ``--size`` synthetic
documents streamed in (no embedding, no database), and reports its time and the process's
peak memory beside what it held before: the cost of the lexical half of a commit at sizes
where building a whole index takes too long to repeat.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import DATA, ROOT, median, p95, require

DEPTH = 100
SCIFACT_QUERIES = 300


def fts5_reference(db_path: Path, folder: Path) -> sqlite3.Connection:
    """The chunks' terms in an FTS5 table, as format 1 stored them, in a file under ``folder``."""
    reference = sqlite3.connect(folder / "fts5.sqlite")
    reference.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')")
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        reference.executemany(
            "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)", db.execute("SELECT id, terms FROM chunks")
        )
    reference.commit()
    return reference


def fts5_search(db: sqlite3.Connection, terms: list[str], k: int) -> list[tuple[int, float]]:
    """Format 1's lexical search, word for word."""
    unique = list(dict.fromkeys(t for t in terms if t))
    if not unique:
        return []
    query = " OR ".join(f'"{t}"' for t in unique)
    rows = db.execute(
        "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?", (query, k)
    ).fetchall()
    return [(int(rowid), -float(score)) for rowid, score in rows]


def compare(bot, questions: list[str], label: str, work: Path) -> None:
    from rag.language.analysis import query_terms

    index = bot.index
    reference = fts5_reference(index.folder / index.manifest.files["chunks"]["name"], work)
    same = reordered = other = 0
    examples = []
    for question in questions:
        terms = query_terms(question)
        new = index.lexical_search(terms, DEPTH)
        old = fts5_search(reference, terms, DEPTH)
        if [i for i, _ in new] == [i for i, _ in old]:
            same += 1
            continue
        if {i for i, _ in new} == {i for i, _ in old}:
            reordered += 1
        else:
            other += 1
        first = next(r for r, (a, b) in enumerate(zip(new, old, strict=False)) if a[0] != b[0]) if new and old else 0
        examples.append((question, len(old), len(new), first, old[first : first + 2], new[first : first + 2]))
    print(
        f"{label}: {len(questions)} lists of up to {DEPTH}: {same} identical, {reordered} same chunks in another order, "
        f"{other} other chunks"
    )
    for question, n_old, n_new, first, old, new in examples[:10]:
        print(
            f"  {question[:70]!r}: {n_old} vs {n_new} chunks, first difference at rank {first + 1}: "
            f"FTS5 {[(i, round(s, 6)) for i, s in old]} bm25s {[(i, round(s, 6)) for i, s in new]}"
        )
    reference.close()


def jsonl(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def parity() -> None:
    import json

    from rag import Chatbot, Document

    with tempfile.TemporaryDirectory(prefix="lexical-") as work:
        work = Path(work)
        seeds = [json.loads(line)["question"] for line in jsonl(ROOT / "tests/prompts/seeds.jsonl")]
        bot = Chatbot.from_folder(ROOT / "seeds", index_dir=work / "seeds")
        compare(bot, seeds, f"seeds ({bot.index.chunk_count} chunks)", work)
        bot.close()
        folder = require(DATA / "scifact")
        corpus = [json.loads(line) for line in jsonl(folder / "corpus.jsonl")]
        claims = [json.loads(line)["text"] for line in jsonl(folder / "queries.jsonl")]
        documents = [Document(id=d["_id"], text=d["text"], title=d.get("title") or None) for d in corpus]
        bot = Chatbot.from_documents(documents, work / "scifact", progress=True)
        (work / "fts5.sqlite").unlink()
        compare(bot, claims[:SCIFACT_QUERIES], f"SciFact ({bot.index.chunk_count} chunks)", work)
        bot.close()


def latency(size: int, index_dir: Path | None) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from scale import documents, queries

    from rag import Chatbot
    from rag.language.analysis import query_terms

    with tempfile.TemporaryDirectory(prefix="lexical-") as work:
        folder = index_dir or Path(work) / "index"
        start = time.perf_counter()
        bot = Chatbot.from_documents(list(documents(size)), index_dir=folder, progress=True)
        print(f"built {bot.index.chunk_count} chunks in {time.perf_counter() - start:.1f} s")
        claims = queries()
        bot.retrieve("warm-up question about cells", k=10)
        lexical, retrieve = [], []
        for claim in claims:
            start = time.perf_counter()
            bot.index.lexical_search(query_terms(claim), DEPTH)
            lexical.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            bot.retrieve(claim, k=10)
            retrieve.append((time.perf_counter() - start) * 1000)
        print(f"Index.lexical_search median {median(lexical):.1f} ms, p95 {p95(lexical):.1f} ms")
        print(f"Chatbot.retrieve median {median(retrieve):.1f} ms, p95 {p95(retrieve):.1f} ms")
        with contextlib.suppress(ImportError):
            rebuild(bot.index.folder / bot.index.manifest.files["chunks"]["name"], Path(work))
        bot.close()


def rebuild(db_path: Path, work: Path) -> None:
    """What each update spends on the lexical file: all terms re-read and indexed again."""
    from rag.store.lexical import chunk_terms
    from rag.store.terms import write_terms_index

    with contextlib.closing(sqlite3.connect(db_path)) as db:
        start = time.perf_counter()
        count = write_terms_index(work / "rebuilt.bm25", chunk_terms(db))
        seconds = time.perf_counter() - start
        tracemalloc.start()  # a second time, traced: tracing slows allocation-heavy code
        write_terms_index(work / "rebuilt.bm25", chunk_terms(db))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    size = (work / "rebuilt.bm25").stat().st_size
    print(
        f"lexical rebuild of {count} chunks: {seconds:.1f} s, peak {peak / 2**20:.0f} MiB allocated, file {size / 2**20:.0f} MiB"
    )


def rebuild_only(size: int) -> None:
    import resource

    sys.path.insert(0, str(Path(__file__).parent))
    from scale import documents

    from rag.language.analysis import index_terms
    from rag.store.terms import write_terms_index

    def rows():
        for chunk_id, document in enumerate(documents(size), start=1):
            yield chunk_id, " ".join(index_terms(document.text))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="lexical-") as work:
        start = time.perf_counter()
        count = write_terms_index(Path(work) / "lexical.bm25", rows())
        seconds = time.perf_counter() - start
        size_mb = (Path(work) / "lexical.bm25").stat().st_size / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{count} chunks analysed and indexed in {seconds:.1f} s; peak RSS {peak:.0f} MiB "
        f"({before:.0f} MiB before); file {size_mb:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("parity", help="top-100 lists against format 1's FTS5 search")
    timing = commands.add_parser("latency", help="lexical search and retrieval at one size")
    timing.add_argument("--size", type=int, default=100_000)
    timing.add_argument("--index-dir", type=Path, default=None, help="keep the index here (default: a temporary one)")
    rebuilding = commands.add_parser("rebuild", help="the lexical file alone, from analysed synthetic documents")
    rebuilding.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.command == "parity":
        parity()
    elif args.command == "rebuild":
        rebuild_only(args.size)
    else:
        latency(args.size, args.index_dir)


if __name__ == "__main__":
    main()
