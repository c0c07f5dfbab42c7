"""The chat page: a Gradio app over one ``Chatbot``.

A thin layer: questions go to ``Chatbot.stream`` with the conversation so far, uploads are
stored by ``rag.ingest.uploads`` and indexed by ``Chatbot.refresh``, and ``rag_seeds_ui.render``
turns the records into escaped HTML. No retrieval or answer logic lives here: this module lays
the page out and serves it; ``rag_seeds_ui.chat`` holds the handlers.

Safe by default: binds 127.0.0.1, optional login with failed sign-ins throttled
(``rag_seeds_ui.login``), the queue on, no external fonts (the page works offline), errors
reach the page as a sentence and the server log as a traceback. Gradio's upload route takes
files up to ``UPLOAD_ROUTE_FACTOR`` times the largest upload limit, so a file somewhat too
large reaches the handler and is refused by name in the page's notice while the rest of the
batch is added; beyond that Gradio refuses the batch itself. Its temporary copies are deleted
by the handler once used, and the ones never used (posted to the route directly, or chosen
and never added) are swept after ``UPLOAD_MAX_AGE_S``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from rag import RagError
from rag.chatbot import open_chatbot
from rag.ingest.uploads import DEFAULT_MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, largest_upload_limit, upload_limit
from rag.settings import Settings

from . import render
from .chat import MAX_PASSAGES, ChatApp, Conversation
from .documents import SOURCES_JS, VIEW_JS, DocumentReader, placeholder
from .login import LoginThrottle

logger = logging.getLogger(__name__)

QUEUE_CONCURRENCY = 8
QUEUE_MAX_SIZE = 256
# Questions answered at once, all ways of asking together (the "ask" concurrency group).
ASK_CONCURRENCY = 8
# Ten times the largest limit (a PDF's 20 MB): a file over its own limit but under this reaches
# the handler, which refuses it by name from its size on disk, before reading it, and adds the
# rest of the batch; Gradio refuses a larger one for the whole batch. Gradio streams an upload
# to a temporary file, so this bounds disk, not memory.
UPLOAD_ROUTE_FACTOR = 10
# Every UPLOAD_SWEEP_S, Gradio deletes the temporary upload copies older than UPLOAD_MAX_AGE_S
# (and all of them when the server stops): long enough to choose files and click Add.
UPLOAD_SWEEP_S = 600
UPLOAD_MAX_AGE_S = 3600


CSS = """
.status-line { font-size: 0.9em; opacity: 0.8; }
.msg .cite { text-decoration: none; font-weight: 600; font-size: 0.85em; vertical-align: super;
  padding: 0 0.15em; border-radius: 4px; background: var(--color-accent-soft); cursor: help; }
.msg.abstained .tag, .msg.error .tag { display: inline-block; font-size: 0.8em; font-weight: 600;
  padding: 0.05em 0.5em; margin-right: 0.5em; border-radius: 4px; }
