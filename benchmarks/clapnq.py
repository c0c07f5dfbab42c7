"""ClapNQ dev as a test: index all 600 passages, ask all 600 questions, measure the answers.

    python benchmarks/clapnq.py                      # prints figures, writes docs/EVALUATION.md
    python benchmarks/clapnq.py --no-write --json /tmp/clapnq.json --report /tmp/clapnq.html
    python benchmarks/clapnq.py --export /tmp/clapnq # corpus/ + prompts.jsonl, for `rag eval`

ClapNQ (Rosenthal et al. 2024, primeqa/clapnq, Apache-2.0) pairs Natural Questions with one
Wikipedia passage each: 300 whose passage answers them (with a human-written grounded answer)
and 300 whose passage is on topic but does not (the right reply is to abstain). Each distinct
passage becomes a document, its title on the first line; a prompt's expected source is its
passage. Reported: retrieval of the gold passage, token F1 and ROUGE-L of the answer against
the grounded answers (best over annotators), faithfulness and citation figures, and the
answer/abstain decision as balanced accuracy, on the held-out half (``split``) and on all.

The held-out half is fixed by a hash of the question id; ``benchmarks/calibrate_abstention.py``
fits the abstention model on the other half only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import DATA, ROOT, require, write_section

from rag import Chatbot, Document, evaluate
from rag.evaluation.metrics import balanced_accuracy, mean, rouge_l, strip_markers, token_f1
from rag.evaluation.results import EvalResult, Prompt

FILES = {
    True: "annotated_data_dev_clapnq_dev_answerable.jsonl",
    False: "annotated_data_dev_clapnq_dev_unanswerable.jsonl",
}
EVALUATION = ROOT / "docs" / "EVALUATION.md"


@dataclass(frozen=True)
class Question:
    id: str
    prompt: Prompt
    references: tuple[str, ...]  # grounded answers, one per annotator (empty: unanswerable)
    gold_sentences: tuple[str, ...]  # the passage sentences the annotators selected

    @property
    def held_out(self) -> bool:
        return split(self.id) == "test"


def split(question_id: str) -> str:
    """'train' or 'test', half each, fixed by the id (so every script agrees)."""
    return "test" if hashlib.sha256(question_id.encode()).digest()[0] % 2 else "train"


def document_id(title: str, text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "passage"
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:8]}.txt"


def load(folder: Path | None = None) -> tuple[list[Document], list[Question]]:
    """The distinct passages as documents, and every question with its expected source."""
    folder = require(folder or DATA / "clapnq_dev")
    documents: dict[str, Document] = {}
    questions = []
    for answerable, name in FILES.items():
        with open(folder / name, encoding="utf-8") as handle:
            for row in map(json.loads, handle):
                passage = row["passages"][0]
                text = f"{passage['title']}\n\n{passage['text'].strip()}\n"
                doc_id = document_id(passage["title"], text)
                documents.setdefault(doc_id, Document(doc_id, text))
                outputs = [o for o in row["output"] if o.get("answer")]
                references = tuple(o["answer"] for o in outputs)
                gold = tuple(dict.fromkeys(s for o in outputs for s in o.get("selected_sentences") or []))
                prompt = Prompt(row["input"], (doc_id,), (), answerable)
                questions.append(Question(str(row["id"]), prompt, references, gold))
    return list(documents.values()), questions


def export(folder: Path, documents: list[Document], questions: list[Question]) -> None:
    """Write corpus/ and prompts.jsonl so that `rag eval` can run on ClapNQ."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (corpus / document.id).write_text(document.text, encoding="utf-8")
    with open(folder / "prompts.jsonl", "w", encoding="utf-8") as handle:
        for q in questions:
            p = q.prompt
            record = {"question": p.question, "expected_sources": list(p.expected_sources), "expected_answer": []}
            record |= {"answerable": p.answerable, "id": q.id, "split": split(q.id)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(documents)} documents to {corpus} and {len(questions)} prompts to {folder / 'prompts.jsonl'}")


def build_bot(documents: list[Document], index_dir: Path | None) -> Chatbot:
    index_dir = index_dir or Path(tempfile.mkdtemp(prefix="clapnq-index-"))
    return Chatbot.from_documents(documents, index_dir=index_dir, progress=True)


# ----------------------------------------------------------------------------------------
# Figures


