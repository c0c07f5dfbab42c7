"""``rag``: the command line, a thin click layer over ``Chatbot``.

Errors a user can cause (``RagError``) print one line on stderr and exit with status 2.
Heavy modules are imported inside the commands, so ``rag --help`` is instant.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys

import click

from rag.cli_format import answer_as_json, format_answer, source_lines
from rag.cli_options import model_options
from rag.cli_usage import OneLineGroup, error_line, user_errors
from rag.errors import IndexCorruptError, RagError
from rag.settings import Settings
from rag.store.location import checked_store
from rag.validation import checked_folder, checked_index_dir, escaped, shown_path

DEFAULT_FOLDER = "seeds"
DEFAULT_INDEX = "index"
STORE_HELP = "Where the index is, in place of --index-dir: a folder, qdrant:PATH or qdrant://HOST:PORT[/COLLECTION]."
FOLDER_HELP = (
    "Index this folder first (only what changed). Default: the existing index as it is, "
    f"or {DEFAULT_FOLDER}/ when there is no index yet."
)


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what each step does.")
def main(verbose: bool) -> None:
    """Ask questions about a folder of articles; every answer cites its sources."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _store_option(command):
    """``--store``: where the index is, in place of ``--index-dir`` (a folder, qdrant:PATH, or
    qdrant://HOST:PORT[/COLLECTION]); the commands see it as their ``index_dir``."""

    @click.option("--store", default=None, envvar="RAG_STORE", help=STORE_HELP)
    @functools.wraps(command)
    def with_store(*args, store, **kwargs):
        if store is not None:
            kwargs["index_dir"] = store
        return command(*args, **kwargs)

    return with_store


def _has_index(index_dir: str) -> bool:
    from rag.store.location import is_store_url, store_manifest
    from rag.store.manifest import has_manifest

    if is_store_url(index_dir):
        return store_manifest(index_dir) is not None
    return has_manifest(checked_index_dir(index_dir))


def _open_bot(index_dir: str, folder: str | None, settings):
    from rag.chatbot import open_chatbot

    return open_chatbot(index_dir, folder, settings=settings)


def _folder_to_index(index_dir: str, folder: str | None) -> str | None:
    """The folder to index before a session: the one asked for; else none when the index
    exists (it is opened as it is, never refilled from another folder); else the seeds, saying so."""
    from pathlib import Path

    if folder is not None or _has_index(index_dir):
        return folder
    if not Path(DEFAULT_FOLDER).is_dir():
        raise RagError(
            f"No index at {shown_path(index_dir)}. Build one with `rag index FOLDER --index-dir {shown_path(index_dir)}`, "
            "or pass --folder FOLDER."
        )
    # Said on stderr, so that `rag ask --json` output stays JSON: a mistyped --index-dir
    # should not pass for the index the user meant.
    click.echo(f"No index at {shown_path(index_dir)}: building one from {DEFAULT_FOLDER}/ first.", err=True)
    return DEFAULT_FOLDER


@main.command("index")
@click.argument("folder", default=None, required=False, type=click.Path())
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@click.option("--rebuild", is_flag=True, help="Start from nothing (needed after changing the embedder).")
@click.option(
    "--embedding-model",
    default=None,
    envvar="RAG_EMBEDDING_MODEL",
    help="Sentence-transformers model (HF id or folder).",
)
@user_errors
def index_command(folder: str | None, index_dir: str, rebuild: bool, embedding_model: str | None) -> None:
    """Index the text files in FOLDER; only changed files are re-read.

    Without FOLDER: the folder the index was built from, or seeds/ for a new index."""
    from rag.ingest.loading import read_folder
    from rag.ingest.pipeline import index_documents

    checked_store(index_dir)  # "" would index into the working directory
    Settings(embedding_model=embedding_model)  # checks the model name and the device (RAG_DEVICE)
    folder = folder if folder is not None else _indexed_folder(index_dir)
    contents = read_folder(checked_folder(folder))
    _, _, report = index_documents(
        contents.documents,
        index_dir,
        embedding_model=embedding_model,
        rebuild=rebuild,
        progress=True,
        source=folder,
        keep=contents.unreadable,
    )
    click.echo(f"Indexed {shown_path(folder)} into {shown_path(index_dir)}: {report}.")


def _indexed_folder(index_dir: str) -> str:
    """The folder the index in ``index_dir`` was built from; seeds/ when there is no index yet."""
    from pathlib import Path

    from rag.store.location import is_store_url, store_manifest
    from rag.store.manifest import read_manifest

    try:
        built = store_manifest(index_dir) if is_store_url(index_dir) else read_manifest(Path(index_dir))
    except IndexCorruptError as error:
        # The folder is recorded only in the manifest: seeds/ in its place would quietly
        # replace the documents of whatever folder the index was built from.
        raise RagError(
            f"The index in {shown_path(index_dir)} is damaged ({error.detail}), so the folder it was built from is not "
            f"known. Give the folder to index: `rag index FOLDER --index-dir {shown_path(index_dir)} --rebuild`."
        ) from error
    if built is None:
        return DEFAULT_FOLDER
    if built.source is None:
        # Built with Chatbot.from_documents, or before the folder was recorded: seeds/ in its
        # place would quietly replace its documents.
        raise RagError(
            f"The index in {shown_path(index_dir)} does not record the folder it was built from (it was built from "
            "documents given in Python, or by an earlier version). "
            f"Give the folder to index: `rag index FOLDER --index-dir {shown_path(index_dir)}`."
        )
    if not Path(built.source).is_dir():
        raise RagError(
            f"The index in {shown_path(index_dir)} was built from {shown_path(built.source)}, which is no longer there. "
            f"Name the folder to index: `rag index FOLDER --index-dir {shown_path(index_dir)}`."
        )
    return _as_typed(built.source)


