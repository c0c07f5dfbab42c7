"""The evaluation report: the summary table, plots, and one row per prompt with its answer,
citations and the judge's verdict on each sentence.

``.html`` gives one self-contained file (plots embedded as PNG data); ``.md`` writes the plots
as PNG files in a ``<name>_files/`` folder beside it. matplotlib (the ``eval`` extra) is
imported only here, with the non-interactive Agg backend, so nothing needs a display.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
from collections import Counter
from pathlib import Path

from rag.errors import ReportError
from rag.evaluation.metrics import contains_answer
from rag.evaluation.results import METRICS, EvalResult, PromptResult, check_writable
from rag.records import in_quotes, line_span, titled

SUFFIXES = (".html", ".htm", ".md")


def check_report_path(path: str | Path) -> Path:
    """The report path, or a ``ReportError`` when its suffix names no format we write, matplotlib
    is missing, or the path cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ReportError(f"Cannot write a report as {path.name}: name it .html or .md.")
    if importlib.util.find_spec("matplotlib") is None:
        raise ReportError("A report's plots need matplotlib: pip install 'rag-seeds[eval]'.")
    check_writable(path)
    return path


def write_report(result: EvalResult, path: str | Path) -> Path:
    """Write the report for ``result`` at ``path`` (.html or .md) and return the path."""
    path = check_report_path(path)
    figures = render_figures(result)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".md":
            folder = path.with_name(f"{path.stem}_files")
            folder.mkdir(exist_ok=True)
            links = {}
            for name, png in figures.items():
                (folder / f"{name}.png").write_bytes(png)
                links[name] = f"{folder.name}/{name}.png"
            path.write_text(markdown_report(result, links), encoding="utf-8")
        else:
            sources = {name: "data:image/png;base64," + base64.b64encode(png).decode() for name, png in figures.items()}
            path.write_text(html_report(result, sources), encoding="utf-8")
    except OSError as error:
        raise ReportError(f"Cannot write the report to {path}: {error.strerror or error}.") from None
    return path


# ----------------------------------------------------------------------------------------
# Plots


def render_figures(result: EvalResult) -> dict[str, bytes]:
    """PNG bytes of each plot: metric bars, latency histogram, rank of the expected source."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    figures = {}
    with plt.rc_context({"figure.dpi": 100, "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        names = [n for n in METRICS if result.summary.get(n) is not None]
        values = [result.summary[n] for n in names]
        bars = ax.barh(names[::-1], values[::-1], color="#4C72B0")
        ax.bar_label(bars, fmt="%.2f", padding=2)
        ax.set_xlim(0, 1.1)
        ax.set_title(f"Metrics ({result.judge} judge)")
        figures["metrics"] = _png(fig, plt)

        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        ax.hist([r.latency_ms for r in result.results], bins=min(30, max(5, len(result.results) // 3)), color="#55A868")
        ax.set_xlabel("latency of ask (ms)")
        ax.set_ylabel("prompts")
        ax.set_title("Latency")
        figures["latency"] = _png(fig, plt)

        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        labels, counts = _rank_counts(result)
        ax.bar(labels, counts, color="#C44E52")
        ax.set_xlabel("rank of the first expected source among the hits")
        ax.set_ylabel("answerable prompts")
        ax.set_title("Retrieval rank of the expected source")
        figures["retrieval_rank"] = _png(fig, plt)
    return figures


def _rank_counts(result: EvalResult) -> tuple[list[str], list[int]]:
    measured = [r for r in result.results if r.prompt.answerable and r.prompt.expected_sources]
    ranks = Counter(r.retrieval_rank for r in measured)
    deepest = max([k for k in ranks if k is not None] + [result.top_k or 1])
    labels = [str(k) for k in range(1, deepest + 1)] + ["missed"]
    counts = [ranks.get(k, 0) for k in range(1, deepest + 1)] + [ranks.get(None, 0)]
    return labels, counts


def _png(fig, plt) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------
# Text


def _value(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _summary_rows(result: EvalResult) -> list[tuple[str, str]]:
    s = result.summary
    rows = [(name, _value(s.get(name))) for name in METRICS]
    rows.append(("latency median (ms)", _value(s.get("latency_median_ms"))))
    rows.append(("latency p95 (ms)", _value(s.get("latency_p95_ms"))))
    rows.append(
        ("prompts (answerable / unanswerable)", f"{s.get('prompts')} ({s.get('answerable')} / {s.get('unanswerable')})")
    )
    return rows


def _verdicts(r: PromptResult) -> list[str]:
    out = []
    for v in r.verdicts:
        markers = "".join(f"[{m}]" for m in v.markers) or "(no citation)"
        mark = "supported" if v.supported else "NOT supported"
        out.append(f"{mark} ({v.score:.2f}) {markers}")
    return out


def _named(source: str, titles: dict[str, str]) -> str:
    """The file name, with the document's title beside it when it has one."""
    return titled(source, titles.get(source))


