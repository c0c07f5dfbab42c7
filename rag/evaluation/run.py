"""Measuring a chatbot against a file of test prompts: ``rag eval`` and ``rag.evaluate``.

A prompts file is JSON lines, one prompt per line::

    {"question": "...", "expected_sources": ["a.txt"], "expected_answer": ["x", "y"], "answerable": true}

Unknown keys are ignored; blank lines and lines starting with ``#`` are skipped. A line that
is not a JSON object with a non-empty ``question`` raises ``PromptsFileError`` naming the line.

Each prompt is asked once; its answer is judged sentence by sentence with a ``SupportJudge``
(the lexical judge unless one is given), and scored with the formulas in ``rag.evaluation.metrics``. The
summary's metric names, each in [0, 1] and None where no prompt measures it:

* ``retrieval_hit_rate``: answerable prompts with an expected source among the hits.
* ``answer_accuracy``: answerable prompts, not abstained, with an expected answer string in
  the text (case- and punctuation-insensitive, whole words).
* ``citation_recall``, ``citation_precision``: ALCE, averaged over answers that were given.
* ``faithfulness``: answer sentences supported by the passages they cite, over all sentences.
* ``abstention_accuracy``: unanswerable prompts that abstained.
* ``false_abstention_rate``: answerable prompts that abstained.
* ``latency_median_ms``, ``latency_p95_ms``: wall time of ``bot.ask`` (``metrics.percentile``).

The records (``Prompt``, ``PromptResult``, ``EvalResult``) are in ``rag.evaluation.results``,
which the report reads too; this module imports the report only when asked to write one.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.answer.citations import LexicalJudge, SupportJudge, passages_of, split_cited_sentences
from rag.errors import PromptsFileError, ReportError
from rag.evaluation.metrics import (
    citation_precision,
    citation_recall,
    contains_answer,
    faithfulness,
    judge_sentences,
    mean,
    percentile,
    retrieval_rank,
)
from rag.evaluation.results import METRICS, EvalResult, Prompt, PromptResult, check_writable
from rag.records import Answer
from rag.validation import checked_path, checked_prompts, is_name_too_long, shown_path

logger = logging.getLogger(__name__)

JUDGE_MODEL_ENV = "RAG_JUDGE_MODEL"


# A prompts file is a few hundred lines; a bigger one is surely not one (a disk image, /dev/zero).
MAX_PROMPTS_BYTES = 64 << 20


def load_prompts(path: str | Path) -> list[Prompt]:
    """Read a JSON-lines prompts file; a malformed line is a ``PromptsFileError`` naming it.

    Lines end at "\n" alone (a "\r" before it is dropped): JSON strings may hold U+2028 and
    the other characters ``str.splitlines`` would also split at."""
    path = checked_path(path, "prompts file", "load_prompts('prompts.jsonl')", PromptsFileError)
    prompts = []
    misspelt: dict[str, str] = {}  # key as written -> the key it was surely meant to be
    for number, line in enumerate(_prompts_text(path).split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        data = _json_line(path, number, line)
        try:
            prompts.append(Prompt.from_dict(data, number))
        except PromptsFileError as error:
            raise PromptsFileError(f"{shown_path(path)}, {error}") from None
        misspelt.update(_near_misses(data))
    if not prompts:
        raise PromptsFileError(f"{shown_path(path)} holds no prompts: write one JSON object per line.")
    if misspelt:
        logger.warning(
            "%s: ignoring %s; did you mean %s?",
            shown_path(path),
            ", ".join(f'"{key}"' for key in misspelt),
            ", ".join(f'"{meant}"' for meant in dict.fromkeys(misspelt.values())),
        )
    return prompts


def _prompts_text(path: Path) -> str:
    """The text of the prompts file: a regular file, read up to ``MAX_PROMPTS_BYTES`` (a FIFO
    or a device is refused at once rather than read without end)."""
    from rag.files import read_bounded

    shown = shown_path(path)
    try:
        is_folder = path.is_dir()
    except OSError as error:  # checked_path measured it; a link may still lead somewhere too long
        if not is_name_too_long(error):
            raise
        raise PromptsFileError(f"{shown}: {error.strerror}. Give a shorter path of a .jsonl file.") from None
    if is_folder:
        raise PromptsFileError(f"{shown} is a folder. Give the path of a .jsonl file of test prompts.")
    try:
        raw = read_bounded(path, MAX_PROMPTS_BYTES)
        if raw is None:
            raise PromptsFileError(
                f"{shown} is larger than {MAX_PROMPTS_BYTES >> 20} MiB, too large for a prompts file. "
                "Give the path of a .jsonl file of test prompts."
            )
        return raw.decode("utf-8-sig")  # a BOM is what Windows Notepad writes
    except FileNotFoundError:
        raise PromptsFileError(f"No prompts file at {shown}. Give the path of a .jsonl file of test prompts.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise PromptsFileError(
            f"Cannot read the prompts file {shown}: {reason}. Give the path of a .jsonl file of test prompts."
        ) from None


def _json_line(path: Path, number: int, line: str) -> Any:
    """One line's JSON, or a ``PromptsFileError`` naming the line: invalid JSON, and valid JSON
    that Python will not read (nesting past its recursion limit, a number past its digit limit)."""
    where = f"{shown_path(path)}, line {number}"
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise PromptsFileError(f"{where}: not valid JSON ({error.msg}).") from None
    except RecursionError:
        raise PromptsFileError(f"{where}: the JSON is nested too deeply to read; write one flat object.") from None
    except ValueError as error:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise PromptsFileError(
            f"{where}: a number in it is too long to read ({error.args[0].split(':')[0]})."
        ) from None


PROMPT_KEYS = ("question", "expected_sources", "expected_answer", "answerable")


def _near_misses(data: Mapping[str, Any]) -> dict[str, str]:
    """Unknown keys that are surely a known one misspelt ("expected_answers"). Other unknown
    keys are a file's own notes and are ignored without a word."""
    import difflib

    out = {}
    for key in data:
        if key not in PROMPT_KEYS:
            close = difflib.get_close_matches(str(key), PROMPT_KEYS, n=1, cutoff=0.8)
            if close:
                out[str(key)] = close[0]
    return out


