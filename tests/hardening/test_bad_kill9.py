"""benchmarks/kill9.py on a small corpus: every kill leaves an index that opens and answers."""

from __future__ import annotations

import pytest

from tests.conftest import benchmark


@pytest.mark.slow
def test_a_small_kill9_run_recovers_every_time(tmp_path, capsys):
    kill9 = benchmark("kill9")
    kill9.main(["--chunks", "300", "--kills", "2", "--workdir", str(tmp_path), "--no-write"])
    out = capsys.readouterr().out
    assert "recoverable: 2/2" in out
    row = next(line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit())
    assert row.split("|")[3].strip() == "2"  # kills
    assert not list(tmp_path.iterdir())  # the work folder is removed
