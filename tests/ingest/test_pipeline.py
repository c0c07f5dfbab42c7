"""Indexing documents: chunked and embedded in batches with progress, with the token counter
the index was built with."""

import json

from rag import Chatbot, Document
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.pipeline import IndexSettings, index_documents, update_index
from rag.ingest.tokens import APPROXIMATION, TokenCounter
from rag.store.manifest import MANIFEST
from tests.store.sample_index import DOCS, CountingEmbedder


class _WordEncoding:
    """Stands in for a tiktoken encoding that became available after the index was built."""

    def encode(self, text, disallowed_special=()):
        return text.split()


def test_an_index_keeps_the_token_counter_it_was_built_with_until_a_rebuild(tmp_path, monkeypatch):
    import rag.ingest.pipeline

    # built where no tiktoken encoding could be had: the approximation
    monkeypatch.setattr(rag.ingest.pipeline, "load_token_counter", lambda name: TokenCounter(APPROXIMATION))
    Chatbot.from_documents(DOCS, tmp_path)
    monkeypatch.setattr(rag.ingest.pipeline, "load_token_counter", lambda name: TokenCounter(name, _WordEncoding()))
    changed = [*DOCS[:2], Document(id="c.txt", text="Cherries are small stone fruits. Birds eat them.")]

    index, _, report = index_documents(changed, tmp_path)
    index.close()

    assert str(report) == "0 added, 1 changed, 0 removed, 2 unchanged"
    assert json.loads((tmp_path / MANIFEST).read_text())["chunker"]["tokenizer"] == APPROXIMATION
    Chatbot.from_documents(changed, tmp_path, rebuild=True)
    assert json.loads((tmp_path / MANIFEST).read_text())["chunker"]["tokenizer"] == "cl100k_base"


def test_a_large_document_is_embedded_in_batches_with_progress_in_characters(tmp_path, monkeypatch, capsys):
    import rag.ingest.pipeline

    class BatchRecorder(CountingEmbedder):
        def __init__(self):
            super().__init__()
            self.batches = []

        def embed_documents(self, texts):
            self.batches.append(len(texts))
            return super().embed_documents(texts)

    monkeypatch.setattr(rag.ingest.pipeline, "EMBED_BATCH", 4)
    big = Document(id="big.txt", text=" ".join(f"Sentence number {n} says something new." for n in range(200)))
    embedder = BatchRecorder()
    update_index(
        tmp_path, [big], IndexSettings(embedder, TokenCounter(APPROXIMATION), ChunkerSettings(64, 8)), progress=True
    )

    chunks = json.loads((tmp_path / MANIFEST).read_text())["documents"]["big.txt"]["chunks"]
    assert chunks > 8 and sum(embedder.batches) == chunks
    assert set(embedder.batches[:-1]) == {4}  # the one document is embedded four chunks at a time
    bar = capsys.readouterr().err.split("\r")[-1]
    assert f"{len(big.text) / 1000:.2f}k/{len(big.text) / 1000:.2f}k" in bar and "1/1 documents" in bar