# ----------------------------------------------------------------------------------------
# Scoring


def score_answer(prompt: Prompt, answer: Answer, latency_ms: float, judge: SupportJudge) -> PromptResult:
    """Judge one answer against its prompt (the per-prompt metrics; None where not measured)."""
    hit_sources = [hit.source for hit in answer.hits]
    rank = retrieval_rank(hit_sources, prompt.expected_sources) if prompt.expected_sources else None
    verdicts = (
        []
        if answer.abstained
        else judge_sentences(split_cited_sentences(answer.text), passages_of(answer.citations), judge)
    )
    answerable = prompt.answerable
    metrics: dict[str, float | None] = {
        "retrieval_hit_rate": float(rank is not None) if answerable and prompt.expected_sources else None,
        "answer_accuracy": (
            float(not answer.abstained and contains_answer(answer.text, prompt.expected_answer))
            if answerable and prompt.expected_answer
            else None
        ),
        "citation_recall": citation_recall(verdicts),
        "citation_precision": citation_precision(verdicts),
        "faithfulness": faithfulness(verdicts),
        "abstention_accuracy": None if answerable else float(answer.abstained),
        "false_abstention_rate": float(answer.abstained) if answerable else None,
    }
    return PromptResult(
        prompt=prompt,
        answer_text=answer.text,
        abstained=answer.abstained,
        citations=list(answer.citations),
        verdicts=verdicts,
        hit_sources=hit_sources,
        retrieval_rank=rank,
        latency_ms=latency_ms,
        metrics=metrics,
        closest=answer.closest,
    )


def summarize(results: Sequence[PromptResult]) -> dict[str, float | int | None]:
    """Overall figures: per-prompt metrics averaged, faithfulness pooled over all sentences."""
    summary: dict[str, float | int | None] = {name: mean(r.metrics[name] for r in results) for name in METRICS}
    sentences = [v for r in results for v in r.verdicts]
    summary["faithfulness"] = sum(v.supported for v in sentences) / len(sentences) if sentences else None
    latencies = [r.latency_ms for r in results]
    summary["latency_median_ms"] = percentile(latencies, 50)
    summary["latency_p95_ms"] = percentile(latencies, 95)
    summary["prompts"] = len(results)
    summary["answerable"] = sum(r.prompt.answerable for r in results)
    summary["unanswerable"] = len(results) - summary["answerable"]
    summary["answered"] = sum(not r.abstained for r in results)
    summary["sentences"] = len(sentences)
    return summary


def evaluate(
    bot,
    prompts: str | Path | Iterable[Prompt | Mapping[str, Any]],
    *,
    judge: SupportJudge | None = None,
    progress: bool | None = None,
) -> EvalResult:
    """Ask ``bot`` every prompt and score the answers.

    ``prompts`` is a JSON-lines file or an iterable of ``Prompt`` (or dicts in the same
    format). ``judge`` decides whether a cited passage supports a sentence (default: the
    bot's own judge, if it has one, else the lexical judge). ``progress`` shows a progress bar
    (default: when stderr is a terminal).
    """
    items = _as_prompts(prompts)
    judge = judge or getattr(bot, "judge", None) or LexicalJudge()
    show = sys.stderr.isatty() if progress is None else progress
    results = []
    for prompt in _progress(items, show):
        started = time.perf_counter()
        answer = bot.ask(prompt.question)
        elapsed = (time.perf_counter() - started) * 1000
        results.append(score_answer(prompt, answer, elapsed, judge))
    return EvalResult(
        results=results,
        summary=summarize(results),
        judge=judge_name(judge),
        top_k=getattr(bot, "top_k", None),
        settings=_settings_of(bot),
        titles=_titles_of(bot, results),
    )


