"""Index build throughput on PDFs, in pages per second, beside plain pypdf extraction in the same run.

    python benchmarks/pdf.py                # SciFact abstracts typeset as PDFs; writes docs/BENCHMARKS.md
    python benchmarks/pdf.py --files 20 --no-write

The PDFs are drawn with reportlab (the test helper tests/ingest/pdf_files.py): each holds
``--per-file`` SciFact abstracts (the seeds when SciFact is not there), every other one in two
columns, with a running header and a numbered footer. Three figures over the same files:
pypdf's ``page.extract_text()`` alone (the peer: what reading the text costs at the least),
rag's reading (``load_folder``: extraction with line heights for paragraph gaps, mended words,
running lines left out), and a whole index build (read, chunk, embed with the offline hashing
embedder, store).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from common import DATA, ROOT, machine, write_section

sys.path.insert(0, str(ROOT))  # the PDFs are drawn by the tests' helper

from rag import Chatbot  # noqa: E402
from rag.ingest.loading import load_folder  # noqa: E402
from tests.ingest.pdf_files import article_pdf  # noqa: E402


def articles(count: int, per_file: int) -> tuple[str, list[str]]:
    """(where they came from, ``count`` texts of ``per_file`` abstracts each)."""
    corpus = DATA / "scifact" / "corpus.jsonl"
    if corpus.exists():
        with open(corpus, encoding="utf-8") as handle:
            abstracts = [f"{d['title']}\n\n{d['text']}" for d in map(json.loads, handle)]
        source = "SciFact abstracts"
    else:
        abstracts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "seeds").glob("*.txt"))]
        source = "the seed articles"
    texts = []
    for i in range(count):
        picked = [abstracts[(i * per_file + k) % len(abstracts)] for k in range(per_file)]
        texts.append("\n\n".join(picked))
    return source, texts


def write_pdfs(texts: list[str], folder: Path) -> None:
    for i, text in enumerate(texts):
        (folder / f"{i:04d}.pdf").write_bytes(article_pdf(f"Article {i}", text, columns=2 if i % 2 else 1))


def peer_extraction(folder: Path) -> tuple[int, float]:
    """(pages, seconds) for pypdf's ``extract_text`` on every page."""
    from pypdf import PdfReader

    pages, started = 0, time.perf_counter()
    for path in sorted(folder.glob("*.pdf")):
        for page in PdfReader(io.BytesIO(path.read_bytes())).pages:
            page.extract_text()
            pages += 1
    return pages, time.perf_counter() - started


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--per-file", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    source, texts = articles(args.files, args.per_file)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "pdfs"
        folder.mkdir()
        write_pdfs(texts, folder)
        megabytes = sum(p.stat().st_size for p in folder.glob("*.pdf")) / 1e6
        pages, peer = peer_extraction(folder)
        reading = timed(lambda: load_folder(folder))
        build = timed(lambda: Chatbot.from_folder(folder, index_dir=Path(scratch) / "index", progress=True).close())
    rows = [
        ("pypdf `page.extract_text()` (peer)", peer),
        ("rag's reading (`load_folder`)", reading),
        ("rag index build (read, chunk, embed, store)", build),
    ]
    lines = [
        "## PDF indexing throughput",
        "",
        f"`python benchmarks/pdf.py --files {args.files} --per-file {args.per_file}` on {machine()}: "
        f"{args.files} PDFs ({pages} A5 pages, {megabytes:.1f} MB) of {source}, half in two columns, "
        "each page with a running header and footer.",
        "",
        "| step | seconds | pages per second |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.2f} | {pages / seconds:.0f} |" for name, seconds in rows),
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("pdf", "\n".join(lines))


if __name__ == "__main__":
    main()
