"""The one way models load (``rag.models.registry``): names resolved, devices picked, errors
that say how to get the model, progress bars kept quiet, loaded models cached, and model
folders fingerprinted. Every kind of model goes through it, so each rule is tested once here
and once through the kind that shows it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from huggingface_hub import constants as hub_constants

from rag import Chatbot, RagError
from rag.cli import main
from rag.errors import ModelLoadError
from rag.models.devices import pick_device
from rag.models.embedding import load_embedder
from rag.models.quiet import quiet_loading
from rag.models.registry import (
    EMBEDDING,
    forget_loaded_models,
    load_model,
    model_fingerprint,
    resolve_model,
)
from rag.models.rerankers import load_reranker
from tests.tiny_models import SEEDS

# ----------------------------------------------------------------------------------------
# Naming and finding models


def test_an_existing_folder_resolves_to_its_absolute_path(tiny_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_models.embedder.parent)
    assert resolve_model("embedder", "embedding") == str(tiny_models.embedder)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2", "embedding") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


@pytest.mark.parametrize("name", ["./no-such-model", "/no/such/model", "~/no-such-model", "a/b/c"])
def test_a_missing_folder_is_a_model_load_error(name):
    with pytest.raises(ModelLoadError, match="folder .* does not exist"):
        resolve_model(name, "embedding")


def test_a_file_is_not_a_model_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is a file"):
        resolve_model(str(tmp_path / "model.bin"), "reranker")


def test_a_folder_without_a_model_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match=f"The folder {tmp_path} does not hold a loadable reranker model"):
        load_reranker(str(tmp_path))


def test_an_uncached_hub_model_offline_says_how_to_get_it():
    # conftest sets HF_HUB_OFFLINE=1: this looks in the cache only, never on the network.
    with pytest.raises(ModelLoadError) as caught:
        load_embedder("rag-seeds-tests/no-such-model")
    message = str(caught.value)
    assert "Cannot load the embedding model 'rag-seeds-tests/no-such-model'" in message
    assert "HF_HUB_OFFLINE is set" in message
    assert "`hf download rag-seeds-tests/no-such-model`" in message


@pytest.mark.parametrize("which", ["embedding_model", "reranker_model", "llm_model"])
def test_a_missing_model_folder_through_the_public_api_is_a_rag_error(tmp_path, which):
    missing = tmp_path / "missing-model"
    with pytest.raises(RagError, match=f"folder '{missing}' does not exist"):
        Chatbot.from_folder(SEEDS, index_dir=tmp_path / "index", **{which: str(missing)})


def test_the_cli_reports_a_missing_model_in_one_line(tmp_path):
    result = CliRunner().invoke(
        main, ["ask", "Who?", "--folder", str(SEEDS), "--index-dir", str(tmp_path), "--llm-model", "./gone"]
    )
    assert result.exit_code == 2
    assert "Error: The language model folder './gone' does not exist." in result.output
    assert "Traceback" not in result.output


def test_device_is_chosen_automatically_unless_set(monkeypatch):
    import torch

    monkeypatch.delenv("RAG_DEVICE", raising=False)
    assert pick_device() == ("cuda" if torch.cuda.is_available() else pick_device("cpu"))
    monkeypatch.setenv("RAG_DEVICE", "cpu")
    assert pick_device() == "cpu"


def test_loading_a_model_draws_no_progress_bar(tiny_models, capfd):
    from transformers.utils import logging as transformers_logging

    forget_loaded_models()
    capfd.readouterr()
    load_embedder(str(tiny_models.embedder), device="cpu")
    load_reranker(str(tiny_models.reranker), device="cpu")
    assert "Loading weights" not in capfd.readouterr().err
    # Other bars, such as those of an index being built, are drawn as before.
    list(transformers_logging.tqdm(range(3), desc="Embedding"))
    assert "Embedding: 100%" in capfd.readouterr().err


@pytest.mark.skipif(hub_constants.HF_HUB_DISABLE_PROGRESS_BARS is not None, reason="bars set by the environment")
@pytest.mark.parametrize("before", ["on", "off", "one group off"])
def test_quiet_loading_puts_the_progress_bar_settings_back(before):
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    group = "huggingface_hub.lfs_upload"
    try:
        if before == "off":
            transformers_logging.disable_progress_bar()
        elif before == "one group off":
            disable_progress_bars(group)
        settings = (transformers_logging.is_progress_bar_enabled(), are_progress_bars_disabled(group))
        with quiet_loading(), quiet_loading():  # nested, as when a load loads another model
            assert not transformers_logging.is_progress_bar_enabled()
            assert are_progress_bars_disabled(group) == settings[1]  # downloads show theirs, if they did
        assert (transformers_logging.is_progress_bar_enabled(), are_progress_bars_disabled(group)) == settings
        assert are_progress_bars_disabled() == (before == "off")
    finally:
        transformers_logging.enable_progress_bar()
        enable_progress_bars()


def test_importing_rag_loads_no_neural_library():
    code = "import sys, rag, rag.models.registry, rag.models.embedding, rag.models.rerankers, rag.answer.llm, rag.evaluation.nli, rag.doctor; print(sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_model_loads_once_until_the_loaded_models_are_forgotten(tiny_models):
    calls = []

    def build(path: str, device: str, size: int) -> tuple:
        calls.append((path, device, size))
        return (path, size)

    first = load_model(EMBEDDING, str(tiny_models.embedder), build, device="cpu", size=1)
    assert load_model(EMBEDDING, str(tiny_models.embedder), build, device="cpu", size=1).model is first.model
    assert first.path == str(tiny_models.embedder) and len(calls) == 1
    load_model(EMBEDDING, str(tiny_models.embedder), build, device="cpu", size=2)  # other options: another model
    assert len(calls) == 2
    forget_loaded_models()
    load_model(EMBEDDING, str(tiny_models.embedder), build, device="cpu", size=1)
    assert len(calls) == 3


def test_a_build_that_fails_is_a_model_load_error_naming_the_model(tmp_path):
    def broken(path: str, device: str):
        raise OSError("no config.json")

    with pytest.raises(ModelLoadError, match=f"The folder {tmp_path} does not hold a loadable embedding model"):
        load_model(EMBEDDING, str(tmp_path), broken, device="cpu")


# ----------------------------------------------------------------------------------------
# Fingerprints


def test_a_model_folder_has_the_same_fingerprint_wherever_it_is(tiny_models, tmp_path):
    copy = shutil.copytree(tiny_models.embedder, tmp_path / "elsewhere" / "minilm")
    assert model_fingerprint(copy) == model_fingerprint(tiny_models.embedder)
    # Neither the model card nor hidden files (what `hf download --local-dir` keeps) count ...
    (copy / "README.md").write_text("Notes of our own.", encoding="utf-8")
    (copy / ".cache").mkdir()
    (copy / ".cache" / "download.lock").write_text("x", encoding="utf-8")
    assert model_fingerprint(copy) == model_fingerprint(tiny_models.embedder)
    # ... any other file does.
    (copy / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}', encoding="utf-8")
    assert model_fingerprint(copy) != model_fingerprint(tiny_models.embedder)
    assert model_fingerprint(tmp_path / "no-such-folder") is None


def test_a_big_weight_file_is_fingerprinted_by_its_size_and_ends(tmp_path):
    weights = tmp_path / "model.safetensors"
    data = bytearray(range(256)) * (3 * 4096)  # 3 MiB: read by its ends only
    weights.write_bytes(data)
    first = model_fingerprint(tmp_path)
    for position in (10, len(data) - 10):  # the header and the last tensor
        changed = bytearray(data)
        changed[position] ^= 1
        weights.write_bytes(changed)
        assert model_fingerprint(tmp_path) != first
    weights.write_bytes(data + b"\0")
    assert model_fingerprint(tmp_path) != first
    weights.write_bytes(data)
    assert model_fingerprint(tmp_path) == first


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_an_unknown_device_is_named_as_such_with_the_valid_ones(source, monkeypatch, tiny_models):
    monkeypatch.delenv("RAG_DEVICE", raising=False)
    if source == "environment":
        monkeypatch.setenv("RAG_DEVICE", "tpu")
    device = "tpu" if source == "argument" else None
    where = "device" if source == "argument" else "RAG_DEVICE"
    with pytest.raises(
        ModelLoadError, match=rf"Unknown device 'tpu' \(from {where}\)\. Use one of cpu, cuda, mps"
    ) as caught:
        load_reranker(str(tiny_models.reranker), device=device)
    assert "folder" not in str(caught.value)  # the model folder is fine: the device is not


def test_known_devices_pass_with_or_without_a_number(monkeypatch):
    import torch

    monkeypatch.delenv("RAG_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA name is checked against the machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [pick_device(d) for d in ("cpu", "CUDA", "cuda:1", " mps ")] == ["cpu", "cuda", "cuda:1", "mps"]
    with pytest.raises(ModelLoadError, match="Unknown device 'cuda:x'"):
        pick_device("cuda:x")


def test_the_transformers_load_report_is_hidden_while_a_model_loads_and_only_then():
    import logging

    from rag.models.quiet import LOAD_REPORT_LOGGER, load_report_hidden

    seen = []

    class Recording(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    target = logging.getLogger(LOAD_REPORT_LOGGER)
    handler = Recording(level=logging.WARNING)
    target.addHandler(handler)
    try:
        with load_report_hidden(), load_report_hidden():
            target.warning("BertModel LOAD REPORT from: x\nkey | status\nbias | MISSING")
            target.warning("another warning")
        target.warning("BertModel LOAD REPORT from: y")
    finally:
        target.removeHandler(handler)
    assert seen == ["another warning", "BertModel LOAD REPORT from: y"]


@pytest.mark.parametrize("name", ["a" * 300, "org/" + "m" * 300])
def test_a_model_name_too_long_for_a_path_is_neither_folder_nor_hub_id(name):
    with pytest.raises(ModelLoadError, match=r"has a name of 300 bytes; .*, so it is neither a folder nor a Hugging"):
        resolve_model(name, "embedding")
