"""Neural retrieval models: a sentence-transformers embedder and a cross-encoder reranker.

Both take a Hugging Face id (``BAAI/bge-small-en-v1.5``) or a local folder, and load it the
way sentence-transformers does for anyone: from the Hugging Face cache, downloading only when
the Hub is reachable and ``HF_HUB_OFFLINE`` is not set. A model that cannot be loaded is a
``ModelLoadError`` that names it and says how to get it; nothing falls back silently.

torch and sentence-transformers are imported inside the functions that need them, so
``import rag`` stays fast for people who never configure a model.

Trade-offs:

* Query and document prompts come from the model's own configuration (e5 saves
  ``"query: "``/``"passage: "``). Older bge and e5 releases define none, though their authors
  ask for them, so for those families the prompts in ``KNOWN_PROMPTS`` are used instead.
* Vectors are L2-normalised, so FAISS inner product is cosine similarity whatever the model's
  own similarity function.
* The reranker's score replaces the fused score on the hits it returns: the order and the
  score then agree. Scores of different rerankers are not comparable.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.errors import ModelLoadError
from rag.records import Hit

logger = logging.getLogger(__name__)

EMBEDDER_PREFIX = "sentence-transformers:"
RERANKER_PREFIX = "cross-encoder:"
# Show a progress bar when embedding at least this many texts in one call. The index already
# shows one per document and hands over about 256 chunks at a time, so only bigger calls
# (a benchmark corpus embedded at once) get a second bar.
PROGRESS_FROM = 1000
INSTALL_HINT = "Install the neural extras: pip install 'rag-seeds[neural]' (torch first: pip install torch)."

# Model families whose published configuration lacks the prompts their authors recommend.
BGE_QUERY = "Represent this sentence for searching relevant passages: "
KNOWN_PROMPTS: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"(^|/)(multilingual-)?e5-", re.IGNORECASE), {"query": "query: ", "document": "passage: "}),
    (re.compile(r"(^|/)bge-(small|base|large)-en", re.IGNORECASE), {"query": BGE_QUERY, "document": ""}),
]


# ----------------------------------------------------------------------------------------
# Finding and loading models


def pick_device(requested: str | None = None) -> str:
    """``requested`` or ``RAG_DEVICE`` if set, else CUDA when present, else Apple's MPS, else CPU."""
    requested = requested or os.environ.get("RAG_DEVICE") or None
    if requested:
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_model(name: str, role: str) -> str:
    """``name`` as sentence-transformers and transformers expect it: an existing folder as an
    absolute path, anything else as a Hugging Face id. A path that does not exist is an error."""
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError(f"The {role} model name is empty. Give a Hugging Face id or a folder.")
    name = name.strip()
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"The {role} model {name!r} is a file; give the folder that holds the model.")
        return str(path.resolve())
    if _looks_like_path(name):
        raise ModelLoadError(
            f"The {role} model folder {name!r} does not exist. Give the path of a folder saved with "
            "save_pretrained, or a Hugging Face id such as 'org/model'."
        )
    return name


# What a model folder's fingerprint reads: every file, except the model card, hidden files
# (.git, the .cache of `hf download --local-dir`) and the weights of other runtimes, which a
# copy may leave out. Files up to _WHOLE_FILE bytes are read whole; bigger ones (the weights)
# by their size and their first and last _SAMPLE bytes, so a 1 GB model takes milliseconds.
FINGERPRINT_SCHEME = "model-files-v1"
_NOT_READ_FOLDERS = frozenset({"__pycache__", "onnx", "openvino"})
_NOT_READ_SUFFIXES = frozenset({".md", ".onnx", ".h5", ".msgpack", ".ot", ".pyc"})
_WHOLE_FILE = 1 << 20
_SAMPLE = 1 << 16


def model_fingerprint(folder: str | Path) -> str | None:
    """What identifies the model saved in ``folder`` wherever the folder lies: a hash of its
    files' names (relative to it), sizes and contents (see ``_WHOLE_FILE``). The same model
    copied, moved or installed elsewhere has the same fingerprint; another model, or the same
    one fine-tuned, has another. None when the folder cannot be read."""
    root = Path(folder)
    digest = hashlib.sha256()
    try:
        for relative in _model_files(root):
            path = root / relative
            size = path.stat().st_size
            digest.update(f"{relative}\0{size}\0".encode())
            with path.open("rb") as handle:
                if size <= _WHOLE_FILE:
                    digest.update(handle.read())
                else:
                    digest.update(handle.read(_SAMPLE))
                    handle.seek(size - _SAMPLE)
                    digest.update(handle.read(_SAMPLE))
    except OSError as error:
        logger.debug("no fingerprint for the model in %s: %s", folder, error)
        return None
    return f"{FINGERPRINT_SCHEME}:{digest.hexdigest()[:32]}"


