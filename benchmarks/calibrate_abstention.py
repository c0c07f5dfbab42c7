"""Fit the composer's abstention model on data and choose its operating point.

    python benchmarks/calibrate_abstention.py            # fit, print, write the model and the docs
    python benchmarks/calibrate_abstention.py --check    # exit 1 unless rag/answer/abstention.json is the fit
    python benchmarks/calibrate_abstention.py --index-root /tmp/cal-indexes   # reuse built indexes

Data (read from ../shared/data, never copied into the project):

* ClapNQ dev (``benchmarks/clapnq.py``): 300 questions whose passage answers them (label 1)
  and 300 whose on-topic passage does not (label 0), all 596 passages indexed together.
* Out-of-scope negatives: the same ClapNQ questions asked of corpora that cannot answer them,
  the five articles in seeds/ and the 5,183 SciFact abstracts (label 0). ClapNQ has no
  off-topic questions, and without them the model would never see what a question about
  something the documents never mention looks like.

Only the *train* half of the questions (``clapnq.split``) is used to fit and to choose the
threshold; the held-out half is reported. Each question is asked as the chatbot asks it
(hybrid retrieval, top 5 passages), and the evidence of the composer's best sentence
(``rag.answer.evidence.Evidence``) is the model's input. The threshold is chosen, and the
figures measured, on the decision the composer makes with the model: it answers when one of the
sentences it would quote (the best and its runners-up) reaches the threshold, unless the best
one's passage names nothing the question names (``rag.answer.evidence.likeliest``). The model
is an L2-regularised logistic regression fitted with Newton's method in numpy. The answerable questions weigh 1 in all, the
on-topic unanswerable ones 1 and the out-of-scope ones 0.5 (``NEGATIVE_WEIGHTS``): the easy
out-of-scope questions must teach the model what "never mentioned" looks like without
drowning out the hard on-topic ones.

The operating point is the threshold that maximises balanced accuracy (answerable vs on-topic
unanswerable) on the train half, smoothed over neighbouring thresholds because the train
curve is noisy, among thresholds that abstain on at least 95% of the train half's
out-of-scope questions.

The fitted numbers are written to ``rag/answer/abstention.json`` (``FITTED_ABSTENTION``), which
the composer loads its model from, and to docs/EVALUATION.md; ``--check`` compares the fit with
that file and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from clapnq import EVALUATION, ROOT, Question, load
from common import DATA, write_section

from rag import Chatbot, Document
from rag.answer.candidates import candidates_from_hits
from rag.answer.evidence import (
    FITTED_ABSTENTION,
    AbstentionModel,
    Evidence,
    Scored,
    answer_probability,
    likeliest,
    score_sentences,
)
from rag.answer.extractive import picked_sentences

FEATURES = [f.name for f in fields(Evidence)]
L2 = 1.0
# Total weight of each kind of negative relative to the answerable questions' (1.0): on-topic
# unanswerables are what the threshold must separate, out-of-scope ones must not swamp them.
NEGATIVE_WEIGHTS = {"on_topic": 1.0, "out_of_scope": 0.5}
MIN_OUT_OF_SCOPE_ABSTENTION = 0.95
SMOOTHING = 0.05  # half-width of the window over which the train curve is averaged
GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)
PLOT = ROOT / "docs" / "img" / "abstention_tradeoff.png"
SHIPPED = FITTED_ABSTENTION.relative_to(ROOT) if FITTED_ABSTENTION.is_relative_to(ROOT) else FITTED_ABSTENTION


@dataclass
class Sample:
    question: Question
    corpus: str  # "clapnq", "seeds" or "scifact"
    picked: list[Scored]  # the sentences the composer would quote, best first; none retrieved: []

    @property
    def evidence(self) -> Evidence | None:
        """The best sentence's evidence, which the model is fitted on; None: nothing retrieved."""
        return self.picked[0].evidence if self.picked else None

    @property
    def label(self) -> bool:
        return self.corpus == "clapnq" and self.question.prompt.answerable

    @property
    def kind(self) -> str:
        if self.corpus != "clapnq":
            return "out_of_scope"
        return "answerable" if self.question.prompt.answerable else "on_topic"


# ----------------------------------------------------------------------------------------
# Evidence


def scifact_documents() -> list[Document] | None:
    path = DATA / "scifact" / "corpus.jsonl"
    if not path.exists():
        print(f"SciFact not found at {path}: out-of-scope negatives come from seeds/ only.")
        return None
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [Document(f"{r['_id']}.txt", f"{r['title']}\n\n{r['text']}\n") for r in rows]


def open_bot(name: str, documents: list[Document], root: Path) -> Chatbot:
    return Chatbot.from_documents(documents, index_dir=root / name, progress=True)


