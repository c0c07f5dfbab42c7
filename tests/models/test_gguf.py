"""GGUF files as language models, and the CPU settings of the transformers writer: how a name
becomes a file, which errors a bad one gives (one line each), and how dtype and threads are
chosen. The real model is loaded in tests/answer/test_smollm2.py."""

from __future__ import annotations

import pytest

from rag.answer.llm import DEFAULT_THREADS, chosen_dtype, chosen_threads, load_llm
from rag.answer.prompting import GenerationSettings
from rag.answer.writers import EXTRACTIVE, Writer, open_writer, writer_name
from rag.errors import GenerationError, ModelLoadError
from rag.models.registry import PACKAGED_MODELS, PackagedModel, gguf_model, packaged_model_path, resolve_model


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_gguf_file_resolves_to_its_absolute_path_and_its_folder(tmp_path, monkeypatch):
    (tmp_path / "m.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("m.Q4_1.gguf", "language") == str(tmp_path / "m.Q4_1.gguf")
    assert gguf_model(str(tmp_path / "m.Q4_1.gguf")).file == "m.Q4_1.gguf"
    assert gguf_model(str(tmp_path)).folder == str(tmp_path)  # the folder's one GGUF file


def test_another_file_is_still_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"is a file; give the folder that holds the model \(or a .gguf file\)"):
        resolve_model(str(tmp_path / "weights.bin"), "language")


def test_a_saved_folder_or_a_hub_id_is_not_gguf(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "extra.gguf").write_bytes(b"GGUF")
    assert gguf_model(str(tmp_path)) is None  # save_pretrained's files win over a stray GGUF
    assert gguf_model("HuggingFaceTB/SmolLM2-135M-Instruct") is None


def test_a_folder_with_two_gguf_files_names_both(tmp_path):
    for name in ("m.Q8_0.gguf", "m.Q4_1.gguf"):
        (tmp_path / name).write_bytes(b"GGUF")
    with pytest.raises(ModelLoadError) as error:
        load_llm(str(tmp_path), device="cpu")
    assert one_line(error) == (
        f"The language model folder {tmp_path} holds 2 GGUF files (m.Q4_1.gguf, m.Q8_0.gguf); "
        "give the path of the one to use."
    )


def test_a_missing_gguf_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelLoadError) as error:
        load_llm(str(tmp_path / "nowhere.gguf"), device="cpu")
    assert one_line(error).startswith(f"The language model folder {str(tmp_path / 'nowhere.gguf')!r} does not exist.")


@pytest.mark.slow
def test_a_corrupt_gguf_file_is_a_one_line_error(tmp_path):
    pytest.importorskip("gguf", reason="transformers reads GGUF files with the gguf package (rag-seeds[local-llm])")
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(ModelLoadError) as error:
        load_llm(str(corrupt), device="cpu")
    assert one_line(error).startswith(f"The file {corrupt} does not hold a loadable language model (")
    assert "Give a GGUF file of an architecture transformers reads" in str(error.value)


def test_a_packaged_model_that_is_not_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(PACKAGED_MODELS, "nosuch", PackagedModel("no_such_package_xyz", "x.gguf", "pip install x"))
    with pytest.raises(ModelLoadError) as error:
        packaged_model_path("nosuch")
    assert one_line(error) == (
        "The language model 'nosuch' is the file x.gguf of the package no_such_package_xyz, which is not "
        "installed. Install it: pip install x (or pip install 'rag-seeds[local-llm]' and that)."
    )
    with pytest.raises(ModelLoadError, match="no_such_package_xyz, which is not installed"):
        resolve_model("NoSuch", "language")  # short names are case-blind


def test_dtype_and_threads_come_from_the_settings_then_the_environment(monkeypatch):
    monkeypatch.delenv("RAG_LLM_DTYPE", raising=False)
    monkeypatch.delenv("RAG_LLM_THREADS", raising=False)
    assert chosen_dtype(GenerationSettings()) == "auto"
    assert chosen_threads(GenerationSettings()) == DEFAULT_THREADS == 1
    monkeypatch.setenv("RAG_LLM_DTYPE", "float32")
    monkeypatch.setenv("RAG_LLM_THREADS", "2")
    assert chosen_dtype(GenerationSettings()) == "float32"
    assert chosen_threads(GenerationSettings()) == 2
    assert chosen_dtype(GenerationSettings(dtype="bfloat16")) == "bfloat16"
    assert chosen_threads(GenerationSettings(threads=3)) == 3


@pytest.mark.parametrize(
    ("settings", "environment", "message"),
    [
        (GenerationSettings(dtype="fp8"), {}, "Unknown dtype 'fp8' (from GenerationSettings.dtype); use one of auto"),
        (GenerationSettings(), {"RAG_LLM_DTYPE": "half"}, "Unknown dtype 'half' (from RAG_LLM_DTYPE)"),
        (GenerationSettings(threads=0), {}, "threads must be a whole number of at least 1, not 0"),
        (GenerationSettings(threads=1.5), {}, "not 1.5 (from GenerationSettings.threads)"),
        (GenerationSettings(), {"RAG_LLM_THREADS": "many"}, "not 'many' (from RAG_LLM_THREADS)"),
    ],
)
def test_bad_cpu_settings_are_errors_before_anything_loads(monkeypatch, settings, environment, message):
    for name in ("RAG_LLM_DTYPE", "RAG_LLM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(GenerationError) as error:
        load_llm("no/such-model-is-loaded", settings=settings)
    assert message in one_line(error)


def test_the_writer_seam_opens_nothing_without_a_model_and_the_transformers_writer_with_one(tiny_models):
    assert open_writer(None) is None and open_writer("  ") is None
    assert writer_name(None) == EXTRACTIVE == "extractive"
    writer = open_writer(f"transformers:{tiny_models.llm}", settings=GenerationSettings(dtype="float32", threads=2))
    assert isinstance(writer, Writer)
    assert writer.id == f"transformers:{tiny_models.llm}"
    assert writer_name(writer) == f"transformers:{tiny_models.llm} (transformers, float32, 2 threads)"