def _model_files(root: Path) -> list[str]:
    """The files a fingerprint reads, as sorted paths relative to ``root`` with ``/``."""
    found = []
    for parent, folders, files in os.walk(root, onerror=_raise):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in _NOT_READ_FOLDERS]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() not in _NOT_READ_SUFFIXES:
                found.append((Path(parent) / name).relative_to(root).as_posix())
    return sorted(found)


def _raise(error: OSError) -> None:
    raise error


def _looks_like_path(name: str) -> bool:
    """Whether ``name`` is meant as a folder: a Hugging Face id is ``name`` or ``org/name``."""
    path = Path(name).expanduser()
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or (path.parent != Path(".") and path.parent.is_dir())
    )


def load_error(role: str, name: str, error: BaseException) -> ModelLoadError:
    """A ``ModelLoadError`` for ``name`` that says why and how to get the model."""
    if isinstance(error, ImportError):
        return ModelLoadError(f"Cannot load the {role} model {name!r}: {error}. {INSTALL_HINT}")
    reason = " ".join(str(error).split()) or type(error).__name__
    if len(reason) > 300:
        reason = reason[:297] + "..."
    if Path(name).is_dir():
        return ModelLoadError(
            f"The folder {name} does not hold a loadable {role} model ({reason}). "
            "Save one there with save_pretrained, or give a Hugging Face id."
        )
    if _offline():
        where = "HF_HUB_OFFLINE is set, so only the local Hugging Face cache was searched and the model is not in it."
    else:
        where = "It is not in the Hugging Face cache and could not be downloaded (no network, or a wrong name?)."
    return ModelLoadError(
        f"Cannot load the {role} model {name!r}. {where} "
        f"Download it where there is internet with `hf download {name}` and copy the Hugging Face cache "
        "(~/.cache/huggingface) here, or give the path of a folder that holds the model. "
        f"(Details: {reason})"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[bool, dict[str, bool] | None, bool] | None = None


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide the progress bars transformers draws while a model loads ("Loading weights"), and
    turn them back on afterwards if they were on.

    Loading takes a second or two, so a bar for it only buries the answer to a question on
    stderr. Downloads (huggingface_hub's bars) take longer and keep theirs, and the bars rag
    draws itself (indexing, embedding a corpus) are not affected. When
    ``HF_HUB_DISABLE_PROGRESS_BARS`` is set, the user has chosen, and nothing is changed.
    Loads overlapping in several threads restore the settings once, when the last one ends.
    """
    global _quiet_depth, _quiet_saved
    from huggingface_hub import constants
    from transformers.utils import logging as transformers_logging

    if constants.HF_HUB_DISABLE_PROGRESS_BARS is not None:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = _progress_settings(transformers_logging)
            transformers_logging.disable_progress_bar()  # turns huggingface_hub's off too: put them back
            _apply_progress_settings(transformers_logging, (False, *_quiet_saved[1:]))
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                _apply_progress_settings(transformers_logging, _quiet_saved)
                _quiet_saved = None


def _progress_settings(transformers_logging) -> tuple[bool, dict[str, bool] | None, bool]:
    """Whether transformers draws bars; huggingface_hub's settings per group of bars (None in
    versions without groups); whether huggingface_hub's bars are off as a whole."""
    hub = importlib.import_module("huggingface_hub.utils.tqdm")
    groups = getattr(hub, "progress_bar_states", None)
    return (
        transformers_logging.is_progress_bar_enabled(),
        dict(groups) if isinstance(groups, dict) else None,
        hub.are_progress_bars_disabled(),
    )


def _apply_progress_settings(transformers_logging, saved: tuple[bool, dict[str, bool] | None, bool]) -> None:
    transformers_enabled, groups, hub_disabled = saved
    hub = importlib.import_module("huggingface_hub.utils.tqdm")
    if transformers_enabled:
        transformers_logging.enable_progress_bar()  # also turns all of huggingface_hub's on: set below
    current = getattr(hub, "progress_bar_states", None)
    if groups is not None and isinstance(current, dict):
        current.clear()
        current.update(groups)
    elif hub_disabled:
        hub.disable_progress_bars()
    else:
        hub.enable_progress_bars()


@lru_cache(maxsize=4)
def _sentence_transformer(path: str, device: str):
    """The loaded model; cached so a second ``Chatbot`` on the same model does not reload it."""
    try:
        from sentence_transformers import SentenceTransformer

        with quiet_loading():
            return SentenceTransformer(path, device=device)
    except Exception as error:  # any failure to load is the user's to fix, so it becomes a RagError
        raise load_error("embedding", path, error) from error


@lru_cache(maxsize=4)
def _cross_encoder(path: str, device: str):
    try:
        from sentence_transformers import CrossEncoder

        with quiet_loading():
            return CrossEncoder(path, device=device)
    except Exception as error:
        raise load_error("reranker", path, error) from error


def _torch_device(device: str | None) -> str:
    try:
        return pick_device(device)
    except ImportError as error:
        raise ModelLoadError(f"torch is not installed ({error}). {INSTALL_HINT}") from error


# ----------------------------------------------------------------------------------------
# The embedder


def known_prompts(name: str) -> dict[str, str]:
    """Prompts that the family of model ``name`` expects but may not define ({} if none known)."""
    for pattern, prompts in KNOWN_PROMPTS:
        if pattern.search(name):
            return dict(prompts)
    return {}


class SentenceTransformerEmbedder:
    """A sentence-transformers model as an ``Embedder``: prompted, batched, normalised."""

    def __init__(self, name: str, *, device: str | None = None, batch_size: int = 32) -> None:
        self.name = resolve_model(name, "embedding")
        self.device = _torch_device(device)
        self.batch_size = batch_size
        self.model = _sentence_transformer(self.name, self.device)
        self.device = str(self.model.device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension; the project allows >= 3.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = dimension()
        if not dim:
            raise ModelLoadError(f"The embedding model {name!r} does not say its output dimension.")
        self._dim = int(dim)
        self.query_prompt, self.document_prompt = self._prompts()

    @property
    def id(self) -> str:
        """Recorded in the index manifest; ``load_embedder(id)`` loads this model again."""
        return f"{EMBEDDER_PREFIX}{self.name}"

    @property
    def dim(self) -> int:
        return self._dim

    @cached_property
    def fingerprint(self) -> str | None:
        """For a model in a local folder, ``model_fingerprint`` of the folder: recorded in the
        index manifest beside ``id``, so the index opens with the same model moved elsewhere.
        None for a Hugging Face id, which names the model wherever the cache is."""
        return model_fingerprint(self.name) if Path(self.name).is_dir() else None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return self._encode(list(texts), self.document_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self.query_prompt)[0]

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) >= PROGRESS_FROM,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _prompts(self) -> tuple[str, str]:
        """The model's own query and document prompts; the family's known ones if it has none."""
        own = self.model.prompts or {}
        query = own.get("query") or ""
        document = next((own[key] for key in ("document", "passage", "corpus") if own.get(key)), "")
        if not query and not document:
            fallback = known_prompts(self.name)
            query, document = fallback.get("query", ""), fallback.get("document", "")
            if fallback:
                logger.info("%s defines no prompts; using its family's: %r / %r", self.name, query, document)
        return query, document


# ----------------------------------------------------------------------------------------
# The reranker


class CrossEncoderReranker:
    """Reorders hits by a cross-encoder's score for (question, passage)."""

    def __init__(self, name: str, *, device: str | None = None, batch_size: int = 32) -> None:
        self.name = resolve_model(name, "reranker")
        self.device = _torch_device(device)
        self.batch_size = batch_size
        self.model = _cross_encoder(self.name, self.device)
        self.device = str(self.model.device)

    @property
    def id(self) -> str:
        return f"{RERANKER_PREFIX}{self.name}"

    @property
    def max_length(self) -> int | None:
        return getattr(self.model, "max_seq_length", None) or getattr(self.model, "max_length", None)

    def scores(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage; for a model with several labels, the last label's."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        raw = self.model.predict(
            [(question, passage) for passage in passages],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        raw = np.asarray(raw, dtype=np.float32)
        return raw[:, -1] if raw.ndim == 2 else raw

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` best first by the cross-encoder; ties keep the fused order."""
        scores = self.scores(question, [hit.text for hit in hits])
        order = sorted(range(len(hits)), key=lambda i: (-float(scores[i]), i))
        return [replace(hits[i], score=float(scores[i])) for i in order]


def load_reranker(name: str | None, *, device: str | None = None) -> CrossEncoderReranker | None:
    """The cross-encoder called ``name``, or None when none is configured."""
    if name is None or not str(name).strip():
        return None
    return CrossEncoderReranker(str(name).removeprefix(RERANKER_PREFIX), device=device)