def collect(questions: list[Question], index_root: Path) -> list[Sample]:
    """Ask every question of ClapNQ's corpus and of the out-of-scope corpora."""
    from rag.ingest.loading import load_folder

    clapnq_documents, _ = load()
    corpora = {"clapnq": clapnq_documents, "seeds": load_folder(ROOT / "seeds")}
    scifact = scifact_documents()
    if scifact:
        corpora["scifact"] = scifact
    samples = []
    for name, documents in corpora.items():
        bot = open_bot(name, documents, index_root)
        for question in _progress(questions, name):
            samples.append(Sample(question, name, picked(bot, question.prompt.question)))
    return samples


def picked(bot: Chatbot, question: str) -> list[Scored]:
    """The sentences the composer would quote for ``question`` as ``bot`` asks it, best first
    (``rag.answer.extractive.picked_sentences``); empty when nothing was retrieved."""
    settings = bot.composer_settings
    question = bot.read_as(question)
    hits = bot.retrieve(question, k=bot.top_k)
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), bot.index, settings)
    return picked_sentences(scored, settings) if scored else []


def deciding_sentence(bot: Chatbot, question: str) -> Scored | None:
    """The sentence the composer's answer/abstain decision for ``question`` rests on
    (``rag.answer.evidence.likeliest``); None when nothing was retrieved."""
    sentences = picked(bot, question)
    return likeliest(sentences, bot.composer_settings.abstention) if sentences else None


def _progress(items, name):
    if not sys.stderr.isatty():
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"asking ({name})", unit="q")


# ----------------------------------------------------------------------------------------
# Fitting


def matrix(samples: list[Sample]) -> np.ndarray:
    return np.array([[getattr(s.evidence, f) for f in FEATURES] for s in samples], dtype=float)