def _citation_lines(r: PromptResult, titles: dict[str, str]) -> list[str]:
    out = []
    for c in r.citations:
        out.append(f"[{c.marker}] {_named(c.source, titles)}, {line_span(c.start_line, c.end_line)}")
    return out


def _outcome(r: PromptResult) -> str:
    m = r.metrics
    if not r.prompt.answerable:
        return "abstained (right)" if r.abstained else "answered (should abstain)"
    if r.abstained:
        near = r.closest is not None and contains_answer(r.closest.quote, r.prompt.expected_answer)
        return "abstained (wrong; the nearest sentence holds the answer)" if near else "abstained (wrong)"
    if m["answer_accuracy"] is None:
        return "answered"
    return "correct" if m["answer_accuracy"] == 1.0 else "answer not found"


def _nearest(r: PromptResult, titles: dict[str, str]) -> str:
    """A refusal's nearest sentence, which was judged not to answer and is not cited."""
    if r.closest is None:
        return ""
    c = r.closest
    where = f"{_named(c.source, titles)}, {line_span(c.start_line, c.end_line)}"
    return f"Nearest sentence, not cited: {in_quotes(c.quote)} ({where})"


_NOTE = (
    "Citation recall and precision follow ALCE (Gao et al. 2023). Every verdict comes from the {judge} judge; "
    "figures from different judges are not comparable."
)


def markdown_report(result: EvalResult, images: dict[str, str]) -> str:
    def cell(text: str) -> str:
        return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")

    lines = ["# Evaluation report", "", _NOTE.format(judge=result.judge), "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _summary_rows(result)]
    lines.append("")
    for name, title in (("metrics", "Metrics"), ("latency", "Latency"), ("retrieval_rank", "Retrieval rank")):
        lines += [f"![{title}]({images[name]})", ""]
    lines += [
        "## Prompts",
        "",
        "| # | question | outcome | answer | citations | sentence verdicts | rank | ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(result.results, 1):
        lines.append(
            f"| {n} | {cell(r.prompt.question)} | {_outcome(r)} | {'<br>'.join(cell(t) for t in (r.answer_text, _nearest(r, result.titles)) if t)} | "
            f"{'<br>'.join(cell(c) for c in _citation_lines(r, result.titles))} | {'<br>'.join(cell(v) for v in _verdicts(r))} | "
            f"{_value(r.retrieval_rank)} | {r.latency_ms:.1f} |"
        )
    return "\n".join(lines) + "\n"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3}.ok{color:#1a7f37}.bad{color:#b42318}.plots img{max-width:32%;margin-right:1%}
.answer{max-width:420px}.quote{color:#555;font-size:90%}
"""


def html_report(result: EvalResult, images: dict[str, str]) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in _summary_rows(result))
    plots = "".join(f'<img alt="{e(name)}" src="{src}">' for name, src in images.items())
    body = []
    for n, r in enumerate(result.results, 1):
        outcome = _outcome(r)
        good = outcome in {"correct", "abstained (right)", "answered"}
        citations = "".join(
            f'<div>{e(line)}<div class="quote">{e(in_quotes(c.quote))}</div></div>'
            for c, line in zip(r.citations, _citation_lines(r, result.titles))
        )
        nearest = f'<div class="quote">{e(_nearest(r, result.titles))}</div>' if r.closest else ""
        verdicts = "".join(
            f'<div class="{"ok" if v.supported else "bad"}">{"✓" if v.supported else "✗"} {v.score:.2f} '
            f"{e(v.sentence)}</div>"
            for v in r.verdicts
        )
        body.append(
            f"<tr><td>{n}</td><td>{e(r.prompt.question)}</td>"
            f'<td class="{"ok" if good else "bad"}">{e(outcome)}</td>'
            f'<td class="answer">{e(r.answer_text)}{nearest}</td><td>{citations}</td><td>{verdicts}</td>'
            f"<td>{_value(r.retrieval_rank)}</td><td>{r.latency_ms:.1f}</td></tr>"
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title><style>{_STYLE}</style>"
        f"</head><body><h1>Evaluation report</h1><p>{e(_NOTE.format(judge=result.judge))}</p>"
        f"<table>{rows}</table><div class='plots'>{plots}</div><h2>Prompts</h2>"
        "<table><tr><th>#</th><th>question</th><th>outcome</th><th>answer</th><th>citations</th>"
        f"<th>sentence verdicts</th><th>rank</th><th>ms</th></tr>{''.join(body)}</table></body></html>\n"
    )
