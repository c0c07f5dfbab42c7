"""Loading models, one way for every kind: embedders, rerankers, generators (causal LMs) and
NLI judges.

``load_model`` is the one path: the name is resolved (``resolve_model``: a folder that exists
becomes its absolute path, a path that does not is an error before any library is asked,
anything else is a Hugging Face id), the device is picked (``pick_device``), the model is
built by the caller's function inside ``rag.models.quiet``'s quiet loading and kept in a small per-kind cache,
and any failure becomes a ``ModelLoadError`` from ``load_error`` that names the model and
says how to get it. Nothing falls back silently. The modules of each kind
(``rag.models.embedding``, ``rag.models.rerankers``, ``rag.answer.llm``,
``rag.evaluation.nli``) say only how to build their model and what to do with it.

Models load the way sentence-transformers and transformers load them for anyone: from the
Hugging Face cache, downloading only when the Hub is reachable and ``HF_HUB_OFFLINE`` is not
set. torch and the Hugging Face libraries are imported inside the functions that need them, so
``import rag`` stays fast for people who never configure a model.

Trade-offs: the caches hold a few models per kind for the life of the process (a second
``Chatbot`` on the same model does not load it again), which costs memory until
``forget_loaded_models``; two threads asking at once for a model not yet loaded may both load
it, which is cheaper than making every other load wait behind one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import ModelLoadError
from rag.models import hub
from rag.models.quiet import load_report_hidden, quiet_loading
from rag.validation import escaped, path_problem

logger = logging.getLogger(__name__)

INSTALL_HINT = "Install the neural extras: pip install 'rag-seeds[neural]' (torch first: pip install torch)."

Model = TypeVar("Model")


@dataclass(frozen=True)
class ModelKind:
    """``role`` is the word the messages use ("the reranker model 'x'"); ``cached`` is how many
    models of the kind stay loaded (language models are big, so fewer of them)."""

    role: str
    cached: int


EMBEDDING = ModelKind("embedding", cached=4)
RERANKER = ModelKind("reranker", cached=4)
GENERATOR = ModelKind("language", cached=2)
NLI = ModelKind("NLI", cached=2)


# ----------------------------------------------------------------------------------------
# Names and devices


def resolve_model(name: str, role: str) -> str:
    """``name`` as sentence-transformers and transformers expect it: an existing folder as an
    absolute path, anything else as a Hugging Face id. A path that does not exist is an error."""
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError(f"The {role} model name is empty. Give a Hugging Face id or a folder.")
    name = name.strip()
    problem = path_problem(os.path.expanduser(name), f"{role} model")
    if problem:  # a Hugging Face id is at most 96 characters: a name too long for a path is neither
        raise ModelLoadError(
            f"{problem}, so it is neither a folder nor a Hugging Face id. "
            "Give a Hugging Face id such as 'org/model', or a model folder."
        )
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


def _looks_like_path(name: str) -> bool:
    """Whether ``name`` is meant as a folder: a Hugging Face id is ``name`` or ``org/name``."""
    path = Path(name).expanduser()
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or (path.parent != Path(".") and path.parent.is_dir())
    )


# torch's device types a model can be put on; "cuda:1" names one of several of a kind.
DEVICES = ("cpu", "cuda", "mps", "xpu", "hip", "npu", "meta")


def pick_device(requested: str | None = None) -> str:
    """``requested`` or ``RAG_DEVICE`` if set, else CUDA when present, else Apple's MPS, else CPU.

    A device torch does not know ("tpu") is a ``ModelLoadError`` naming the valid ones, not
    an error from the first model that tries to load on it."""
    named = named_device(requested)
    if named:
        return named
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def named_device(requested: str | None = None) -> str | None:
    """The device named by ``requested`` or else ``RAG_DEVICE``, checked (``checked_device``);
    None when neither names one. ``Settings`` calls this when it is built, so that a wrong
    device is an error at once, whether or not a model is ever put on it."""
    from_environment = not (requested or "").strip() and bool(os.environ.get("RAG_DEVICE", "").strip())
    requested = (requested or "").strip() or os.environ.get("RAG_DEVICE", "").strip() or None
    if requested is None:
        return None
    return checked_device(requested, "RAG_DEVICE" if from_environment else "device")


def checked_device(device: str, source: str = "device") -> str:
    """``device`` if it names one of ``DEVICES`` (with an optional ``:index``), else a
    ``ModelLoadError`` saying so; ``source`` is where it was given (``device``, ``RAG_DEVICE``).
    A CUDA device is also checked against the machine (torch is imported for that alone)."""
    kind, _, number = device.lower().partition(":")
    if not (kind in DEVICES and (not number or number.isdigit())):
        raise ModelLoadError(
            f"Unknown device {escaped(shown_text(device))!r} (from {source}). Use one of {', '.join(DEVICES[:-1])}, "
            "optionally with a number (cuda:1), or leave it unset for the fastest one present."
        )
    if kind == "cuda":
        check_cuda_present(int(number) if number else 0, device.lower(), source)
    return device.lower()


def check_cuda_present(number: int, device: str, source: str) -> None:
    """A ``ModelLoadError`` unless this machine has CUDA device ``number``."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ModelLoadError(
            f"The device {device!r} (from {source}) needs a CUDA GPU, and this machine has none that torch "
            "can use. Use 'cpu', or leave the device unset for the fastest one present."
        )
    if number >= count:
        raise ModelLoadError(
            f"The device {device!r} (from {source}) names CUDA GPU {number}, but this machine has {count} "
            f"(cuda:0 to cuda:{count - 1}). Name one of those, or leave the device unset."
        )


