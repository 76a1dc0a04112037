"""`dse train`: full-fidelity training of one candidate, test accuracy, cost report, checkpoint; refusals."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from dse.cli import export as export_command

from dse.cli import train as train_command
from dse.training.artifacts import load_model, read_checkpoint
from dse.training.data import load_dataset
from dse.errors import UserError
from dse.training.train import measure

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "studies" / "examples" / "mlp-64-128-10.yaml"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_command.add_parser(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mlp"
    code = train_command.run(_args("--config", str(EXAMPLE), "--epochs", "2", "--out", str(out), "--json"))
    assert code == 0
    return out


def test_train_reports_test_accuracy_of_the_saved_model(trained_run):
    doc = json.loads((trained_run / "result.json").read_text())
    assert doc["epochs"] == 2 and doc["dataset"] == "digits" and doc["target"] == "fpga-small"
    assert 0.5 < doc["test_accuracy"] <= 1.0  # stack-notes: this MLP reaches ~0.9 after one epoch
    assert doc["test_samples"] == 360 and doc["cost"]["layers"]
    # the accuracy is the saved model's on data.test (not the validation split)
    model = load_model(read_checkpoint(trained_run / "checkpoint.pt"))
    accuracy, *_ = measure(model, load_dataset("digits", seed=0).test)
    assert accuracy == pytest.approx(doc["test_accuracy"])
    assert read_checkpoint(trained_run / "checkpoint.pt").in_step == 0.25


def test_checkpoint_exports(trained_run, tmp_path):
    out = tmp_path / "exp"
    parser = argparse.ArgumentParser()
    export_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["export", "--from-checkpoint", str(trained_run / "checkpoint.pt"), "--out", str(out)])
    assert export_command.run(args) == 0
    assert (out / "network.npz").is_file() and (out / "layer1_weights.mem").is_file()


def test_table_output_names_accuracy_and_cost(tmp_path, capsys):
    assert train_command.run(_args("--config", str(EXAMPLE), "--epochs", "1")) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "energy" in text and "layer0" in text


def test_default_fidelity_is_documented():
    assert _args("--config", "x.yaml").epochs == train_command.DEFAULT_EPOCHS == 30


def _no_training(monkeypatch):
    import dse.training.train

    monkeypatch.setattr(dse.training.train, "train_candidate", lambda *a, **k: pytest.fail("refused input must not train"))


def test_bad_input_is_refused_before_training(tmp_path, monkeypatch, trained_run):
    _no_training(monkeypatch)
    cases = [
        (_args("--config", str(tmp_path / "missing.yaml")), "cannot read candidate file"),
        (_args("--config", str(EXAMPLE), "--target", "fpga-huge"), "fpga-huge"),
        (_args("--config", str(EXAMPLE), "--dataset", "imagenet"), "unknown dataset 'imagenet'"),
        (_args("--config", str(EXAMPLE), "--out", str(trained_run)), "already exists"),
    ]
    wrong_shape = tmp_path / "c.yaml"
    wrong_shape.write_text(EXAMPLE.read_text().replace("input_shape: [1, 8, 8]", "input_shape: [1, 16, 16]"))
    cases.append((_args("--config", str(wrong_shape)), r"input_shape \[1, 16, 16\]"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases.append((_args("--config", str(EXAMPLE), "--out", str(a_file)), "not a folder"))
    for args, match in cases:
        with pytest.raises(UserError, match=match) as info:
            train_command.run(args)
        assert "\n" not in str(info.value)


def test_epochs_must_be_positive():
    with pytest.raises(SystemExit):
        _args("--config", "x.yaml", "--epochs", "0")


def test_train_out_holding_a_users_file_of_the_same_name_is_refused_unless_forced(tmp_path):
    """--force means one thing everywhere: replace the files the command writes, keep the others."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "candidate.yaml").write_text("my candidate\n")
    (out / "notes.txt").write_text("keep\n")
    with pytest.raises(UserError, match="candidate.yaml already exists.*--force"):
        train_command.run(_args("--config", str(EXAMPLE), "--epochs", "1", "--out", str(out)))
    assert (out / "candidate.yaml").read_text() == "my candidate\n"
    assert train_command.run(_args("--config", str(EXAMPLE), "--epochs", "1", "--out", str(out), "--force")) == 0
    assert sorted(p.name for p in out.iterdir()) == ["candidate.yaml", "checkpoint.pt", "notes.txt", "result.json"]
