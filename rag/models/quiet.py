"""Keeping a model's loading quiet on stderr: transformers' progress bars and its load report.

``rag.models.registry`` builds every model inside ``quiet_loading`` and
``load_report_hidden``. Both change process-wide settings of the Hugging Face libraries, so
both count overlapping loads (several threads) and put things back once, when the last ends.
Trade-off: while a load runs, another thread's unrelated transformers load is quiet too.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

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


class _LoadReportFilter(logging.Filter):
    """Drops transformers' "LOAD REPORT" table (missing, unexpected keys), logging it at DEBUG
    under ``rag.models.quiet`` instead: printed before an error, it made a one-line message
    twenty, and a load that works needs no table either."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        logger.debug("%s", message)
        return False


_report_filter = _LoadReportFilter()
_report_lock = threading.Lock()
_report_depth = 0
LOAD_REPORT_LOGGER = "transformers.modeling_utils"


@contextmanager
def load_report_hidden() -> Iterator[None]:
    """While a model loads, transformers' load report goes to DEBUG (see ``_LoadReportFilter``);
    overlapping loads remove the filter once, when the last one ends."""
    global _report_depth
    target = logging.getLogger(LOAD_REPORT_LOGGER)
    with _report_lock:
        if _report_depth == 0:
            target.addFilter(_report_filter)
        _report_depth += 1
    try:
        yield
    finally:
        with _report_lock:
            _report_depth -= 1
            if _report_depth == 0:
                target.removeFilter(_report_filter)


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
