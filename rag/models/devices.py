"""Which device a model runs on: the names torch knows, ``RAG_DEVICE``, and whether a named
CUDA GPU is there.

Checked when ``Settings`` is built, so that a wrong device ("tpu", a GPU the machine lacks) is
an error at once, whether or not a model is ever put on it; torch is imported only to look
for a GPU, never to check a name.
"""

from __future__ import annotations

import os

from rag.errors import ModelLoadError
from rag.shown import escaped

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
