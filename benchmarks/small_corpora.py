"""ClapNQ questions asked of five-passage corpora: the answer/abstain decision on indexes as
small as seeds/, and the floor on the index size the evidence assumes.

    python benchmarks/small_corpora.py               # prints figures, writes docs/EVALUATION.md
    python benchmarks/small_corpora.py --floors 1 100 --no-write

The abstention model is fitted on ClapNQ's whole corpus (933 chunks) and on out-of-scope
corpora; a person's folder may hold five articles, or one. There, a word's rarity says little
(most words are in one chunk), and a question word the index has never seen weighs many
times what the seen ones do: the evidence moves away from the range the model was fitted on.
``rag.answer.extractive.EVIDENCE_MIN_CHUNKS`` weighs terms as if the index held at least that many
chunks. This script measures the shipped model with several such floors.

ClapNQ's 596 passages are shuffled (fixed seed) into groups of five, each indexed alone. Each
group is asked its own passages' questions (answerable, or on-topic unanswerable) and the next
group's (out of scope). Figures are given for the train half of the questions (``clapnq.split``),
on which the floor is chosen, and for the held-out half.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from calibrate_abstention import deciding_sentence
from clapnq import EVALUATION, Question, load
from common import write_section

import rag.answer.evidence as compose
from rag import Chatbot
from rag.answer.evidence import should_abstain
from rag.evaluation.metrics import mean

GROUP = 5
SEED = 0
# The shipped floor is always measured, beside no floor and larger ones.
FLOORS = sorted({1, compose.EVIDENCE_MIN_CHUNKS, 100, 300})


def groups_of(questions: list[Question]) -> list[list[Question]]:
    """The questions of each group of ``GROUP`` passages."""
    passages = sorted({q.prompt.expected_sources[0] for q in questions})
    random.Random(SEED).shuffle(passages)
    by_passage: dict[str, list[Question]] = {}
    for question in questions:
        by_passage.setdefault(question.prompt.expected_sources[0], []).append(question)
    return [[q for p in passages[i : i + GROUP] for q in by_passage[p]] for i in range(0, len(passages), GROUP)]


def answers(bot: Chatbot, question: str) -> bool:
    deciding = deciding_sentence(bot, question)
    return deciding is not None and not should_abstain(deciding, bot.composer_settings.abstention)


def measure(floors: list[int]) -> dict[int, dict[str, dict[str, list[bool]]]]:
    """For each floor, split ("train", "held-out") and kind, whether each question was answered."""
    documents, questions = load()
    by_id = {d.id: d for d in documents}
    groups = groups_of(questions)
    outcomes = {
        f: {s: {"answerable": [], "on_topic": [], "out_of_scope": []} for s in ("train", "held-out")} for f in floors
    }
    shipped = compose.EVIDENCE_MIN_CHUNKS
    with tempfile.TemporaryDirectory(prefix="small-corpora-") as root:
        for number, group in enumerate(groups):
            sources = sorted({q.prompt.expected_sources[0] for q in group})
            bot = Chatbot.from_documents([by_id[s] for s in sources], index_dir=Path(root) / str(number))
            asked = [(q, "answerable" if q.prompt.answerable else "on_topic") for q in group]
            asked += [(q, "out_of_scope") for q in groups[(number + 1) % len(groups)]]
            try:
                for floor in floors:
                    compose.EVIDENCE_MIN_CHUNKS = floor
                    for question, kind in asked:
                        split = "held-out" if question.held_out else "train"
                        outcomes[floor][split][kind].append(answers(bot, question.prompt.question))
            finally:
                compose.EVIDENCE_MIN_CHUNKS = shipped
                bot.close()
            print(f"\rgroup {number + 1}/{len(groups)}", end="", flush=True)
    print()
    return outcomes


def markdown(outcomes: dict[int, dict[str, dict[str, list[bool]]]]) -> str:
    lines = [
        f"ClapNQ's questions asked of {GROUP}-passage corpora, shipped abstention model, by the floor "
        "on the index size the evidence assumes (`python benchmarks/small_corpora.py`):",
        "",
        "| floor (chunks) | half | answered (answerable) | abstained (on-topic unanswerable) "
        "| abstained (out of scope) | balanced accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for floor, splits in outcomes.items():
        shipped = " (shipped)" if floor == compose.EVIDENCE_MIN_CHUNKS else ""
        for split, kinds in splits.items():
            answered = mean(kinds["answerable"])
            on_topic = 1 - mean(kinds["on_topic"])
            out_of_scope = 1 - mean(kinds["out_of_scope"])
            lines.append(
                f"| {floor}{shipped} | {split} | {answered:.3f} | {on_topic:.3f} | {out_of_scope:.3f} "
                f"| {(answered + on_topic) / 2:.3f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floors", type=int, nargs="+", default=FLOORS, help="index sizes to try")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/EVALUATION.md")
    args = parser.parse_args(argv)
    text = markdown(measure(args.floors))
    print(text)
    if not args.no_write:
        write_section("small-corpora", text, EVALUATION)


if __name__ == "__main__":
    main()
