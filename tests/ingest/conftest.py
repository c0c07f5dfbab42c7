"""The seed articles rendered as the files people actually have: Word documents and saved web
pages wrapped in a news site's chrome. Real files, written by python-docx and by hand-made
HTML, not mocks: the readers must get the article back out of them."""

from __future__ import annotations

import datetime
import html
import io
from pathlib import Path

import pytest

from rag.ingest.boilerplate import is_chrome
from rag.ingest.loading import display_title
from tests.conftest import SEEDS

SEED_DATE = "2025-02-07"
SEED_AUTHOR = "Jane Reporter"

SITE_HEAD = """<header class="site-header"><a class="skip" href="#main">Skip to content</a>
<div class="logo"><a href="/">The Daily Planet</a></div>
<nav class="main-nav" aria-label="Main"><ul>
<li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/business">Business</a></li><li><a href="/opinion">Opinion</a></li><li><a href="/sport">Sport</a></li>
</ul><button class="menu-toggle">Menu</button><a href="/login">Sign in</a><a href="/subscribe">Subscribe</a></nav>
</header>
<div id="cookie-banner" class="cookie-consent" role="dialog"><p>We use cookies to personalise content and ads,
to provide social media features and to analyse our traffic. By clicking Accept you agree to our use of cookies.</p>
<button>Accept all cookies</button><button>Manage preferences</button></div>
"""

SITE_FOOT = """<aside class="related-articles"><h2>Related articles</h2><ul>
<li><a href="/world/ukraine-grain-deal">Ukraine grain deal collapses as ships wait at sea</a></li>
<li><a href="/world/sanctions-oil">Oil price cap tightened in new sanctions round</a></li>
<li><a href="/politics/election-poll">Poll shows ruling party slipping ahead of vote</a></li>
</ul></aside>
<footer class="site-footer"><ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li>
<li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul>
<p>© 2025 The Daily Planet. All rights reserved.</p></footer>
"""


def seed_parts(text: str) -> tuple[str | None, list[str]]:
    """A seed's title (as the chat page reads it) and its paragraphs, chrome lines left out
    (a site's chrome goes in the page's own header and footer)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    title = display_title(text, 500)
    body = [line for line in lines if line and not is_chrome(line, opening_line=True)]
    if title and body and body[0].startswith(title):
        body = body[1:]
    return title, body


def render_html(text: str) -> bytes:
    title, body = seed_parts(text)
    heading = f"<h1>{html.escape(title)}</h1>" if title else ""
    paragraphs = "\n".join(f"<p>{html.escape(line)}</p>" for line in body)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title or "News")} | World | The Daily Planet</title>
<meta name="author" content="{SEED_AUTHOR}">
<meta property="article:published_time" content="{SEED_DATE}T09:30:00+00:00">
</head><body>
{SITE_HEAD}
<main id="main"><article><header>{heading}<p class="byline">By {SEED_AUTHOR}</p></header>
<div class="article-body">
{paragraphs}
</div></article>
{SITE_FOOT}</main></body></html>
"""
    return page.encode("utf-8")


def render_docx(text: str) -> bytes:
    import docx

    title, body = seed_parts(text)
    document = docx.Document()
    if title:
        document.add_heading(title, level=1)
        document.core_properties.title = title
    document.core_properties.author = SEED_AUTHOR
    document.core_properties.created = datetime.datetime(2025, 2, 7, 9, 30)
    for line in body:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def render_seeds(folder: Path, suffix: str, render) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(SEEDS.glob("*.txt")):
        (folder / f"{path.stem}{suffix}").write_bytes(render(path.read_text(encoding="utf-8")))
    return folder


@pytest.fixture(scope="session")
def seeds_as_html(tmp_path_factory) -> Path:
    return render_seeds(tmp_path_factory.mktemp("seeds-html"), ".html", render_html)


@pytest.fixture(scope="session")
def seeds_as_docx(tmp_path_factory) -> Path:
    return render_seeds(tmp_path_factory.mktemp("seeds-docx"), ".docx", render_docx)
