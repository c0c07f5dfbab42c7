"""Shared by the benchmark scripts: where the data is, summary statistics, and writing a
section of docs/BENCHMARKS.md between ``<!-- name:start -->`` and ``<!-- name:end -->``.

``p95`` is the library's percentile, so a benchmark's p95 and ``rag eval``'s ``latency_p95_ms``
mean the same thing. Figures written before they shared it used the nearest rank instead.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

from rag.evaluation.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("RAG_BENCH_DATA", ROOT.parent / "shared" / "data"))
REPORT = ROOT / "docs" / "BENCHMARKS.md"


def require(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"Benchmark data not found at {path}. Set RAG_BENCH_DATA to the folder holding it.")
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    """The 95th percentile as ``rag eval`` computes it (``rag.evaluation.metrics.percentile``)."""
    return percentile(values, 95)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, markdown: str, page: Path = REPORT) -> None:
    """Replace (or append) the named section of ``page`` (default: docs/BENCHMARKS.md)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = page.read_text(encoding="utf-8") if page.exists() else f"# {page.stem.title()}\n"
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    print(f"wrote the {name} section of {page.relative_to(ROOT)}")
