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

import sys

from calibrate_abstention import deciding_sentence
from clapnq import arguments, build_bot, load, publish
from common import ROOT

from rag import Chatbot, evaluate
from rag.answer.evidence import AbstentionModel, ComposerSettings, answer_probability
from rag.evaluation.metrics import balanced_accuracy, mean
from rag.evaluation.results import EvalResult, Prompt
from rag.evaluation.run import load_prompts

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
    model = bot.composer_settings.abstention
    decided = []
    for prompt in prompts:
        deciding = deciding_sentence(bot, prompt.question)
        p = 0.0 if deciding is None else answer_probability(deciding, model)
        decided.append((p, prompt.answerable))
    shipped = model.threshold
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
    args = arguments(__doc__).parse_args(argv)
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
    publish("paraphrased", text, shipped, args)


if __name__ == "__main__":
    main()
