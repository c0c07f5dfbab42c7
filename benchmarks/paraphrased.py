"""Paraphrased questions over ClapNQ's passages: the seeds' kind of question on documents the
composer was never developed on.

    python benchmarks/paraphrased.py                 # prints figures, writes docs/EVALUATION.md
    python benchmarks/paraphrased.py --no-write --report /tmp/paraphrased.html

ClapNQ's own questions are short search queries ("who sang fooled around and fell in love").
People testing this product ask otherwise: whole sentences that reword the article ("Who was
the top American diplomat ...?"), with context clauses, and on-topic questions the article
does not answer. ``data/clapnq_paraphrased.jsonl`` holds 480 such questions written for this
benchmark over 160 of ClapNQ's passages (drawn at random): for each passage, two answerable
questions in other words than the passage's, with the answer copied verbatim from it, and one
question about the same subject that no passage of the corpus answers (checked by searching
the corpus for the subject). Each line is a ``rag eval`` prompt plus ``passage``, the file the
question was written from.

The questions are a test only: the abstention model is never fitted on them. They are asked of
the whole ClapNQ corpus (all 596 passages), as ``benchmarks/clapnq.py`` indexes it, once with
the shipped composer and once with abstention turned off, which measures how often the chosen
sentences hold the answer whatever the decision to answer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clapnq import EVALUATION, build_bot, load
from common import ROOT, write_section

from rag import Chatbot, evaluate
from rag.compose import AbstentionModel, ComposerSettings, candidates_from_hits, score_sentences
from rag.evaluation import EvalResult, Prompt, load_prompts
from rag.metrics import balanced_accuracy, mean

PROMPTS = ROOT / "benchmarks" / "data" / "clapnq_paraphrased.jsonl"

LABELS = {
    "retrieval_hit_rate": "source passage in the top 5 (answerable)",
    "answer_accuracy": "answer accuracy (answerable: answered, and the answer holds the fact)",
    "answer_accuracy_never_abstaining": "answer accuracy with abstention turned off",
    "false_abstention_rate": "false abstention (answerable refused)",
    "abstention_accuracy": "abstained when unanswerable",
    "balanced_accuracy": "balanced accuracy of answer/abstain",
    "faithfulness": "faithfulness (lexical judge)",
    "citation_precision": "citation precision (ALCE, lexical judge)",
    "citation_recall": "citation recall (ALCE, lexical judge)",
}


def figures(shipped: EvalResult, never_abstaining: EvalResult) -> dict[str, float]:
    rows = shipped.results
    out = {key: shipped.summary[key] for key in LABELS if key in shipped.summary}
    out["answer_accuracy_never_abstaining"] = never_abstaining.summary["answer_accuracy"]
    out["balanced_accuracy"] = balanced_accuracy([not r.abstained for r in rows], [r.prompt.answerable for r in rows])
    return out


def decision_curve(bot: Chatbot, prompts: list[Prompt]) -> str:
    """Answered (answerable) and abstained (unanswerable) as the model's threshold moves."""
    settings = bot.composer_settings
    decided = []
    for prompt in prompts:
        hits = bot.retrieve(prompt.question, k=bot.top_k)
        scored = score_sentences(
            prompt.question, candidates_from_hits(hits, settings.evidence_hits), bot.index, settings
        )
        p = 0.0 if not scored or scored[0].names_absent else settings.abstention.probability(scored[0].evidence)
        decided.append((p, prompt.answerable))
    shipped = settings.abstention.threshold
    lines = ["| threshold | answered (answerable) | abstained (unanswerable) |", "|---|---|---|"]
    for t in sorted({*(round(0.1 * i, 2) for i in range(1, 10)), shipped}):
        answered = mean(p >= t for p, answerable in decided if answerable)
        abstained = mean(p < t for p, answerable in decided if not answerable)
        lines.append(f"| {t:.2f}{' (shipped)' if t == shipped else ''} | {answered:.3f} | {abstained:.3f} |")
    return "\n".join(lines)


def markdown(table: dict[str, float], answerable: int, unanswerable: int, curve: str) -> str:
    lines = [
        f"Paraphrased questions over ClapNQ's passages ({answerable} answerable, {unanswerable} "
        "on-topic unanswerable; never used for fitting), offline default "
        "(`python benchmarks/paraphrased.py`):",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {table[key]:.3f} |" for key, label in LABELS.items()]
    lines += ["", "The answer/abstain decision as the abstention model's threshold moves:", "", curve]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="folder holding the two ClapNQ dev files")
    parser.add_argument("--index-dir", type=Path, default=None, help="where to build the index (default: temporary)")
    parser.add_argument("--report", type=Path, default=None, help="write an .html or .md report here")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/EVALUATION.md")
    args = parser.parse_args(argv)

    documents, _ = load(args.data)
    prompts = load_prompts(PROMPTS)
    bot = build_bot(documents, args.index_dir)
    progress = sys.stderr.isatty()
    shipped = evaluate(bot, prompts, progress=progress)
    never = ComposerSettings(abstention=AbstentionModel(threshold=0.0))
    answering = Chatbot(bot.index, bot.embedder, composer=never, top_k=bot.top_k)
    never_abstaining = evaluate(answering, [p for p in prompts if p.answerable], progress=progress)
    table = figures(shipped, never_abstaining)
    answerable = sum(p.answerable for p in prompts)
    text = markdown(table, answerable, len(prompts) - answerable, decision_curve(bot, prompts))
    print(text)
    if args.report:
        from rag.report import write_report

        write_report(shipped, args.report)
    if not args.no_write:
        write_section("paraphrased", text, EVALUATION)


if __name__ == "__main__":
    main()
