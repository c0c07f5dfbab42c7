import json

import pytest
from click.testing import CliRunner

from rag.cli import main
from tests.conftest import PROMPTS, SEEDS


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def built(tmp_path, runner):
    index_dir = tmp_path / "index"
    result = runner.invoke(main, ["index", str(SEEDS), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "5 added, 0 changed, 0 removed, 0 unchanged" in result.output
    return index_dir


def test_index_then_ask_prints_the_answer_and_its_sources(runner, built):
    result = runner.invoke(main, ["ask", "How many prisoners were exchanged on February 5?", "--index-dir", str(built)])
    assert result.exit_code == 0
    assert "314" in result.output
    assert "\n    The February 5 exchange included 314 prisoners" in result.output


def test_ask_names_each_cited_file_with_its_title_at_its_first_mention(runner, built):
    result = runner.invoke(main, ["ask", "What is the Meduza article about?", "--index-dir", str(built)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1:6:2] == [
        "[1] 003_58ec4efac89fea89.txt “Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring…”, line 21",
        "[2] 003_58ec4efac89fea89.txt, line 31",
        "[3] 003_58ec4efac89fea89.txt, line 33",
    ]


def test_reindexing_an_unchanged_folder_reports_nothing_to_do(runner, built):
    result = runner.invoke(main, ["index", str(SEEDS), "--index-dir", str(built)])
    assert "0 added, 0 changed, 0 removed, 5 unchanged" in result.output


def test_ask_json_has_the_api_field_names(runner, built):
    result = runner.invoke(main, ["ask", "Who is Harold Chambers?", "--index-dir", str(built), "--json"])
    data = json.loads(result.output)
    assert {"text", "citations", "hits", "abstained"} <= set(data)
    assert set(data["citations"][0]) >= {"marker", "source", "start_line", "end_line", "quote"}
    assert set(data["hits"][0]) >= {"source", "text", "score", "start_line", "end_line"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "The question is empty"),
        (["ask", "anything", "--index-dir", "{tmp}/nowhere", "--folder", "{tmp}/none"], "Folder not found"),
        (["index", "{tmp}/missing-folder", "--index-dir", "{tmp}/i"], "Folder not found"),
        (["eval", "{tmp}/missing.jsonl", "--folder", str(SEEDS), "--index-dir", "{tmp}/i"], "No prompts file at"),
        (
            ["eval", str(PROMPTS / "seeds.jsonl"), "--judge-model", "{tmp}/no-such-model", "--index-dir", "{tmp}/i"],
            "The NLI model folder",
        ),
    ],
)
def test_user_errors_are_one_line_on_stderr_and_exit_2(runner, built, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    if args[0] == "ask" and "--index-dir" not in args:
        args += ["--index-dir", str(built)]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception that escaped


def test_chat_answers_follow_up_questions(runner, built):
    questions = "Who is Harold Chambers?\nWhich magazine did he write in?\nexit\n"
    result = runner.invoke(main, ["chat", "--index-dir", str(built), "--folder", str(SEEDS)], input=questions)
    assert result.exit_code == 0
    assert "UnHerd" in result.output
    assert "\n(read as: Which magazine did Harold Chambers write in?)\n" in result.output
    assert result.output.count("bot> ") == 2
    # Piped questions are echoed after the prompt, so the transcript reads as a conversation.
    assert "\nyou> Which magazine did he write in?\n" in result.output


def test_chat_prints_each_answer_once_then_its_sources(runner, built):
    questions = "How many prisoners were exchanged on February 5?\nexit\n"
    result = runner.invoke(main, ["chat", "--index-dir", str(built)], input=questions)
    assert result.exit_code == 0
    assert result.output.count("(157 from each side). [1]") == 1  # the answer, streamed
    title = "“Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring…”"
    assert f"\n[1] 003_58ec4efac89fea89.txt {title}, line 21\n    The February 5 exchange included 314" in result.output


def test_chat_shows_a_long_piped_question_back_cut_short(runner, built):
    questions = "prisoners" * 20_000 + "\nexit\n"
    result = runner.invoke(main, ["chat", "--index-dir", str(built)], input=questions)
    assert result.exit_code == 0
    assert f"\nyou> {('prisoners' * 22)}pr… (180,000 characters)\n" in result.output
    assert len(result.output) < 2_000
    assert "The question is 180,000 characters long" in result.stderr


def test_doctor_reports_each_backend(runner, built):
    result = runner.invoke(main, ["doctor", "--index-dir", str(built)])
    assert result.exit_code == 0
    assert "hashing-v2-1024" in result.output
    assert "5 documents" in result.output
    assert "token counter" in result.output


def test_doctor_with_no_index_yet_says_how_to_build_one_and_exits_0(runner, tmp_path):
    result = runner.invoke(main, ["doctor", "--index-dir", str(tmp_path / "index")])
    assert result.exit_code == 0
    assert f"--  index          none in {tmp_path / 'index'}: run `rag index FOLDER" in result.output


def test_doctor_opens_the_index_so_a_missing_data_file_shows_as_damage(runner, built):
    manifest = json.loads((built / "manifest.json").read_text())
    (built / manifest["files"]["chunks"]["name"]).unlink()
    result = runner.invoke(main, ["doctor", "--index-dir", str(built)])
    assert result.exit_code == 1
    assert "--  index          The index in" in result.output
    assert "is missing). Rebuild it with `rag index FOLDER" in result.output


def test_a_vectors_file_faiss_cannot_read_is_named_with_the_way_to_rebuild(runner, built):
    vectors = built / "vectors-1.faiss"
    vectors.write_bytes(bytes(64) + vectors.read_bytes()[64:])  # a zeroed header, the same size
    result = runner.invoke(main, ["ask", "Who is Harold Chambers?", "--index-dir", str(built)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The index in {built} is damaged (vectors-1.faiss cannot be read as FAISS vectors). "
        f"Rebuild it with `rag index FOLDER --index-dir {built} --rebuild`.\n"
    )


def test_a_port_out_of_range_is_a_usage_error(runner):
    result = runner.invoke(main, ["ui", "--port", "99999"])
    assert result.exit_code == 2
    assert "'--port': 99999 is not in the range 1<=x<=65535" in result.stderr


def test_a_refusal_names_the_closest_passages(runner, built):
    result = runner.invoke(main, ["ask", "What is Putin's height?", "--index-dir", str(built)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:2] == ["The documents do not say.", "Closest passages searched:"]
    assert len(lines) == 5 and all(line.startswith("    0") and ", line" in line for line in lines[2:])
    assert lines[2].startswith("    002_16c963fab6cf1b6f.txt “Putin’s grasp on power teetering on edge as")


def test_a_refusal_shows_the_sentence_that_came_nearest(runner, built):
    question = "How many conditions did Antonov say the Americans were attaching to negotiations?"
    result = runner.invoke(main, ["ask", question, "--index-dir", str(built)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:4] == [
        "The documents do not say.",
        "Nearest sentence, judged not to answer it (002_16c963fab6cf1b6f.txt “Putin’s grasp on power teetering on "
        "edge as Russian generals ‘upset’…”, line 51):",
        "    “I would specify three of them.",
        "Closest passages searched:",
    ]


def test_ask_with_no_index_yet_indexes_the_seeds_like_the_other_sessions(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(SEEDS.parent)
    result = runner.invoke(main, ["ask", "Who is Harold Chambers?", "--index-dir", str(tmp_path / "idx"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["citations"][0]["source"] == "000_f2df93452cb9e121.txt"
    # Said aside, so that a mistyped --index-dir does not pass for the index meant.
    assert result.stderr.startswith(f"No index at {tmp_path / 'idx'}: building one from seeds/ first.\n")


@pytest.mark.parametrize(
    "command", [["chat"], ["ask", "When was the kettle bought?"], ["eval", str(PROMPTS / "seeds.jsonl")]]
)
def test_sessions_on_an_existing_index_leave_its_documents_alone(runner, tmp_path, command):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "kettle.txt").write_text("The kettle was bought in 1999 in Leeds.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)]).exit_code == 0
    result = runner.invoke(main, [*command, "--index-dir", str(index_dir)], input="When was the kettle bought?\nexit\n")
    assert result.exit_code == 0, result.output
    from rag import Chatbot

    assert list(Chatbot.from_index(index_dir).documents) == ["kettle.txt"]


def notes_folder(tmp_path, name="notes"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "kettle.txt").write_text("The kettle was bought in 1999 in Leeds.\n", encoding="utf-8")
    return folder


def test_index_without_a_folder_refreshes_the_folder_the_index_was_built_from(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(SEEDS.parent)  # where a seeds/ folder is at hand, and must not be taken
    folder = notes_folder(tmp_path)
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)]).exit_code == 0
    (folder / "teapot.txt").write_text("The teapot came from Delft.\n", encoding="utf-8")
    result = runner.invoke(main, ["index", "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert f"Indexed {folder} into {index_dir}: 1 added, 0 changed, 0 removed, 1 unchanged." in result.output


def test_index_without_a_folder_names_it_as_typed_when_it_is_under_the_working_directory(runner, tmp_path, monkeypatch):
    folder = notes_folder(tmp_path)
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(tmp_path / "index")]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["index", "--index-dir", "index"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {folder.name} into index: 0 added, 0 changed, 0 removed, 1 unchanged." in result.output


def test_indexing_another_folder_into_an_index_is_refused_before_anything_is_removed(runner, tmp_path):
    first, second = notes_folder(tmp_path), notes_folder(tmp_path, "other")
    (second / "kettle.txt").rename(second / "kettle2.txt")
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(first), "--index-dir", str(index_dir)]).exit_code == 0
    result = runner.invoke(main, ["index", str(second), "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: The index in {index_dir} holds the documents of {first}; indexing {second} there would remove "
        f"1 of them (kettle.txt). Give another --index-dir, or replace them: "
        f"`rag index {second} --index-dir {index_dir} --rebuild` (rebuild=True in Python).\n"
    )
    answer = runner.invoke(main, ["ask", "Where was the kettle bought?", "--index-dir", str(index_dir), "--json"])
    assert json.loads(answer.output)["citations"][0]["source"] == "kettle.txt"
    # Asked for, the other folder's documents replace them.
    result = runner.invoke(main, ["index", str(second), "--index-dir", str(index_dir), "--rebuild"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {second} into {index_dir}: 1 added, 0 changed, 0 removed, 0 unchanged." in result.output


def test_indexing_a_moved_folder_into_its_index_goes_ahead_and_says_so(runner, tmp_path, caplog):
    first = notes_folder(tmp_path)
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(first), "--index-dir", str(index_dir)]).exit_code == 0
    moved = first.rename(tmp_path / "moved")
    (moved / "kettle.txt").rename(moved / "kettle2.txt")
    result = runner.invoke(main, ["index", str(moved), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert (
        f"The index in {index_dir} was built from {first}, which is no longer there; it now holds the documents "
        f"of {moved} (1 removed)." in caplog.text
    )


def test_indexing_over_a_damaged_index_says_what_happened_without_telling_to_rebuild(runner, tmp_path, caplog):
    folder = notes_folder(tmp_path)
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)]).exit_code == 0
    (index_dir / "vectors-1.faiss").unlink()
    result = runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert f"Indexed {folder} into {index_dir}: 1 added, 0 changed, 0 removed, 0 unchanged." in result.output
    assert [r.getMessage() for r in caplog.records if r.name == "rag.ingest.pipeline"] == [
        f"The index in {index_dir} is damaged (vectors-1.faiss is missing): rebuilding it from the documents."
    ]


def test_index_without_a_folder_whose_folder_is_gone_says_to_name_one(runner, tmp_path):
    folder = notes_folder(tmp_path)
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)]).exit_code == 0
    (folder / "kettle.txt").unlink()
    folder.rmdir()
    result = runner.invoke(main, ["index", "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The index in {index_dir} was built from {folder}, which is no longer there. "
        f"Name the folder to index: `rag index FOLDER --index-dir {index_dir}`.\n"
    )


@pytest.mark.parametrize("rebuild", [["--rebuild"], []])
def test_index_without_a_folder_over_a_damaged_manifest_asks_for_the_folder(runner, tmp_path, monkeypatch, rebuild):
    monkeypatch.chdir(SEEDS.parent)  # where a seeds/ folder is at hand, and must not be taken
    index_dir = tmp_path / "index"
    assert runner.invoke(main, ["index", str(notes_folder(tmp_path)), "--index-dir", str(index_dir)]).exit_code == 0
    (index_dir / "manifest.json").write_text('{"embedder": ', encoding="utf-8")
    result = runner.invoke(main, ["index", "--index-dir", str(index_dir), *rebuild])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The index in {index_dir} is damaged (manifest.json: Expecting value: line 1 column 14 (char 13)), "
        "so the folder it was built from is not known. "
        f"Give the folder to index: `rag index FOLDER --index-dir {index_dir} --rebuild`.\n"
    )
    assert (index_dir / "manifest.json").read_text(encoding="utf-8") == '{"embedder": '


def test_index_without_a_folder_over_an_index_built_from_python_asks_for_the_folder(runner, tmp_path, monkeypatch):
    from rag import Chatbot, Document

    monkeypatch.chdir(SEEDS.parent)  # where a seeds/ folder is at hand, and must not be taken
    index_dir = tmp_path / "index"
    Chatbot.from_documents([Document(id="kettle.txt", text="The kettle was bought in 1999.")], index_dir).close()
    before = {p.name: p.read_bytes() for p in index_dir.iterdir()}
    result = runner.invoke(main, ["index", "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The index in {index_dir} does not record the folder it was built from (it was built from "
        "documents given in Python, or by an earlier version). "
        f"Give the folder to index: `rag index FOLDER --index-dir {index_dir}`.\n"
    )
    assert {p.name: p.read_bytes() for p in index_dir.iterdir()} == before


@pytest.mark.parametrize("command", [["ask", "When was the kettle bought?"], ["index"], ["index", "--rebuild"]])
def test_a_manifest_entry_of_the_wrong_type_is_one_line_and_status_2(runner, tmp_path, monkeypatch, command):
    monkeypatch.chdir(SEEDS.parent)
    folder, index_dir = notes_folder(tmp_path), tmp_path / "index"
    assert runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir)]).exit_code == 0
    manifest = json.loads((index_dir / "manifest.json").read_text())
    (index_dir / "manifest.json").write_text(json.dumps(manifest | {"documents": []}))
    damaged = (index_dir / "manifest.json").read_text()

    result = runner.invoke(main, [*command, "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: The index in {index_dir} is damaged (manifest.json: documents should be an object, not a list)"
    )
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert (index_dir / "manifest.json").read_text() == damaged

    result = runner.invoke(main, ["index", str(folder), "--index-dir", str(index_dir), "--rebuild"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {folder} into {index_dir}: 1 added, 0 changed, 0 removed, 0 unchanged." in result.output


@pytest.mark.parametrize("command", [["chat"], ["ask", "Who is Harold Chambers?"]])
def test_a_session_with_no_index_and_no_seeds_says_how_to_build_one(runner, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, [*command, "--index-dir", "idx"], input="exit\n")
    assert result.exit_code == 2
    assert (
        result.stderr
        == "Error: No index at idx. Build one with `rag index FOLDER --index-dir idx`, or pass --folder FOLDER.\n"
    )


def test_the_chat_page_without_gradio_says_what_to_install(runner, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real_find_spec(name, *a)
    )
    result = runner.invoke(main, ["ui"])
    assert result.exit_code == 2
    assert result.stderr == "Error: The chat page needs gradio: pip install 'rag-seeds[ui]'.\n"


MODEL_FLAGS = ["--embedding-model", "E", "--reranker-model", "R", "--llm-model", "L"]


@pytest.mark.parametrize("command", [["ask", "Who?"], ["chat"], ["eval", str(PROMPTS / "seeds.jsonl")]])
def test_the_model_options_reach_the_chatbot_as_one_settings_value(runner, built, monkeypatch, command):
    import rag.chatbot
    from rag.answer.prompting import GenerationSettings
    from rag.errors import RagError
    from rag.settings import Settings

    opened = []

    def open_chatbot(index_dir, folder=None, *, settings=None, **options):
        opened.append((options, settings))
        raise RagError("opened")

    monkeypatch.setattr(rag.chatbot, "open_chatbot", open_chatbot)
    result = runner.invoke(main, [*command, "--index-dir", str(built), *MODEL_FLAGS])
    assert result.stderr == "Error: opened\n"
    assert opened == [({}, Settings(embedding_model="E", reranker_model="R", llm_model="L"))]
    runner.invoke(main, [*command, "--index-dir", str(built)], env={"RAG_LLM_MODEL": "from-env"})
    assert opened[1] == ({}, Settings(llm_model="from-env"))
    runner.invoke(main, [*command, "--index-dir", str(built), "--llm-model", "L", "--llm-evidence", "sentences"])
    assert opened[2] == ({}, Settings(llm_model="L", generation=GenerationSettings(evidence="sentences")))
    result = runner.invoke(main, [*command, "--index-dir", str(built), "--llm-evidence", "sentence"])
    assert result.exit_code == 2 and "'sentence' is not one of 'passages', 'sentences'" in result.stderr


def test_doctor_and_the_chat_page_are_given_the_model_options_as_one_settings_value(runner, monkeypatch):
    import rag.doctor
    from rag.settings import Settings

    pytest.importorskip("gradio")
    import rag_seeds_ui.app

    given = {}

    def diagnose(index_dir, settings):
        given["doctor"] = settings
        return []

    def launch(**options):
        given["ui"] = options["settings"]

    monkeypatch.setattr(rag.doctor, "diagnose", diagnose)
    monkeypatch.setattr(rag_seeds_ui.app, "launch", launch)
    assert runner.invoke(main, ["doctor", *MODEL_FLAGS]).exit_code == 0
    assert runner.invoke(main, ["ui", "--folder", str(SEEDS), *MODEL_FLAGS]).exit_code == 0
    expected = Settings(embedding_model="E", reranker_model="R", llm_model="L")
    assert given == {"doctor": expected, "ui": expected}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask"], "Error: Missing argument 'QUESTION'. Try 'main ask --help'."),
        (["ask", "Who?", "--bogus"], "Error: No such option '--bogus'. Try 'main ask --help'."),
        (["nosuch"], "Error: No such command 'nosuch'. Try 'main --help'."),
        (["eval"], "Error: Missing argument 'PROMPTS'. Try 'main eval --help'."),
        (
            ["ui", "--port", "0"],
            "Error: Invalid value for '--port': 0 is not in the range 1<=x<=65535. Try 'main ui --help'.",
        ),
    ],
)
def test_usage_mistakes_are_one_line_on_stderr_and_exit_2(runner, args, message):
    result = runner.invoke(main, args)
    assert (result.exit_code, result.stderr) == (2, message + "\n")
    assert result.stdout == ""


def test_help_is_left_as_click_writes_it(runner):
    result = runner.invoke(main, ["ask", "--help"])
    assert result.exit_code == 0 and result.stdout.startswith("Usage: main ask [OPTIONS] QUESTION")
    alone = runner.invoke(main, [])
    assert alone.exit_code == 2 and "Commands:" in alone.output


def test_a_newline_in_a_path_is_escaped_so_the_error_stays_one_line(runner, tmp_path):
    result = runner.invoke(main, ["index", str(tmp_path / "evil\nError: fake"), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: Folder not found: {tmp_path}/evil\\nError: fake. Pass the folder that holds your articles.\n"
    )


@pytest.mark.parametrize(
    "args", [["index", ""], ["index", "seeds", "--index-dir", ""], ["ask", "Who?", "--index-dir", ""]]
)
def test_an_empty_folder_or_index_name_is_refused_not_read_as_the_working_directory(
    runner, tmp_path, monkeypatch, args
):
    import shutil

    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "name is empty" in result.stderr and len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seeds"]  # nothing indexed into it


@pytest.mark.parametrize("args", [["index", "a\0b"], ["ask", "Who?", "--index-dir", "a\0b"]])
def test_a_nul_byte_in_a_path_is_a_one_line_usage_error(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: A path holds a NUL byte, which no path can hold. Try 'main ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_device_is_one_line_even_for_the_hashing_embedder(runner, built):
    for args in (
        ["ask", "Who is Harold Chambers?", "--index-dir", str(built)],
        ["index", str(SEEDS), "--index-dir", str(built)],
    ):
        result = runner.invoke(main, args, env={"RAG_DEVICE": "tpu"})
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: Unknown device 'tpu' (from RAG_DEVICE).")
        assert len(result.stderr.strip().splitlines()) == 1


def test_chat_refuses_a_line_that_is_not_utf8_and_goes_on(runner, built):
    questions = b"Who is \xed\xa0\x80Kadyrov?\nHow many prisoners were exchanged on February 5?\nexit\n"
    result = runner.invoke(main, ["chat", "--index-dir", str(built)], input=questions)
    assert result.exit_code == 0, result.stderr
    assert "\nyou> Who is \\udced\\udca0\\udc80Kadyrov?\n" in result.output  # shown back as escapes
    assert result.stderr.startswith("Error: The question holds bytes that are not text")
    assert "314 prisoners" in result.output


def test_ask_json_refuses_a_question_holding_a_lone_surrogate(runner, built):
    result = runner.invoke(main, ["ask", "Who is \udcffKadyrov?", "--json", "--index-dir", str(built)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: The question holds bytes that are not text")
    assert result.stdout == ""