.msg.abstained .tag { background: #fde68a; color: #78350f; }
.msg.error .tag { background: #fecaca; color: #7f1d1d; }
.msg .note { font-size: 0.85em; opacity: 0.8; margin-top: 0.4em; }
.msg .searching { opacity: 0.7; font-style: italic; }
.msg .cursor { opacity: 0.6; }
.sources { font-size: 0.92em; }
.sources-title { font-weight: 700; font-size: 1.05em; margin-bottom: 0.4em; }
.sources-empty { opacity: 0.75; padding: 0.5em 0; }
.source-file { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
  margin-bottom: 0.7em; }
.source-title { font-weight: 600; line-height: 1.3; }
.source-name { font-weight: 600; font-family: var(--font-mono); word-break: break-all; }
.source-title + .source-name { font-weight: 400; font-size: 0.85em; opacity: 0.75; }
.source-lines, .passage-lines { font-size: 0.85em; opacity: 0.75; }
.passage { margin-top: 0.5em; scroll-margin-top: 1em; }
.passage .badge { font-weight: 700; margin-right: 0.4em; }
.passage-text { line-height: 1.45; margin-top: 0.2em; }
.passage-text mark { background: #fde047; color: #1c1917; padding: 0 0.1em; border-radius: 2px; }
.passage.closest { opacity: 0.8; }
.backend { font-size: 0.8em; opacity: 0.7; margin-top: 0.3em; }
.documents table, .checks table { width: 100%; border-collapse: collapse; }
.documents td, .documents th, .checks td { padding: 0.3em 0.6em; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; }
.documents .num { text-align: right; font-variant-numeric: tabular-nums; }
.documents tfoot td { font-weight: 600; }
.checks tr.bad td { color: #b91c1c; }
.source-byline { font-size: 0.85em; opacity: 0.75; }
.open-doc { font-size: 0.85em; margin-left: 0.4em; }
.document-view .doc-note { font-size: 0.9em; margin: 0.4em 0; padding: 0.3em 0.6em; border-radius: 6px;
  background: var(--color-accent-soft); }
.doc-text { max-height: 34em; overflow-y: auto; margin-top: 0.5em; padding: 0.4em 0.6em;
  border: 1px solid var(--border-color-primary); border-radius: 8px; }
.doc-page + .doc-page { border-top: 1px dashed var(--border-color-primary); margin-top: 0.6em; padding-top: 0.4em; }
.page-number { font-size: 0.8em; font-weight: 700; opacity: 0.7; margin-bottom: 0.3em; }
.doc-line { display: flex; gap: 0.8em; line-height: 1.45; min-height: 1.45em; }
.doc-line .ln { flex: 0 0 2.5em; text-align: right; opacity: 0.5; font-variant-numeric: tabular-nums;
  user-select: none; }
.doc-line .lt { white-space: pre-wrap; overflow-wrap: anywhere; }
.doc-line mark.cited { background: #fde047; color: #1c1917; border-radius: 2px; }
.notice { padding: 0.5em 0.8em; border-radius: 6px; }
.notice.ok { background: #dcfce7; color: #14532d; }
.notice.bad { background: #fee2e2; color: #7f1d1d; }
"""

# System fonts only: the default theme fetches Google Fonts, which an offline machine cannot.
THEME_FONTS = {
    "font": ["ui-sans-serif", "system-ui", "sans-serif"],
    "font_mono": ["ui-monospace", "monospace"],
}


def build(
    app: ChatApp,
    *,
    delete_cache: tuple[int, int] = (UPLOAD_SWEEP_S, UPLOAD_MAX_AGE_S),
    ask_concurrency: int = ASK_CONCURRENCY,
) -> gr.Blocks:
    """The page, with its handlers wired to ``app``; ``delete_cache``: (every, older than)
    seconds, Gradio's sweep of the temporary upload copies nobody used; ``ask_concurrency``:
    questions answered at once, the others queued."""
    reader = DocumentReader(app)
    formats = render.upload_formats({s: upload_limit(s, app.max_upload_bytes) for s in UPLOAD_SUFFIXES})
    with gr.Blocks(title="Ask the documents", analytics_enabled=False, delete_cache=delete_cache) as demo:
        gr.Markdown(
            "## Ask the documents\nEvery answer cites the passages it comes from; hover a marker to see its source."
        )
        status = gr.HTML(app.status(), elem_id="status")
        conversation = gr.State(Conversation())
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        elem_id="chat",
                        label="Conversation",
                        show_label=False,  # the label floats over the first message once it scrolls
                        height=520,
                        latex_delimiters=[],
                        allow_tags=False,
                        feedback_options=None,
                        buttons=[],  # Gradio's default "share" posts to Hugging Face: nothing to do offline
                        placeholder="Ask a question about the documents. Follow-up questions keep the conversation.",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            elem_id="question",
                            show_label=False,
                            placeholder="Ask a question, then press Enter",
                            max_lines=4,
                            scale=5,
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                    with gr.Row():
                        clear = gr.Button("New conversation", size="sm", elem_id="clear")
                    examples = app.examples()
                    shown = (
                        gr.Examples(examples=examples, inputs=question, label="Example questions on the seeds")
                        if examples
                        else None
                    )
                with gr.Column(scale=2):
                    sources = gr.HTML(render.sources_placeholder(), elem_id="sources", js_on_load=SOURCES_JS)
            with gr.Tab("Documents", id="documents"):
                chosen = gr.Dropdown(
                    choices=reader.choices(), value=None, label="Read a document", elem_id="read-document"
                )
                view = gr.HTML(placeholder(), elem_id="document-view", js_on_load=VIEW_JS)
                documents = gr.HTML(app.documents(), elem_id="documents")
                files = gr.File(
                    label=f"Choose files ({formats}), then click Add to index",
                    file_count="multiple",
                    # No file_types: Gradio would refuse other files with a toast that closes
                    # by itself; accepted here, each is refused in the notice with the reason.
                    elem_id="upload",
                )
                with gr.Row():
                    add = gr.Button("Add to index", variant="primary", elem_id="add")
                    refresh = gr.Button("Re-index folder", elem_id="reindex")
                upload_notice = gr.HTML("", elem_id="upload-notice")
                with gr.Row(equal_height=True):
                    removable = gr.Dropdown(
                        choices=app.removable(),
                        value=None,
                        label="Documents uploaded through this page (the folder's own files are changed on disk)",
                        elem_id="removable",
                        scale=4,
                    )
                    remove = gr.Button("Remove from index", variant="stop", elem_id="remove", scale=1)
            with gr.Tab("Settings", id="settings"):
                passages = gr.Slider(
                    1,
                    MAX_PASSAGES,
                    value=app.bot.top_k,
                    step=1,
                    label="Passages to retrieve per question",
                    info="More passages give the answer more to choose from; fewer keep it focused.",
                    elem_id="passages",
                )
                gr.Markdown("### Backends (read-only)")
                checks = gr.HTML(app.checks(), elem_id="checks")
                recheck = gr.Button("Check again", size="sm")

        ask_inputs = [question, passages, conversation]
        ask_outputs = [question, chat, sources, conversation]
        # One limit for every way of asking; indexing has its own ("index"), one at a time.
        asking = {"concurrency_limit": ask_concurrency, "concurrency_id": "ask", "show_progress": "hidden"}
        question.submit(app.ask, ask_inputs, ask_outputs, api_name="ask", **asking)
        send.click(app.ask, ask_inputs, ask_outputs, api_visibility="private", **asking)
        if shown is not None:  # clicking an example asks it, as typing it and pressing Enter would
            shown.load_input_event.then(app.ask, ask_inputs, ask_outputs, api_visibility="private", **asking)
        clear.click(app.clear, None, ask_outputs, api_visibility="private")
        chat.clear(app.clear, None, ask_outputs, api_visibility="private")
        # One progress bar, over the documents table, not one on each output; one change to the
        # index at a time, while questions go on being answered from the index as it was.
        index_outputs = {
            "outputs": [upload_notice, documents, status],
            "show_progress_on": documents,
            "concurrency_id": "index",
            "concurrency_limit": 1,
        }
        uploads_list = {"fn": lambda: gr.update(choices=app.removable(), value=None), "inputs": None}
        readable = {"fn": lambda: gr.update(choices=reader.choices()), "inputs": None, "outputs": chosen}
        add.click(app.upload, files, **index_outputs, api_name="upload").then(
            lambda: None, None, files, api_visibility="private"
        ).then(**uploads_list, outputs=removable, api_visibility="private").then(
            app.checks, None, checks, api_visibility="private"
        ).then(**readable, api_visibility="private")
        remove.click(app.remove, removable, **index_outputs, api_name="remove").then(
            **uploads_list, outputs=removable, api_visibility="private"
        ).then(**readable, api_visibility="private")
        refresh.click(app.reindex, None, **index_outputs, api_name="reindex").then(
            app.checks, None, checks, api_visibility="private"
        ).then(**readable, api_visibility="private")
        # ``input``, not ``change``: opening a cited passage sets the list too, and must keep its highlight.
        chosen.input(reader.open, chosen, view, api_name="read_document")
        sources.click(reader.open_cited, conversation, [view, chosen, tabs], api_visibility="private")
        recheck.click(app.checks, None, checks, api_visibility="private")
        demo.load(
            lambda: (
                app.documents(),
                app.status(),
                app.checks(),
                gr.update(choices=app.removable(), value=None),
                gr.update(choices=reader.choices()),
            ),
            None,
            [documents, status, checks, removable, chosen],
            api_visibility="private",
            show_progress="hidden",
        )
    if app.upload_dir is None:  # the handler deletes Gradio's copies of the files it is given
        app.upload_dir = Path(demo.GRADIO_CACHE)
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"user:password"`` as a pair; None when no login is wanted."""
    if not auth:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or not password:
        raise RagError("--auth (or RAG_UI_AUTH) must look like user:password, with both parts non-empty.")
    return user, password


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: an IPv6 address in brackets (``[::1]``)."""
    bare = host.strip().strip("[]")
    try:
        return f"[{bare}]" if ipaddress.ip_address(bare).version == 6 else bare
    except ValueError:
        return host.strip()


def theme() -> gr.themes.Base:
    return gr.themes.Default(**THEME_FONTS)


def serve(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: tuple[str, str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    block: bool = True,
):
    """Start the server with the queue on; returns the app's URL when ``block`` is False.

    Gradio's upload route takes files up to ``UPLOAD_ROUTE_FACTOR`` times the largest upload
    limit: a file over its own limit but under that reaches the handler, which refuses it by
    name while adding the rest of the batch (Gradio would drop the whole batch)."""
    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    try:
        with _quiet_bind_errors():
            _, url, _ = demo.launch(
                server_name=url_host(host),  # Gradio puts it in URLs as given, and unbrackets it to bind
                server_port=port,
                auth=LoginThrottle(*auth).check if auth else None,
                auth_message="Sign in to ask questions about the documents." if auth else None,
                max_file_size=UPLOAD_ROUTE_FACTOR * largest_upload_limit(max_upload_bytes),
                prevent_thread_lock=not block,
                ssr_mode=False,
                share=False,
                quiet=not block,
                footer_links=["api"],
                theme=theme(),
                css=CSS,
            )
    except OSError as error:
        raise RagError(
            f"Cannot serve the page on {url_host(host)}:{port}: the port is taken or the address is not this "
            "machine's. "
            "Pass a free --port (or another --host)."
        ) from error
    return url


class _BindErrorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()  # a failed bind, or a host name that does not resolve
        return "error while attempting to bind" not in message and not message.startswith("[Errno")


@contextmanager
def _quiet_bind_errors() -> Iterator[None]:
    """uvicorn logs a failed bind (or an unknown host) as an ERROR line before Gradio raises it; the RagError
    below says it in words a user can act on, so uvicorn's line is left out."""
    server_log = logging.getLogger("uvicorn.error")
    only_bind_errors = _BindErrorFilter()
    server_log.addFilter(only_bind_errors)
    try:
        yield
    finally:
        server_log.removeFilter(only_bind_errors)


def launch(
    folder: str | Path | None = "seeds",
    index_dir: str | Path = "index",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    settings: Settings | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> None:
    """Index ``folder`` (only what changed) and serve the chat page until interrupted; with no
    folder, serve the index at ``index_dir`` as it is (the page cannot add files to it then).
    ``settings``: the models and settings the chatbot is built with (default: ``Settings()``)."""
    credentials = parse_auth(auth)
    bot = open_chatbot(index_dir, folder, progress=True, settings=settings)
    # Server paths and library versions only for this machine's own user, or signed-in ones.
    show_details = is_loopback(host) or credentials is not None
    app = ChatApp(bot, index_dir=index_dir, max_upload_bytes=max_upload_bytes, show_details=show_details)
    if not is_loopback(host) and credentials is None:
        logger.warning("serving on %s without --auth: anyone who can reach this address can use the page", host)
    serve(build(app), host=host, port=port, auth=credentials, max_upload_bytes=max_upload_bytes)
