"""Kill -9: `rag index` killed with SIGKILL at random points, and whether the index survives.

    python benchmarks/kill9.py                               # 10^5 chunks, 20 kills, writes docs/BENCHMARKS.md
    python benchmarks/kill9.py --chunks 10000 --kills 5 --no-write

An index of the five seeds is built first (generation 1). Then ``--chunks`` synthetic
documents join the folder (one chunk each: four sentences drawn, with a fixed seed, from the
seeds' own sentences), and each trial runs ``rag index`` on a fresh copy of that generation-1
index in a child process and kills it with SIGKILL after a random time within an
uninterrupted run's duration (measured first, on another copy). After each kill the index
must open (``Chatbot.from_index``), hold either the old generation or the whole new one, and
answer the seeds question with its answer (314 prisoners). "recoverable: N/K" counts the
trials where it did. The next ``rag index`` finishing the job is tested in tests/store.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, write_section

SEEDS = ROOT / "seeds"
QUESTION = "How many prisoners were exchanged on February 5?"
ANSWER = "314"
SENTENCES_PER_DOCUMENT = 4
SEED = 0


def seed_sentences() -> list[str]:
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(SEEDS.iterdir()))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 40 < len(s.strip()) < 300]


def add_documents(folder: Path, count: int) -> None:
    """``count`` synthetic documents of four seed sentences each, the same for every run."""
    pool = seed_sentences()
    rng = random.Random(SEED)
    bulk = folder / "bulk"
    bulk.mkdir()
    for i in range(count):
        text = " ".join(rng.choice(pool) for _ in range(SENTENCES_PER_DOCUMENT))
        (bulk / f"doc-{i:07d}.txt").write_text(f"Note {i}. {text}\n", encoding="utf-8")


def rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


def environment() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))


def index_once(folder: Path, index_dir: Path) -> float:
    """Seconds an uninterrupted `rag index` takes."""
    start = time.perf_counter()
    subprocess.run(rag("index", str(folder), "--index-dir", str(index_dir)), check=True, env=environment(),
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def killed_run(folder: Path, index_dir: Path, after: float) -> bool:
    """`rag index` killed with SIGKILL ``after`` seconds in; False when it finished first."""
    process = subprocess.Popen(rag("index", str(folder), "--index-dir", str(index_dir)), env=environment(), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        process.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def recovered(index_dir: Path, counts: set[int]) -> tuple[bool, str]:
    """Whether the index opens, holds one whole generation and answers the seeds question."""
    from rag import Chatbot, RagError

    try:
        with Chatbot.from_index(index_dir) as bot:
            chunks = bot.index.chunk_count
            text = bot.ask(QUESTION).text
    except RagError as error:
        return False, f"error: {error}"
    if chunks not in counts:
        return False, f"{chunks} chunks, neither generation's"
    if ANSWER not in text:
        return False, f"answered {text[:80]!r}"
    return True, f"{chunks} chunks"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="synthetic documents added (one chunk each)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="kill9-", dir=args.workdir))
    try:
        report = run(work, args.chunks, args.kills)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report)
    if not args.no_write:
        write_section("kill9", report)


def run(work: Path, chunks: int, kills: int) -> str:
    from rag.store.index import Index

    folder, first = work / "docs", work / "index-1"
    shutil.copytree(SEEDS, folder)
    index_once(folder, first)
    old_count = Index.open(first).chunk_count
    add_documents(folder, chunks)
    full = work / "full"
    shutil.copytree(first, full)
    full_seconds = index_once(folder, full)
    new_count = Index.open(full).chunk_count
    shutil.rmtree(full)
    print(f"{new_count:,} chunks indexed in {full_seconds:.1f} s uninterrupted; {kills} kills follow")

    rng = random.Random(SEED)
    survived = interrupted = 0
    for trial in range(1, kills + 1):
        index_dir = work / f"trial-{trial}"
        shutil.copytree(first, index_dir)
        after = rng.uniform(0.05, full_seconds)
        was_killed = killed_run(folder, index_dir, after)
        interrupted += was_killed
        ok, detail = recovered(index_dir, {old_count, new_count})
        survived += ok
        print(f"kill {trial:2d} at {after:6.1f} s: {'killed' if was_killed else 'finished first'}; "
              f"{'recovered' if ok else 'NOT recoverable'} ({detail})")  # fmt: skip
        shutil.rmtree(index_dir)
    print(f"recoverable: {survived}/{kills}")
    return (
        f"`rag index` killed with SIGKILL at random points ({machine()}; `python benchmarks/kill9.py "
        f"--chunks {chunks}`): the five seeds indexed first, then {chunks:,} one-chunk documents added and "
        "indexed in a child process, killed after a random time within an uninterrupted run's duration. "
        "Recoverable: the index opens, holds one whole generation and answers the seeds question.\n\n"
        "| chunks | uninterrupted build (s) | kills | killed mid-run | recoverable |\n|---|---|---|---|---|\n"
        f"| {new_count:,} | {full_seconds:.1f} | {kills} | {interrupted} | {survived}/{kills} |"
    )


if __name__ == "__main__":
    main()