def shown_text(text: str) -> str:
    """``text`` cut to 60 characters, for a message that repeats what a user typed."""
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------------------
# Loading


class _LoadedModels:
    """Models already loaded, per kind, the least recently used dropped first. The lock guards
    the bookkeeping only: loading happens outside it (see the module's trade-offs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[ModelKind, OrderedDict[Hashable, Any]] = {}

    def get(self, kind: ModelKind, key: Hashable, load: Callable[[], Model]) -> Model:
        with self._lock:
            models = self._models.setdefault(kind, OrderedDict())
            if key in models:
                models.move_to_end(key)
                return models[key]
        model = load()
        with self._lock:
            models[key] = model
            models.move_to_end(key)
            while len(models) > kind.cached:
                models.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


_loaded = _LoadedModels()


@dataclass(frozen=True)
class LoadedModel:
    """``path``: the name as resolved (what ids record); ``model``: what ``build`` returned."""

    path: str
    model: Any


def load_model(
    kind: ModelKind, name: str, build: Callable[..., Model], *, device: str | None = None, **options: Hashable
) -> LoadedModel:
    """The model called ``name``, built once per process as ``build(path, device, **options)``.

    ``build`` imports its library and constructs the model; everything else is done here, the
    same for every kind: the name resolved, the device picked, progress bars kept quiet, and
    any failure turned into a ``ModelLoadError`` that says what to do.
    """
    try:
        wanted = pick_device(device)  # first: a device that does not exist is not the model's fault
    except ImportError as error:  # torch is missing
        raise load_error(kind.role, str(name), error) from error
    path = resolve_model(name, kind.role)
    key = (path, wanted, build, tuple(sorted(options.items())))
    return LoadedModel(path, _loaded.get(kind, key, lambda: _build(kind, path, wanted, build, options)))


def _build(kind: ModelKind, path: str, device: str, build: Callable[..., Model], options: dict) -> Model:
    try:
        with quiet_loading(), load_report_hidden(), _cache_only_unless_hub_reachable(path):
            return build(path, device, **options)
    except ModelLoadError:
        raise  # already says what is wrong with the model
    except Exception as error:  # any failure to load is the user's to fix, so it becomes a RagError
        raise load_error(kind.role, path, error) from error


@contextmanager
def _cache_only_unless_hub_reachable(path: str) -> Iterator[None]:
    """A Hugging Face id loads from the cache alone when the Hub cannot be reached: an unknown
    name then fails at once instead of after a minute of retries (``rag.models.hub``)."""
    if Path(path).is_dir() or _offline() or hub.hub_reachable():
        yield
        return
    with hub.hub_offline():
        yield


def forget_loaded_models() -> None:
    """Drop every cached model: their memory is freed once nothing else holds them, and the
    next load reads the files again (a model saved anew in the same folder, say)."""
    _loaded.clear()


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
    elif not hub.hub_reachable():
        host = hub.hub_address()[0]
        where = f"{host} cannot be reached (no network?), so only the local Hugging Face cache was searched and the model is not in it."
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


# ----------------------------------------------------------------------------------------
# What a loaded model is


def hidden_size(model) -> int | None:
    """The width of the model's hidden states as its configuration states it (None if it does not)."""
    config = getattr(model, "config", None)
    size = getattr(config, "hidden_size", None)
    return size if isinstance(size, int) else None


def parameter_count(model) -> int:
    """How many weights a torch model has."""
    return sum(p.numel() for p in model.parameters())


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
