"""The records of an evaluation, shared by the run (``rag.evaluation.run``) and the report
(``rag.evaluation.report``): a test prompt, each prompt's result, the whole run's result, the
names of the summary's metrics, and the check that a result file can be written.

They live apart from both so that the report can read results without importing the code
that produces them, and the run can write a report without the two importing each other.
``Prompt.from_dict`` validates here, where the record is, so that a prompt built in code is
checked exactly as a line of a prompts file is; reading the file is the run's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InvalidQuestionError, PromptsFileError, ReportError
from rag.evaluation.metrics import SentenceVerdict
from rag.records import MAX_QUESTION_CHARS, Citation

# The per-prompt metrics a summary averages, in the order the tables show them (what each one
# measures is in rag.evaluation.run's docstring).
METRICS = (
    "retrieval_hit_rate",
    "answer_accuracy",
    "citation_recall",
    "citation_precision",
    "faithfulness",
    "abstention_accuracy",
    "false_abstention_rate",
)


@dataclass(frozen=True)
class Prompt:
    """One test prompt. ``line`` is where it was read (0 when built in code)."""

    question: str
    expected_sources: tuple[str, ...] = ()
    expected_answer: tuple[str, ...] = ()
    answerable: bool = True
    line: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], line: int = 0) -> Prompt:
        where = f"line {line}" if line else "prompt"
        if not isinstance(data, Mapping):
            raise PromptsFileError(f"{where}: expected a JSON object, got {type(data).__name__}.")
        question = data.get("question")
        if not isinstance(question, str) or not question.strip():
            raise PromptsFileError(f'{where}: "question" must be a non-empty string.')
        question = question.strip()
        if len(question) > MAX_QUESTION_CHARS:
            raise PromptsFileError(
                f'{where}: "question" is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}.'
            )
        _check_searchable(question, where)
        answerable = data.get("answerable", True)
        if not isinstance(answerable, bool):
            raise PromptsFileError(f'{where}: "answerable" must be true or false.')
        return cls(
            question=question,
            expected_sources=_strings(data, "expected_sources", where),
            expected_answer=_strings(data, "expected_answer", where),
            answerable=answerable,
            line=line,
        )


def _check_searchable(question: str, where: str) -> None:
    """A question of punctuation alone would stop a whole run when it is asked: say which line it is on."""
    from rag.search.questions import searchable  # the English analysis it needs loads only here

    try:
        searchable(question)
    except InvalidQuestionError as error:
        raise PromptsFileError(f"{where}: {error}") from None


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PromptsFileError(f'{where}: "{key}" must be a list of strings.')
    return tuple(value)


@dataclass
class PromptResult:
    """One prompt, the answer it got, the verdict on each sentence and its metrics."""

    prompt: Prompt
    answer_text: str
    abstained: bool
    citations: list[Citation]
    verdicts: list[SentenceVerdict]
    hit_sources: list[str]
    retrieval_rank: int | None
    latency_ms: float
    metrics: dict[str, float | None]
    closest: Citation | None = None  # a refusal's nearest sentence (``Answer.closest``)

    def to_dict(self) -> dict:
        return {
            "line": self.prompt.line,
            "question": self.prompt.question,
            "answerable": self.prompt.answerable,
            "expected_sources": list(self.prompt.expected_sources),
            "expected_answer": list(self.prompt.expected_answer),
            "answer": self.answer_text,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "sentences": [
                {
                    "sentence": v.sentence,
                    "markers": list(v.markers),
                    "supported": v.supported,
                    "score": v.score,
                    "relevant": list(v.relevant),
                }
                for v in self.verdicts
            ],
            "hit_sources": self.hit_sources,
            "retrieval_rank": self.retrieval_rank,
            "latency_ms": self.latency_ms,
            "metrics": self.metrics,
            "closest": asdict(self.closest) if self.closest else None,
        }


@dataclass
class EvalResult:
    """Every prompt's result and the overall ``summary`` (metric name → value)."""

    results: list[PromptResult]
    summary: dict[str, float | int | None]
    judge: str
    top_k: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # cited file → its title, for the report

    def to_dict(self) -> dict:
        return {
            "summary": self.summary,
            "judge": self.judge,
            "top_k": self.top_k,
            "settings": self.settings,
            "prompts": [r.to_dict() for r in self.results],
        }


def check_writable(path: Path) -> None:
    """``ReportError`` now, not after the whole run, when ``path`` cannot be written."""
    if path.is_dir():
        raise ReportError(f"Cannot write {path}: it is a folder. Give a file name.")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise ReportError(f"Cannot write {path} ({error.strerror or error}). Give a path you can write to.") from None
    if not existed:
        path.unlink()
