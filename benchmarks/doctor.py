"""What `rag doctor`'s index checks cost on a healthy seeds index, beside opening the index.

    python benchmarks/doctor.py     # writes the doctor section of docs/BENCHMARKS.md

In the same run, on one index of seeds/: opening it (``Index.open``: manifest, sizes, FAISS
load, chunk counts), the content checks doctor adds (``rag.store.health``: SQLite's
``PRAGMA integrity_check``, every entry of the bm25s lexical file against the chunk ids,
every document's sha256 and chunk count, the vectors' count and dimension), and the whole of ``rag doctor``
(``diagnose``: libraries, lexicon, embedder, index), each repeated. The target: doctor on a
healthy seeds index under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, median, p95, write_section

from rag import Chatbot
from rag.doctor import diagnose
from rag.store.health import check_contents, vector_problems
from rag.store.index import Index

ROUNDS = 20


def timed(action, rounds: int = ROUNDS) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def open_and_close(folder: Path) -> None:
    Index.open(folder).close()


def content_checks(folder: Path) -> None:
    with contextlib.closing(Index.open(folder)) as index:
        files = index.manifest.files
        health = check_contents(folder / files["chunks"]["name"], index.manifest)
        problems = vector_problems(folder / files["vectors"]["name"], index.manifest)
    if not health.ok or problems:
        raise SystemExit(f"the seeds index is not healthy: {health.summary()} {problems}")


def doctor_process(folder: Path) -> None:
    """`rag doctor` as a user runs it: a new process, imports and all."""
    code = "from rag.cli import main; main()"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", code, "doctor", "--index-dir", str(folder)], env=env, check=True, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Chatbot.from_folder(ROOT / "seeds", index_dir=folder, progress=False).close()
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        opens = timed(lambda: open_and_close(folder))
        checks = timed(lambda: content_checks(folder))
        diagnose(folder)  # the first call loads the lexicon and the libraries' metadata
        doctors = timed(lambda: diagnose(folder), rounds=5)
        processes = timed(lambda: doctor_process(folder), rounds=5)
    rows = [
        ("open the index (`Index.open` + close)", opens, ""),
        ("open + doctor's content checks", checks, ""),
        ("`diagnose` again in one process (offline defaults)", doctors, ""),
        ("`rag doctor` as a new process, imports included", processes, "< 1 s"),
    ]
    lines = [
        "### `rag doctor` on a healthy seeds index",
        "",
        f"`python benchmarks/doctor.py` on {machine()}; index of 5 files, {size / 1e3:.0f} kB; "
        f"{ROUNDS} rounds (doctor: 5).",
        "",
        "| measure (ms) | median | p95 | target |",
        "|---|---:|---:|---|",
        *(f"| {name} | {median(t) * 1000:.1f} | {p95(t) * 1000:.1f} | {target} |" for name, t, target in rows),
        "",
        "The content checks read every page of the chunk database (SQLite's integrity_check),",
        "every entry of the lexical file (rows in range, pointers in order, finite scores, the",
        "chunk ids SQLite holds), and hash every stored document; each update runs them too,",
        "before it writes.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("doctor", "\n".join(lines))


if __name__ == "__main__":
    main()
