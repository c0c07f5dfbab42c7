"""Counting tokens, to bound chunk sizes.

tiktoken's ``cl100k_base`` is used when its encoding file can be had: from tiktoken's cache
(``TIKTOKEN_CACHE_DIR``) or, unless ``HF_HUB_OFFLINE``/``RAG_OFFLINE`` is set, by download.
Otherwise the count falls back, with one warning per process, to an approximation that errs
high so a chunk never exceeds its bound by much: each run of letters counts one token per
five characters (at least one), each group of up to three digits one, each other symbol one.
Common English words are single tokens in cl100k, so on prose the approximation reads about
a fifth more tokens than tiktoken does.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ENCODING = "cl100k_base"
APPROXIMATION = "approx-chars/5"

# Where tiktoken caches its files, so an offline process can tell whether loading would need
# the network (tiktoken itself always tries to download when the cache misses).
_ENCODING_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_PIECE_RE = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]|_")


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens with a tiktoken encoding, or with the approximation when ``encoding`` is None."""

    name: str
    encoding: Any = None

    def count(self, text: str) -> int:
        if self.encoding is not None:
            return len(self.encoding.encode(text, disallowed_special=()))
        return approximate_tokens(text)


def approximate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECE_RE.findall(text):
        total += max(1, math.ceil(len(piece) / 5)) if piece[0].isalpha() else 1
    return total


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes"} for v in ("HF_HUB_OFFLINE", "RAG_OFFLINE"))


def load_token_counter(encoding_name: str = DEFAULT_ENCODING) -> TokenCounter:
    """The tiktoken counter for ``encoding_name`` if available, else the approximation."""
    return _load(encoding_name)


def forget_token_counters() -> None:
    """Load counters afresh next time (after the environment that chose them changed)."""
    _load.cache_clear()


@cache  # keyed on the name itself, so load_token_counter() and ("cl100k_base") warn once between them
def _load(encoding_name: str) -> TokenCounter:
    reason = _unavailable_reason(encoding_name)
    if reason is None:
        try:
            import tiktoken

            return TokenCounter(encoding_name, tiktoken.get_encoding(encoding_name))
        except Exception as error:  # tiktoken raises requests/HTTP/value errors alike
            reason = f"loading it failed: {type(error).__name__}"
            logger.debug("tiktoken.get_encoding(%r) failed", encoding_name, exc_info=True)
    logger.warning(
        "tiktoken encoding %s is not available (%s); counting tokens with the approximation %s. "
        "Put the encoding file in TIKTOKEN_CACHE_DIR to use tiktoken.",
        encoding_name,
        reason,
        APPROXIMATION,
    )
    return TokenCounter(APPROXIMATION)


def _unavailable_reason(encoding_name: str) -> str | None:
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return "tiktoken is not installed"
    if offline() and not _cached(encoding_name):
        return "offline and not in tiktoken's cache"
    return None


def _cached(encoding_name: str) -> bool:
    url = _ENCODING_URLS.get(encoding_name)
    if url is None:
        return False
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    cache_dir = cache_dir or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.exists(os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()))
