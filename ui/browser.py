"""Driving the chat page in headless Chromium: the browser tests use it, and so does the
README screenshot (``python -m rag_seeds_ui.browser docs/ui-screenshot.png``).

Playwright's own browser download needs the network, so this drives the system's Chromium
(Debian's ``chromium`` package) through Playwright's ``executable_path``, with a fresh
profile and everything that would phone home switched off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The system Chromium (``RAG_CHROMIUM`` overrides), or None when there is none."""
    override = os.environ.get("RAG_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` (loopback by default; IPv6 too) that nothing listens on right now."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((bare, 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    folder: str | Path,
    index_dir: str | Path,
    *,
    auth: tuple[str, str] | None = None,
    host: str = "127.0.0.1",
    delete_cache: tuple[int, int] | None = None,
    **app_options,
) -> Iterator[str]:
    """The chat page on ``folder`` served on a free loopback port; yields its URL. Served on
    loopback, it shows the server's details (``show_details``) unless told otherwise."""
    from rag import Chatbot

    from .app import build, serve
    from .chat import ChatApp

    bot = Chatbot.from_folder(folder, index_dir=index_dir)
    app_options.setdefault("show_details", True)
    app = ChatApp(bot, index_dir=index_dir, **app_options)
    demo = build(app) if delete_cache is None else build(app, delete_cache=delete_cache)
    url = serve(demo, host=host, port=free_port(host), auth=auth, block=False)
    try:
        yield url
    finally:
        demo.close()
        bot.index.close()


@contextmanager
def chromium(playwright, executable: str, *, width: int = 1400, height: int = 950):
    """A browser context with a fresh profile, closed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rag-ui-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()


def open_page(context, url: str):
    """A new tab on ``url``, once the question box is ready."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    return page


def ask(page, question: str, timeout_ms: int = 60_000):
    """Type ``question``, send it, and wait for the answer to finish; returns its element."""
    done = "#chat .msg.answer:not(.streaming), #chat .msg.error"
    before = page.locator(done).count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length > count",
        arg=[done, before],
        timeout=timeout_ms,
    )
    return page.locator(done).nth(before)


def screenshot(target: Path, question: str) -> None:
    """Serve a private copy of the seeds, ask ``question`` and save a picture of the page."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    with tempfile.TemporaryDirectory(prefix="rag-ui-shot-") as work:
        folder = Path(work) / "seeds"
        shutil.copytree(seeds, folder)
        with (
            serving(folder, Path(work) / "index") as url,
            sync_playwright() as playwright,
            chromium(playwright, executable, width=1280, height=860) as context,
        ):
            capture(open_page(context, url), question, target)
    print(f"saved {target}")


def capture(page, question: str, target: Path) -> None:
    """Ask ``question`` and save a picture of the page, hovering the answer's first citation
    marker so its source shows. A refusal cites nothing, so it is pictured as it is."""
    markers = ask(page, question).locator("a.cite")
    if markers.count():
        markers.first.hover()
        page.wait_for_timeout(300)  # a moment for the hover to take effect
    page.screenshot(path=str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description="Take a screenshot of the chat page answering a seed question.")
    parser.add_argument("target", type=Path, nargs="?", default=Path("docs/ui-screenshot.png"))
    parser.add_argument("--question", default="How many prisoners were exchanged on February 5?")
    options = parser.parse_args()
    options.target.parent.mkdir(parents=True, exist_ok=True)
    screenshot(options.target, options.question)


if __name__ == "__main__":
    main()
