"""Without a network, a Hugging Face id that is not cached fails at once, in one line: the Hub is
asked once per process whether it can be reached (``rag.models.hub``), and loads search the
cache alone when it cannot. No test here touches the network: the check's answer is simulated."""

from __future__ import annotations

import socket

import pytest
from huggingface_hub import constants

from rag.errors import ModelLoadError
from rag.models import hub
from rag.models.registry import EMBEDDING, load_model


@pytest.fixture
def networked(monkeypatch):
    """As if neither HF_HUB_OFFLINE nor a proxy were set, with no answer remembered yet."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name in hub.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub.forget_hub_check()
    yield
    hub.forget_hub_check()


def offline_while_building(seen: list[bool]):
    def build(path, device):
        seen.append(constants.is_offline_mode())
        raise OSError(f"{path} is not a local folder and is not a valid model identifier")

    return build


def test_without_the_hub_a_hugging_face_id_loads_from_the_cache_alone_and_says_why(networked, monkeypatch):
    monkeypatch.setattr(hub, "connects", lambda host, port, timeout: False)
    seen: list[bool] = []
    with pytest.raises(ModelLoadError, match=r"huggingface.co cannot be reached \(no network\?\)") as caught:
        load_model(EMBEDDING, "org/not-cached-anywhere", offline_while_building(seen), device="cpu")
    assert seen == [True]  # the library was told not to try the network
    assert constants.HF_HUB_OFFLINE is False  # and put back afterwards
    assert "\n" not in str(caught.value)


def test_with_the_hub_reachable_the_library_may_download(networked, monkeypatch):
    monkeypatch.setattr(hub, "connects", lambda host, port, timeout: True)
    seen: list[bool] = []
    with pytest.raises(ModelLoadError, match="could not be downloaded"):
        load_model(EMBEDDING, "org/also-not-cached", offline_while_building(seen), device="cpu")
    assert seen == [False]


def test_the_hub_is_asked_once_per_process_and_at_its_endpoint(networked, monkeypatch):
    asked = []
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.example:8080")
    monkeypatch.setattr(hub, "connects", lambda host, port, timeout: asked.append((host, port)) or False)
    assert [hub.hub_reachable(), hub.hub_reachable()] == [False, False]
    assert asked == [("hub.example", 8080)]


def test_a_proxy_is_trusted_to_reach_the_hub(networked, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setattr(hub, "connects", lambda host, port, timeout: pytest.fail("no check behind a proxy"))
    assert hub.hub_reachable() is True


def test_connects_is_false_when_the_connection_fails_and_true_when_it_opens(monkeypatch):
    def refused(address, timeout):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(socket, "create_connection", refused)
    assert hub.connects("huggingface.co", 443, timeout=1) is False

    class Opened:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Opened())
    assert hub.connects("huggingface.co", 443, timeout=1) is True


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ("", ("huggingface.co", 443)),
        ("https://hf-mirror.example", ("hf-mirror.example", 443)),
        ("http://[::1]:x", ("huggingface.co", 443)),
    ],
)
def test_the_hub_address_comes_from_hf_endpoint_and_a_malformed_one_is_no_traceback(monkeypatch, endpoint, address):
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    assert hub.hub_address() == address