def figures(result: EvalResult, questions: list[Question]) -> dict[str, dict[str, float | int | None]]:
    """The reported figures for the held-out half and for all questions."""
    out = {}
    for name, keep in (("held-out", lambda q: q.held_out), ("all", lambda q: True)):
        rows = [(r, q) for r, q in zip(result.results, questions, strict=True) if keep(q)]
        answerable = [(r, q) for r, q in rows if q.prompt.answerable]
        answered = [(r, q) for r, q in answerable if not r.abstained]
        f1 = [max(token_f1(strip_markers(r.answer_text), ref) for ref in q.references) for r, q in answered]
        rl = [max(rouge_l(strip_markers(r.answer_text), ref) for ref in q.references) for r, q in answered]
        sentences = [v for r, _ in rows for v in r.verdicts]
        out[name] = {
            "questions": len(rows),
            "retrieval_hit_rate": mean(r.retrieval_rank is not None for r, _ in answerable),
            "retrieval_hit_rate_at_1": mean(r.retrieval_rank == 1 for r, _ in answerable),
            "token_f1_answered": mean(f1),
            "rouge_l_answered": mean(rl),
            "token_f1_all": sum(f1) / len(answerable) if answerable else None,
            "faithfulness": sum(v.supported for v in sentences) / len(sentences) if sentences else None,
            "citation_recall": mean(r.metrics["citation_recall"] for r, _ in rows),
            "citation_precision": mean(r.metrics["citation_precision"] for r, _ in rows),
            "answered_when_answerable": mean(not r.abstained for r, _ in answerable),
            "abstained_when_unanswerable": mean(r.abstained for r, q in rows if not q.prompt.answerable),
            "balanced_accuracy": balanced_accuracy(
                [not r.abstained for r, _ in rows], [q.prompt.answerable for _, q in rows]
            ),
            "latency_median_ms": result.summary["latency_median_ms"],
        }
    return out


LABELS = {
    "questions": "questions",
    "retrieval_hit_rate": "gold passage in the top 5 (answerable)",
    "retrieval_hit_rate_at_1": "gold passage first (answerable)",
    "token_f1_answered": "token F1 vs grounded answer (answered)",
    "rouge_l_answered": "ROUGE-L vs grounded answer (answered)",
    "token_f1_all": "token F1, abstentions scoring 0 (answerable)",
    "faithfulness": "faithfulness (lexical judge)",
    "citation_recall": "citation recall (ALCE, lexical judge)",
    "citation_precision": "citation precision (ALCE, lexical judge)",
    "answered_when_answerable": "answered when answerable",
    "abstained_when_unanswerable": "abstained when unanswerable",
    "balanced_accuracy": "balanced accuracy of answer/abstain",
}


def markdown(table: dict[str, dict], documents: int) -> str:
    lines = [
        f"ClapNQ dev, offline default, {documents} passages indexed, 600 questions asked "
        "(`python benchmarks/clapnq.py`):",
        "",
        "| measure | held-out half | all 600 |",
        "|---|---|---|",
    ]
    for key, label in LABELS.items():
        lines.append(f"| {label} | {_fmt(table['held-out'][key])} | {_fmt(table['all'][key])} |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The options every ClapNQ script takes: where the data is, the index, the report."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="folder holding the two ClapNQ dev files")
    parser.add_argument("--index-dir", type=Path, default=None, help="where to build the index (default: temporary)")
    parser.add_argument("--report", type=Path, default=None, help="write an .html or .md report here")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/EVALUATION.md")
    return parser


def publish(section: str, text: str, result: EvalResult, args: argparse.Namespace) -> None:
    """Print the figures, write the report if asked, and the section of docs/EVALUATION.md."""
    print(text)
    if args.report:
        from rag.evaluation.report import write_report

        write_report(result, args.report)
    if not args.no_write:
        write_section(section, text, EVALUATION)


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--export", type=Path, default=None, help="write corpus/ and prompts.jsonl here and stop")
    parser.add_argument("--json", type=Path, default=None, help="write the full evaluation as JSON here")
    args = parser.parse_args(argv)

    documents, questions = load(args.data)
    if args.export:
        export(args.export, documents, questions)
        return
    bot = build_bot(documents, args.index_dir)
    result = evaluate(bot, [q.prompt for q in questions], progress=sys.stderr.isatty())
    table = figures(result, questions)
    if args.json:
        args.json.write_text(json.dumps(result.to_dict() | {"clapnq": table}, indent=2) + "\n", encoding="utf-8")
    publish("clapnq", markdown(table, len(documents)), result, args)


if __name__ == "__main__":
    main()