def sample_weights(samples: list[Sample]) -> np.ndarray:
    positives = sum(s.kind == "answerable" for s in samples)
    counts = {kind: sum(s.kind == kind for s in samples) for kind in NEGATIVE_WEIGHTS}
    per_kind = {kind: NEGATIVE_WEIGHTS[kind] * positives / max(counts[kind], 1) for kind in NEGATIVE_WEIGHTS}
    return np.array([1.0 if s.kind == "answerable" else per_kind[s.kind] for s in samples])


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float = L2) -> np.ndarray:
    """Weighted, L2-regularised (bias excluded) logistic regression by Newton's method."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = l2 * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (weights * (p - y)) + penalty @ beta
        hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def probabilities(model: AbstentionModel, samples: list[Sample]) -> np.ndarray:
    """What the composer's decision weighs for each sample: the likeliest picked sentence's P."""
    return np.array(
        [answer_probability(likeliest(sample.picked, model), model) if sample.picked else 0.0 for sample in samples]
    )


def rates(model: AbstentionModel, samples: list[Sample], threshold: float) -> dict[str, float]:
    """Answered-when-answerable, abstained on on-topic unanswerable and on out-of-scope."""
    p = probabilities(model, samples)
    out = {}
    for kind, want_answer in (("answerable", True), ("on_topic", False), ("out_of_scope", False)):
        mask = np.array([s.kind == kind for s in samples])
        if mask.any():
            answered = p[mask] >= threshold
            out[kind] = float(answered.mean() if want_answer else (~answered).mean())
    out["balanced_accuracy"] = (out["answerable"] + out["on_topic"]) / 2
    return out


def choose_threshold(model: AbstentionModel, train: list[Sample]) -> float:
    curve = {t: rates(model, train, t) for t in GRID}
    allowed = [t for t in GRID if curve[t].get("out_of_scope", 1.0) >= MIN_OUT_OF_SCOPE_ABSTENTION]

    def smoothed(t: float) -> float:
        window = [curve[u]["balanced_accuracy"] for u in GRID if abs(u - t) <= SMOOTHING + 1e-9]
        return float(np.mean(window))

    return float(max(allowed, key=lambda t: (round(smoothed(t), 6), -t)))


def fitted_model(train: list[Sample]) -> AbstentionModel:
    usable = [s for s in train if s.evidence is not None]
    beta = fit_logistic(matrix(usable), np.array([s.label for s in usable], float), sample_weights(usable))
    numbers = {"bias": round(float(beta[0]), 2)} | {
        f: round(float(b), 2) for f, b in zip(FEATURES, beta[1:], strict=True)
    }
    model = AbstentionModel(**numbers, threshold=0.5)
    return AbstentionModel(**numbers, threshold=choose_threshold(model, usable))


def write_model(model: AbstentionModel, path: Path = FITTED_ABSTENTION) -> None:
    """The model's numbers as the composer loads them (``AbstentionModel.load``)."""
    path.write_text(json.dumps(asdict(model), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def same_numbers(a: AbstentionModel, b: AbstentionModel) -> bool:
    return all(abs(getattr(a, f.name) - getattr(b, f.name)) < 1e-9 for f in fields(AbstentionModel))


# ----------------------------------------------------------------------------------------
# Report


def curve_table(model: AbstentionModel, held_out: list[Sample]) -> str:
    lines = [
        "| threshold | answered (answerable) | false abstention | abstained (on-topic unanswerable) "
        "| abstained (out of scope) | balanced accuracy |",
        "|---|---|---|---|---|---|",
    ]
    marks = sorted({*np.round(np.arange(0.1, 0.91, 0.1), 2), model.threshold})
    for t in marks:
        r = rates(model, held_out, t)
        chosen = " **(chosen)**" if t == model.threshold else ""
        lines.append(
            f"| {t:.2f}{chosen} | {r['answerable']:.3f} | {1 - r['answerable']:.3f} | {r['on_topic']:.3f} "
            f"| {r.get('out_of_scope', float('nan')):.3f} | {r['balanced_accuracy']:.3f} |"
        )
    return "\n".join(lines)


def plot_curve(model: AbstentionModel, train: list[Sample], held_out: list[Sample]) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=100)
    for name, samples, style in (("train half", train, "--"), ("held-out half", held_out, "-")):
        points = [rates(model, samples, t) for t in GRID]
        ax.plot([1 - r["answerable"] for r in points], [r["on_topic"] for r in points], style, label=name)
    chosen = rates(model, held_out, model.threshold)
    ax.plot([1 - chosen["answerable"]], [chosen["on_topic"]], "o", color="black")
    ax.annotate(
        f"threshold {model.threshold:.2f}",
        (1 - chosen["answerable"], chosen["on_topic"]),
        xytext=(8, -12),
        textcoords="offset points",
    )
    ax.set_xlabel("false abstention (answerable questions refused)")
    ax.set_ylabel("abstained on on-topic unanswerable")
    ax.set_title("ClapNQ dev: abstention trade-off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT)
    plt.close(fig)
    print(f"wrote {PLOT.relative_to(ROOT)}")


def markdown(model: AbstentionModel, train: list[Sample], held_out: list[Sample], corpora: list[str]) -> str:
    numbers = ", ".join(f"{f}={getattr(model, f):+.2f}" for f in ["bias", *FEATURES])
    train_rates = rates(model, train, model.threshold)
    test_rates = rates(model, held_out, model.threshold)
    counts = {kind: sum(s.kind == kind for s in held_out) for kind in ("answerable", "on_topic", "out_of_scope")}
    return "\n".join(
        [
            f"Fitted by `python benchmarks/calibrate_abstention.py` on the train half of ClapNQ dev plus "
            f"out-of-scope negatives (the ClapNQ questions asked of {' and '.join(corpora)}):",
            "",
            f"- weights: {numbers}",
            f"- operating point: answer when P(answerable) >= **{model.threshold:.2f}**",
            "",
            f"Held-out half ({counts['answerable']} answerable, {counts['on_topic']} on-topic unanswerable, "
            f"{counts['out_of_scope']} out-of-scope questions) at the operating point:",
            "",
            "| | train half | held-out half |",
            "|---|---|---|",
            f"| answered when answerable | {train_rates['answerable']:.3f} | {test_rates['answerable']:.3f} |",
            f"| abstained when on-topic unanswerable | {train_rates['on_topic']:.3f} | {test_rates['on_topic']:.3f} |",
            f"| abstained when out of scope | {train_rates['out_of_scope']:.3f} | {test_rates['out_of_scope']:.3f} |",
            f"| **balanced accuracy** (answerable vs on-topic unanswerable) | {train_rates['balanced_accuracy']:.3f} "
            f"| **{test_rates['balanced_accuracy']:.3f}** |",
            "",
            "Trade-off on the held-out half as the threshold moves:",
            "",
            curve_table(model, held_out),
            "",
            "![Abstention trade-off](img/abstention_tradeoff.png)",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-root", type=Path, default=None, help="build (or reuse) the indexes here")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless {SHIPPED} holds these numbers")
    parser.add_argument(
        "--no-write", action="store_true", help=f"do not update {SHIPPED}, docs/EVALUATION.md or the plot"
    )
    args = parser.parse_args(argv)

    _, questions = load()
    index_root = args.index_root or Path(tempfile.mkdtemp(prefix="calibrate-"))
    samples = collect(questions, index_root)
    train = [s for s in samples if not s.question.held_out and s.evidence is not None]
    held_out = [s for s in samples if s.question.held_out]
    model = fitted_model(train)
    corpora = sorted({s.corpus for s in samples} - {"clapnq"})

    print("AbstentionModel(" + ", ".join(f"{f}={getattr(model, f)}" for f in ["bias", *FEATURES, "threshold"]) + ")")
    text = markdown(model, train, held_out, corpora)
    print(text)
    if args.check:
        shipped = AbstentionModel.load(FITTED_ABSTENTION)
        same = same_numbers(model, shipped)
        print(f"{SHIPPED} holds these numbers." if same else f"{SHIPPED} holds {shipped}, not the fit.")
        sys.exit(0 if same else 1)
    if not args.no_write:
        write_model(model)
        plot_curve(model, train, held_out)
        write_section("abstention", text, EVALUATION)


if __name__ == "__main__":
    main()
