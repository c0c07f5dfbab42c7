"""Shared fixtures. Every test runs offline: nothing may try the network."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.tiny_models import TinyModels, build_tiny_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
PROMPTS = Path(__file__).resolve().parent / "prompts"


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> Path:
    """An index of seeds/ built once per session; tests must not write to it."""
    from rag import Chatbot

    index_dir = tmp_path_factory.mktemp("seeds-index")
    Chatbot.from_folder(SEEDS, index_dir=index_dir)
    return index_dir


@pytest.fixture(scope="session")
def seeds_bot(seeds_index):
    from rag import Chatbot

    return Chatbot.from_index(seeds_index)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """Tiny random model folders for the neural path (tests/tiny_models.py), built once per
    session: building them takes seconds, and every test only reads them."""
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A private copy of seeds/ that a test may change."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    return folder


def load_prompts(name: str = "seeds.jsonl") -> list[dict]:
    with open(PROMPTS / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def benchmark(name: str):
    """A script from benchmarks/ as a module (they import each other by bare name)."""
    folder = str(ROOT / "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def remove_tree(root: Path) -> None:
    """Remove ``root`` and everything below it without recursing: ``shutil.rmtree`` (which
    pytest cleans its temporary folders with) recurses once per level, and a folder nested
    1,200 deep would end it, and every later cleanup, in RecursionError."""
    folders, pending = [], [root]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)