def _titles_of(bot, results: Sequence[PromptResult]) -> dict[str, str]:
    """The titles of the files the answers cite (or came nearest in), from ``bot.title`` when the
    bot has it: the report shows them beside the file names."""
    title = getattr(bot, "title", None)
    if title is None:
        return {}
    sources = {c.source for r in results for c in [*r.citations, *([r.closest] if r.closest else [])]}
    return {source: named for source in sorted(sources) if (named := title(source))}


def _as_prompts(prompts) -> list[Prompt]:
    prompts = checked_prompts(prompts)
    if isinstance(prompts, Path):
        return load_prompts(prompts)
    items = [p if isinstance(p, Prompt) else Prompt.from_dict(p, n) for n, p in enumerate(prompts, 1)]
    if not items:
        raise PromptsFileError("There are no prompts to evaluate.")
    return items


def _progress(items: list[Prompt], show: bool):
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="Evaluating", unit="prompt", file=sys.stderr)


def judge_name(judge: SupportJudge) -> str:
    return getattr(judge, "name", None) or type(judge).__name__


def _settings_of(bot) -> dict[str, Any]:
    settings = getattr(bot, "settings", None)
    out: dict[str, Any] = {}
    if settings is not None:
        out.update({name: getattr(settings, name) for name in ("embedding_model", "reranker_model", "llm_model")})
    embedder = getattr(bot, "embedder", None)
    if embedder is not None:
        out["embedder"] = getattr(embedder, "id", None)
    retriever = getattr(bot, "retriever", None)
    if retriever is not None:
        out["dense_weight"] = retriever.dense_weight
    return out


# ----------------------------------------------------------------------------------------
# The command line's side


def summary_table(summary: Mapping[str, float | int | None]) -> str:
    """The summary as an aligned plain-text table."""
    rows = [(name, _fmt(summary.get(name))) for name in METRICS]
    rows += [
        ("latency median", _fmt_ms(summary.get("latency_median_ms"))),
        ("latency p95", _fmt_ms(summary.get("latency_p95_ms"))),
    ]
    counts = (
        f"{summary.get('prompts', 0)} prompt{'' if summary.get('prompts') == 1 else 's'} "
        f"({summary.get('answerable', 0)} answerable, "
        f"{summary.get('unanswerable', 0)} unanswerable), {summary.get('answered', 0)} answered"
    )
    width = max(len(name) for name, _ in rows)
    lines = [counts, "-" * (width + 10)]
    lines += [f"{name:<{width}}  {value:>7}" for name, value in rows]
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _fmt_ms(value) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def load_judge(model: str | None) -> SupportJudge:
    """The NLI judge for ``model`` (a folder or Hugging Face id), or the lexical judge for None."""
    if not model:
        return LexicalJudge()
    from rag.evaluation.nli import CrossEncoderJudge

    return CrossEncoderJudge(model)


def run_eval_command(
    bot,
    prompts_path: str | Path,
    *,
    json_out: str | Path | None = None,
    report: str | Path | None = None,
    judge: SupportJudge | None = None,
    echo=print,
) -> EvalResult:
    """What ``rag eval`` does: evaluate with a progress bar, print the summary, write files.

    The judge is the NLI cross-encoder named by ``$RAG_JUDGE_MODEL`` when that is set, else
    the bot's judge, else the lexical judge.
    """
    prompts = load_prompts(prompts_path)
    if report is not None:
        from rag.evaluation.report import check_report_path

        check_report_path(report)
    if json_out is not None:
        check_writable(Path(json_out))
    if judge is None and os.environ.get(JUDGE_MODEL_ENV):
        judge = load_judge(os.environ[JUDGE_MODEL_ENV])
    result = evaluate(bot, prompts, judge=judge, progress=True)
    echo(f"Judge: {result.judge}")
    echo(summary_table(result.summary))
    if json_out is not None:
        _write_json(Path(json_out), result.to_dict())
        echo(f"Wrote {json_out}")
    if report is not None:
        from rag.evaluation.report import write_report

        written = write_report(result, report)
        echo(f"Wrote {written}")
    return result


def _write_json(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise ReportError(f"Cannot write the results to {path}: {error.strerror or error}.") from None