def _as_typed(folder: str) -> str:
    """A recorded (absolute) folder as a person would type it here: relative to the working
    directory when it is inside it ("seeds", not "/home/ann/rag/seeds")."""
    from pathlib import Path

    try:
        return str(Path(folder).relative_to(Path.cwd().resolve()))
    except ValueError:
        return folder


@main.command("ask")
@click.argument("question")
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@click.option("--folder", default=None, type=click.Path(), help=FOLDER_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@model_options
@user_errors
def ask_command(question, index_dir, folder, as_json, settings) -> None:
    """Answer QUESTION from the index, with citations."""
    bot = _open_bot(index_dir, _folder_to_index(index_dir, folder), settings)
    answer = bot.ask(question)
    if as_json:
        click.echo(json.dumps(answer_as_json(answer, bot.index.document_text), indent=2, ensure_ascii=False))
    else:
        click.echo(format_answer(answer, bot.title, bot.index.document_text))


@main.command("chat")
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@click.option("--folder", default=None, type=click.Path(), help=FOLDER_HELP)
@model_options
@user_errors
def chat_command(index_dir, folder, settings) -> None:
    """Chat in the terminal; follow-up questions keep the conversation. Ctrl-D or 'exit' quits."""
    folder = _folder_to_index(index_dir, folder)
    bot = _open_bot(index_dir, folder, settings)
    click.echo(
        f"Ask about the {len(bot.chunk_counts)} documents in {shown_path(folder or index_dir)}. Ctrl-D or 'exit' to quit."
    )
    history: list[dict] = []
    _read_undecodable_bytes_as_text()
    while True:
        try:
            question = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not sys.stdin.isatty():  # piped questions are not echoed by a terminal: show each one
            click.echo(_echoed(question))
        if question.strip().lower() in {"exit", "quit", ":q"}:
            return
        if not question.strip():
            continue
        try:
            stream = bot.stream(question, history=history)
            click.echo("bot> ", nl=False)
            streamed = []
            for piece in stream:
                streamed.append(piece)
                click.echo(piece, nl=False)
            answer = stream.answer
            # The sources follow the streamed text; the whole answer is printed again only when
            # it is not what was streamed (a model's answer that failed its citation check).
            same = "".join(streamed).strip() == answer.text.strip()
            texts = bot.index.document_text
            shown = source_lines(answer, bot.title, texts) if same else [format_answer(answer, bot.title, texts)]
            click.echo("\n" + "\n".join(shown))
        except RagError as error:
            click.echo(error_line(error), err=True)
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


ECHO_CHARS = 200


def _read_undecodable_bytes_as_text() -> None:
    """Bytes on stdin that are not UTF-8 read as escapes (``surrogateescape``), not as a
    UnicodeDecodeError that would end the chat: the question check then refuses that one
    line, and the chat goes on."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        # A stream that cannot change how it decodes is kept as it is.
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="surrogateescape")


def _echoed(question: str) -> str:
    """A piped question as shown back: whole, unless it is long enough to bury the answer."""
    if len(question) <= ECHO_CHARS:
        return escaped(question)  # undecodable bytes, a newline: shown as escapes, on one line
    return f"{escaped(question[:ECHO_CHARS])}… ({len(question):,} characters)"


@main.command("ui")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes it to the network."
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--folder", default=None, type=click.Path(), help=FOLDER_HELP)
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@click.option("--auth", default=None, envvar="RAG_UI_AUTH", help="user:password for a sign-in page (or RAG_UI_AUTH).")
@model_options
@user_errors
def ui_command(host, port, folder, index_dir, auth, settings) -> None:
    """Start the chat page (Gradio) on the folder's index."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise RagError("The chat page needs gradio: pip install 'rag-seeds[ui]'.")
    from rag_seeds_ui.app import launch

    launch(
        folder=_folder_to_index(index_dir, folder),
        index_dir=index_dir,
        host=host,
        port=port,
        auth=auth,
        settings=settings,
    )


@main.command("eval")
@click.argument("prompts", type=click.Path())
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@click.option("--folder", default=None, type=click.Path(), help=FOLDER_HELP)
@click.option("--json", "json_out", default=None, type=click.Path(), help="Write the full results as JSON here.")
@click.option("--report", default=None, type=click.Path(), help="Write a report (.html or .md) here.")
@click.option(
    "--judge-model",
    default=None,
    envvar="RAG_JUDGE_MODEL",
    help="NLI cross-encoder (HF id or folder) that judges support; default: the lexical judge.",
)
@model_options
@user_errors
def eval_command(prompts, index_dir, folder, json_out, report, judge_model, settings) -> None:
    """Measure answers against a PROMPTS.jsonl file of test prompts."""
    from rag.evaluation.run import load_judge, run_eval_command

    judge = load_judge(judge_model) if judge_model else None
    bot = _open_bot(index_dir, _folder_to_index(index_dir, folder), settings)
    run_eval_command(bot, prompts, json_out=json_out, report=report, judge=judge)


@main.command("doctor")
@_store_option
@click.option("--index-dir", default=DEFAULT_INDEX, show_default=True, type=click.Path())
@model_options
@user_errors
def doctor_command(index_dir, settings) -> None:
    """Show which backends are active, and why. Exits 1 when a model asked for does not load, the
    index is damaged, or it was built with another embedder than `rag ask` would use with these
    options, so a script can tell."""
    from rag.doctor import diagnose, failed

    checks = diagnose(index_dir, settings)
    for check in checks:
        mark = "ok " if check.ok else "-- "
        click.echo(f"{mark} {check.name:<14} {check.detail}")
    if failed(checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
