"""The chat page under hostile or careless input: uploads that must not replace, batches
with a bad file, Gradio's temporary copies, sign-in guessing, what strangers may see, IPv6."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from rag.errors import DocumentsError  # noqa: E402
from rag.ingest.uploads import REMOVED_FOLDER, remove_upload, store_upload, uploaded_names  # noqa: E402
from rag_seeds_ui.chat import ChatApp  # noqa: E402
from rag_seeds_ui.login import FREE_FAILURES, LoginThrottle  # noqa: E402

SEED = "003_58ec4efac89fea89.txt"


def _quiet(*args, **kwargs):
    return None


@pytest.fixture
def app(seeds_copy, tmp_path):
    from rag import Chatbot

    bot = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index")
    incoming = tmp_path / "gradio-temp"
    incoming.mkdir()
    yield ChatApp(bot, index_dir=tmp_path / "index", max_upload_bytes=10_000, upload_dir=incoming)
    bot.index.close()


def _incoming(app, name: str, data: bytes, folder: str = "a1") -> str:
    """A file as Gradio hands it over: in a folder of its own under its temp folder."""
    path = app.upload_dir / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


# -- an upload never replaces ---------------------------------------------------------------


def test_a_same_named_upload_with_other_text_is_stored_beside_the_original(tmp_path):
    first = store_upload(tmp_path, "notes.txt", b"First text.")
    second = store_upload(tmp_path, "notes.txt", b"Second text.")
    third = store_upload(tmp_path, "notes.txt", b"Third text.")
    assert (first.outcome, first.path.name) == ("added", "notes.txt")
    assert (second.outcome, second.path.name) == ("renamed", "notes (2).txt")
    assert (third.outcome, third.path.name) == ("renamed", "notes (3).txt")
    assert (tmp_path / "notes.txt").read_text() == "First text."
    assert (tmp_path / "notes (2).txt").read_text() == "Second text."


def test_a_same_named_upload_with_the_same_text_is_already_there(tmp_path):
    store_upload(tmp_path, "notes.txt", b"First text.")
    store_upload(tmp_path, "notes.txt", b"Second text.")
    again = store_upload(tmp_path, "notes.txt", b"Second text.")
    assert (again.outcome, again.path.name) == ("unchanged", "notes (2).txt")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["notes (2).txt", "notes.txt"]


def test_uploading_a_seeds_name_keeps_the_seed_and_the_notice_says_so(app):
    original = (app.bot.folder / SEED).read_bytes()
    forged = _incoming(app, SEED, b"The exchange included 9,999 prisoners.")
    notice, _, _ = app.upload([forged], progress=_quiet)
    assert (app.bot.folder / SEED).read_bytes() == original
    renamed = SEED.replace(".txt", " (2).txt")
    assert f"Added {SEED} as {renamed} (1 chunk): a different {SEED} is already there and was kept." in notice
    assert "9,999" in (app.bot.folder / renamed).read_text()


def test_uploading_a_seeds_own_text_again_changes_nothing(app):
    same = _incoming(app, SEED, (app.bot.folder / SEED).read_bytes())
    notice, _, _ = app.upload([same], progress=_quiet)
    assert f"{SEED} is already there with the same text as {SEED}; nothing changed." in notice
    assert 'class="notice ok"' in notice and "Index:" not in notice
    assert app.removable() == []


def test_an_uploaded_document_can_be_removed_and_is_kept_aside(app):
    added = _incoming(app, "lighthouse.md", b"The lighthouse at Port Quillan is painted green and white.")
    app.upload([added], progress=_quiet)
    assert app.removable() == ["lighthouse.md"]
    notice, documents, status = app.remove("lighthouse.md", progress=_quiet)
    assert "Removed lighthouse.md. Index:" in notice and 'class="notice ok"' in notice
    assert "lighthouse.md" not in documents and "5 documents" in status
    assert not (app.bot.folder / "lighthouse.md").exists() and app.removable() == []
    kept = list((app.bot.folder / REMOVED_FOLDER).iterdir())
    assert [p.name.endswith("-lighthouse.md") for p in kept] == [True]
    assert kept[0].read_text().startswith("The lighthouse")


def test_the_folders_own_files_cannot_be_removed_through_the_page(app):
    notice, documents, _ = app.remove(SEED, progress=_quiet)
    assert 'class="notice bad"' in notice and "not a document uploaded through the page" in notice
    assert (app.bot.folder / SEED).exists() and SEED in documents
    with pytest.raises(DocumentsError, match="uploaded through the page"):
        remove_upload(app.bot.folder, "../" + SEED)


def test_the_ledger_lists_only_uploads_still_in_the_folder(tmp_path):
    store_upload(tmp_path, "a.txt", b"A.")
    store_upload(tmp_path, "b.txt", b"B.")
    (tmp_path / "a.txt").unlink()  # removed on disk by the operator
    assert uploaded_names(tmp_path) == ["b.txt"]
    (tmp_path / ".uploads.json").write_text("{not json")
    assert uploaded_names(tmp_path) == []


# -- per-file reasons, temporary copies ------------------------------------------------------


def test_a_too_large_file_is_refused_by_name_while_the_rest_of_the_batch_is_added(app):
    good = _incoming(app, "lighthouse.md", b"The lighthouse at Port Quillan is painted green and white.", "a1")
    big = _incoming(app, "big.txt", b"y" * 30_000, "a2")
    binary = _incoming(app, "blob.txt", b"\x00\x01\x02" * 10, "a3")
    notice, documents, _ = app.upload([good, big, binary], progress=_quiet)
    added, refused = notice.split("</div>")[:2]
    assert "Added lighthouse.md (1 chunk)." in added and "lighthouse.md" in documents
    assert "big.txt is 29 KB; the limit is 10 KB" in refused and "blob.txt does not look like text" in refused


def test_the_handler_deletes_gradios_temporary_copies_added_or_refused(app, tmp_path):
    paths = [
        _incoming(app, "lighthouse.md", b"The lighthouse at Port Quillan is painted green and white.", "a1"),
        _incoming(app, "big.txt", b"y" * 30_000, "a2"),
        _incoming(app, "report.pdf", b"%PDF-1.4", "a3"),
        _incoming(app, SEED, (app.bot.folder / SEED).read_bytes(), "a4"),
    ]
    elsewhere = tmp_path / "mine.txt"
    elsewhere.write_text("Not Gradio's copy.")
    app.upload([*paths, str(elsewhere)], progress=_quiet)
    assert list(app.upload_dir.iterdir()) == []
    assert elsewhere.exists(), "only files in Gradio's temp folder are deleted"


def test_an_upload_over_its_limit_is_refused_by_name_without_being_read(app, monkeypatch):
    big = app.upload_dir / "b1" / "scan.pdf"
    big.parent.mkdir()
    with big.open("wb") as out:
        out.truncate(45 * 1024 * 1024)  # sparse: 45 MB that take no disk
    small = _incoming(app, "lighthouse.md", b"The lighthouse at Port Quillan is painted green and white.")
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    notice, _, _ = app.upload([str(big), small], progress=_quiet)
    assert "scan.pdf is 45.0 MB; the limit is 20.0 MB" in notice and "Added lighthouse.md" in notice
    assert "scan.pdf" not in read and "lighthouse.md" in read


@pytest.mark.slow
def test_the_served_page_adds_a_batch_with_a_too_large_file_and_keeps_no_copies(seeds_copy, tmp_path, monkeypatch):
    from gradio_client import Client, handle_file

    from rag_seeds_ui.browser import serving

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    sent = tmp_path / "sent"
    sent.mkdir()
    (sent / "lighthouse.md").write_text("The lighthouse at Port Quillan is painted green and white.")
    (sent / "big.txt").write_bytes(b"y" * (3 * 1024 * 1024))  # over the 2 MB limit, under the route's
    # over twice a PDF's 20 MB limit, which was the route's and dropped the batch
    (sent / "scan.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (45 * 1024 * 1024))
    with serving(seeds_copy, tmp_path / "index") as url:
        client = Client(url, verbose=False)
        notice, _, _ = client.predict(
            [handle_file(str(sent / name)) for name in ("lighthouse.md", "big.txt", "scan.pdf")], api_name="/upload"
        )
        assert "Added lighthouse.md (1 chunk)." in notice and "big.txt is 3.0 MB; the limit is 2.0 MB" in notice
        assert "scan.pdf is 45.0 MB; the limit is 20.0 MB" in notice
        left = [p.name for p in (tmp_path / "gradio").rglob("*") if p.is_file()]
        assert not {"lighthouse.md", "big.txt", "scan.pdf"} & set(left)


@pytest.mark.slow
def test_upload_copies_nobody_used_are_swept(seeds_copy, tmp_path, monkeypatch):
    import httpx

    from rag_seeds_ui.browser import serving

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    with serving(seeds_copy, tmp_path / "index", delete_cache=(1, 1)) as url:
        noise = [("files", (f"noise{i}.bin", bytes([i]) * 4096)) for i in range(5)]
        posted = httpx.post(url + "gradio_api/upload", files=noise, timeout=30)
        assert posted.status_code == 200 and len(posted.json()) == 5
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(p).exists() for p in posted.json()):
            time.sleep(0.25)
        assert not any(Path(p).exists() for p in posted.json()), "Gradio's sweep deletes copies nobody used"


# -- sign-in --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_few_failures_even_the_right_password_waits_and_the_wait_doubles():
    from fastapi import HTTPException

    clock = FakeClock()
    throttle = LoginThrottle("ann", "s3cret", clock=clock)
    for _ in range(FREE_FAILURES):
        assert throttle.check("ann", "guess") is False
    with pytest.raises(HTTPException) as refused:
        throttle.check("ann", "s3cret")
    assert refused.value.status_code == 429 and "wait 2 seconds" in refused.value.detail
    clock.now += 2.5
    assert throttle.check("ann", "guess") is False
    assert throttle.wait_for("ann") == 4.0
    clock.now += 4.5
    assert throttle.check("ann", "s3cret") is True
    assert throttle.wait_for("ann") == 0.0 and throttle.check("ann", "guess") is False


def test_the_wait_is_capped_and_other_names_are_not_held_back():
    from rag_seeds_ui.login import MAX_WAIT_S

    clock = FakeClock()
    throttle = LoginThrottle("ann", "s3cret", clock=clock)
    for _ in range(30):
        throttle.check("ann", "guess")
        clock.now += throttle.wait_for("ann")
    throttle.check("ann", "guess")
    assert throttle.wait_for("ann") == MAX_WAIT_S
    assert throttle.wait_for("bob") == 0.0 and throttle.check("bob", "s3cret") is False


@pytest.mark.slow
def test_a_served_page_refuses_sign_ins_after_a_few_failures(seeds_copy, tmp_path):
    import httpx

    from rag_seeds_ui.browser import serving

    with serving(seeds_copy, tmp_path / "index", auth=("ann", "s3cret")) as url, httpx.Client() as http:
        codes = [
            http.post(url + "login", data={"username": "ann", "password": f"guess{i}"}).status_code for i in range(5)
        ]
        assert codes == [400] * FREE_FAILURES + [429] * (5 - FREE_FAILURES)
        right = http.post(url + "login", data={"username": "ann", "password": "s3cret"})
        assert right.status_code == 429 and "Too many failed sign-ins" in right.json()["detail"]
        assert int(right.headers["retry-after"]) >= 1


# -- what strangers see ---------------------------------------------------------------------


def test_the_settings_tab_hides_paths_and_versions_from_strangers(app):
    import importlib.metadata

    version = importlib.metadata.version("numpy")
    app.show_details = True
    assert version in app.checks() and str(app.index_dir) in app.checks()
    app.show_details = False
    shown = app.checks() + app.status()
    assert version not in shown and str(app.index_dir) not in shown and str(app.bot.folder) not in shown
    assert "embedder" in shown and "index" in shown and "✓" in shown


def test_a_backend_loaded_from_a_folder_is_named_without_the_folder():
    from rag_seeds_ui.render import without_paths

    assert without_paths("/srv/models/mini-lm, dim 384, cpu") == "mini-lm, dim 384, cpu"
    assert without_paths("C:\\models\\mini-lm (cuda)") == "mini-lm (cuda)"
    assert without_paths("hashing, dim 384") == "hashing, dim 384"


@pytest.mark.parametrize(
    ("host", "loopback", "in_url"),
    [
        ("127.0.0.1", True, "127.0.0.1"),
        ("localhost", True, "localhost"),
        ("::1", True, "[::1]"),
        ("[::1]", True, "[::1]"),
        ("0.0.0.0", False, "0.0.0.0"),
        ("::", False, "[::]"),
        ("fe80::1", False, "[fe80::1]"),
        ("example.org", False, "example.org"),
    ],
)
def test_hosts_are_judged_and_bracketed(host, loopback, in_url):
    from rag_seeds_ui.app import is_loopback, url_host

    assert is_loopback(host) is loopback
    assert url_host(host) == in_url


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_page_is_served_on_ipv6_loopback(seeds_copy, tmp_path):
    import httpx

    from rag_seeds_ui.browser import serving

    with serving(seeds_copy, tmp_path / "index", host="::1") as url:
        assert url.startswith("http://[::1]:")
        assert httpx.get(url, timeout=30).status_code == 200


def test_the_status_line_names_a_backend_without_its_folder_for_strangers(tmp_path):
    from types import SimpleNamespace

    bot = SimpleNamespace(backends={"embedder": "/srv/models/mini-lm, dim 384"}, chunk_counts={"a.txt": 2})
    assert "mini-lm, dim 384" in ChatApp(bot, index_dir=tmp_path).status()
    assert "/srv/models" not in ChatApp(bot, index_dir=tmp_path).status()
    assert "/srv/models/mini-lm" in ChatApp(bot, index_dir=tmp_path, show_details=True).status()


# uvicorn's server thread ends by raising SystemExit when it cannot bind; Gradio then raises.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.slow
def test_a_host_that_does_not_resolve_is_one_user_error_and_no_server_log(app, capfd):
    from rag import RagError
    from rag_seeds_ui.app import build, serve
    from rag_seeds_ui.browser import free_port

    with pytest.raises(RagError, match=r"no-such-host\.invalid:.*another --host"):
        serve(build(app), host="no-such-host.invalid", port=free_port(), block=False)
    captured = capfd.readouterr()
    assert "[Errno" not in captured.err + captured.out


def test_removing_with_nothing_chosen_says_what_to_do(app):
    notice, documents, _ = app.remove(None, progress=_quiet)
    assert 'class="notice bad"' in notice and "Choose a document uploaded through this page first" in notice
    assert SEED in documents


def test_an_empty_upload_names_the_accepted_formats_from_the_table(app):
    notice, _, _ = app.upload([], progress=_quiet)
    assert "Choose one or more .docx, .htm, .html, .md, .pdf or .txt files first." in notice
    from rag_seeds_ui.render import suffix_list

    assert suffix_list({".txt"}) == ".txt" and suffix_list({".pdf", ".txt", ".md"}) == ".md, .pdf or .txt"
