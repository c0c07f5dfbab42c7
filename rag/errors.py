"""Errors a user can cause. Every message says what to do next.

The CLI prints ``str(error)`` on one line and exits with status 2, so messages are written
for a person at a terminal, not for a developer reading a traceback.
"""

from __future__ import annotations

from rag.shown import shown_path


class RagError(Exception):
    """Base class for every error a user can cause or fix."""


class InvalidQuestionError(RagError):
    """The question is empty, blank or otherwise unusable."""


class DocumentsError(RagError):
    """The documents folder is missing, unreadable or holds nothing to index."""


class IndexLocationError(RagError):
    """The index folder is a file, or cannot be created or written."""


class IndexCorruptError(RagError):
    """An index file is missing, truncated or unreadable.

    ``detail`` says what is wrong apart from the advice to rebuild, so that a caller that
    rebuilds the index anyway can report what happened without telling the user to do it."""

    def __init__(self, folder: object, detail: object) -> None:
        super().__init__(folder, detail)  # both, so that the error still pickles and copies
        self.folder = folder
        self.detail = detail

    def __str__(self) -> str:
        return (
            f"The index in {shown_path(self.folder)} is damaged ({self.detail}). Rebuild it with "
            f"`rag index FOLDER --index-dir {shown_path(self.folder)} --rebuild`."
        )


class IndexMismatchError(RagError):
    """The index was built with different settings (embedder, chunker) than requested."""


class ModelLoadError(RagError):
    """A configured model could not be loaded."""


class GenerationError(RagError):
    """The language model could not write an answer (out of memory, too short a context)."""


class PromptsFileError(RagError):
    """A test-prompts file is missing or has a malformed line."""


class ReportError(RagError):
    """An evaluation report or results file cannot be written where asked."""


class IndexWriteError(IndexLocationError):
    """Writing the index failed part-way (a full disk, an I/O error): the previous index is
    intact and the new generation's temporary files are removed. The message says how much
    space the new index needs (an estimate) and where."""
