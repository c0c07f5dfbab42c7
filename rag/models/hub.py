"""Whether the Hugging Face Hub can be reached, asked once per process, and loading without it.

Without a network, asking the Hub for a model name that is not in the local cache makes
huggingface_hub retry each file five times with back-off: 50 to 90 seconds and some thirty
"Retrying" lines before the one-line error. ``hub_reachable`` instead opens one TCP
connection to the Hub's host (``HF_ENDPOINT``, huggingface.co by default) with a short
timeout, in a thread so that a name lookup that hangs cannot hold it up, and remembers the
answer for the process. When the Hub cannot be reached, ``rag.models.registry`` loads inside
``hub_offline``: the cache alone is searched, as with ``HF_HUB_OFFLINE=1``, and an unknown
name fails at once.

Trade-offs: a proxy (``HTTPS_PROXY``, ``ALL_PROXY``) is trusted to reach the Hub, since a
direct connection says nothing about it; the answer is not asked again when the network comes
back during the process (``forget_hub_check`` asks again); and ``hub_offline`` switches
huggingface_hub's process-wide offline flag while a load runs, so another thread's download
started meanwhile searches the cache alone too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

CHECK_SECONDS = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")

_lock = threading.Lock()
_reachable: bool | None = None


def hub_reachable() -> bool:
    """Whether a connection to the Hub's host opens within ``CHECK_SECONDS``; asked once."""
    global _reachable
    with _lock:
        if _reachable is None:
            _reachable = _behind_proxy() or connects(*hub_address(), timeout=CHECK_SECONDS)
            if not _reachable:
                logger.info("the Hugging Face Hub cannot be reached: models load from the local cache only")
        return _reachable


def forget_hub_check() -> None:
    """Ask again at the next load (the network may have come back)."""
    global _reachable
    with _lock:
        _reachable = None


def hub_address() -> tuple[str, int]:
    """The host and port of ``HF_ENDPOINT`` (or huggingface.co)."""
    try:
        endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
        port = endpoint.port or (80 if endpoint.scheme == "http" else 443)  # .port raises on "x:abc"
    except ValueError:
        endpoint, port = urlsplit(DEFAULT_ENDPOINT), 443  # huggingface_hub will say what is wrong with it
    return endpoint.hostname or "huggingface.co", port


def connects(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds, name lookup
    included (it runs in a daemon thread, because ``getaddrinfo`` takes no timeout)."""
    opened: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError as error:
            logger.debug("no connection to %s:%s: %s", host, port, error)
            opened.append(False)

    thread = threading.Thread(target=attempt, name="hub-check", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened and opened[0])


def _behind_proxy() -> bool:
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


@contextmanager
def hub_offline() -> Iterator[None]:
    """huggingface_hub (and transformers, which asks it) in offline mode while the block runs."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
