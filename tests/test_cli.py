"""End-to-end CLI: a tiny study writes pareto.json; bad input ends in one line, exit 2, nothing written."""

import json
import subprocess
import sys

import pytest

from dse.cli import main


def test_tiny_search_writes_front(tmp_path, tiny_study, capsys):
    out = tmp_path / "out"
    code = main(["search", "--study-config", tiny_study, "--out", str(out), "--quiet"])
    assert code == 0
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["objectives"] == ["accuracy", "energy"]
    assert doc["target"] == "fpga-small"
    assert len(doc["front"]) >= 1
    for member in doc["front"]:
        assert 0.0 < member["accuracy"] <= 1.0
        assert member["candidate"]["family"] == "mlp"
        assert member["cost"]["energy_mj"] > 0
        assert member["cost"]["layers"]
        assert member["values"]["energy"] == member["cost"]["energy_mj"]
    lines = (out / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("trial,state,status")
    assert len(lines) == 5
    printed = capsys.readouterr().out
    assert "Pareto front" in printed

    code = main(["pareto", "--storage", f"sqlite:///{out / 'study.db'}", "--study", "tiny", "--json"])
    assert code == 0
    again = json.loads(capsys.readouterr().out)
    assert [m["trial"] for m in again["front"]] == [m["trial"] for m in doc["front"]]

    # the study is complete and verified: --json resumes it with nothing to do, stdout is pareto.json only
    assert main(["search", "--study-config", tiny_study, "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["front"] == doc["front"]
    assert "completed trials" in captured.err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--target", "fpga-huge"], "unknown target"),
        (["--budget", "0.6 jm"], "malformed budget"),
        (["--budget=-1mJ"], "positive"),
        (["--budget", "abc"], "malformed budget"),
        (["--target", "asic-45nm", "--budget", "lut=2000"], "does not produce 'lut'"),
        (["--space", "nope"], "unknown space"),
        (["--objectives", "accuracy,joy"], "unknown objective"),
        (["--trials", "0"], "trials must be >= 1"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--study-config", "missing.yaml"], "cannot read study file"),
        (["--storage", "bogus://nowhere"], "cannot open storage"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, argv, fragment, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["search", *argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_out_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["search", "--out", str(blocker / "sub")])
    assert code == 2
    assert "is a file" in capsys.readouterr().err


def test_console_script_help_and_usage_error():
    help_run = subprocess.run([sys.executable, "-m", "dse.cli", "search", "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "--budget" in help_run.stdout
    bad = subprocess.run([sys.executable, "-m", "dse.cli", "search", "--trials", "x"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


def test_existing_study_with_other_objectives_is_refused(tmp_path, tiny_study, capsys):
    out = tmp_path / "out"
    assert main(["search", "--study-config", tiny_study, "--out", str(out), "--quiet", "--trials", "2"]) == 0
    before = (out / "pareto.json").read_text()
    capsys.readouterr()  # the first run's output (its warning: the tiny space lists fp on an FPGA target)
    code = main(["search", "--study-config", tiny_study, "--out", str(out), "--quiet", "--objectives", "accuracy,memory"])
    assert code == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1
    assert (out / "pareto.json").read_text() == before


def test_pareto_of_a_missing_storage_file_is_one_line_and_creates_nothing(tmp_path, capsys):
    db = tmp_path / "missing.db"
    assert main(["pareto", "--storage", f"sqlite:///{db}", "--study", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no storage file" in err and len(err.splitlines()) == 1
    assert not db.exists()
