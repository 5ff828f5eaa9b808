"""Run policy in the library: new run or resumed one, its folder and its settings (the CLI only maps flags)."""

from __future__ import annotations

import pytest

from convprop.data import write_idx_dataset
from convprop.train.run import RunError, plan_run, start_run
from convprop.train.state import CheckpointHeader


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    data = write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=60, n_test=20, seed=2)
    out = tmp_path_factory.mktemp("run")
    settings = {"model": "lenet5", "epochs": 1, "batch_size": 20, "threads": 1, "checkpoint_every": 0}
    trainer = start_run(plan_run(settings, out), data_dir=data, progress=False, plots=False, log=lambda _: None)
    trainer.fit()
    return out, data, settings


def test_new_run_resolves_defaults_and_names_its_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    plan = plan_run({"model": "lenet5"})
    assert plan.checkpoint is None and plan.config.lr == 0.05 and plan.config.val_split == 0.1
    assert plan.out_dir.parent.name == "runs" and plan.out_dir.name.startswith("fashion-mnist-lenet5-")


def test_a_folder_with_a_run_is_not_overwritten(finished_run):
    out, _, settings = finished_run
    with pytest.raises(RunError, match="already holds a run: continue it with --resume"):
        plan_run(settings, out)


def test_resume_keeps_the_settings_and_allows_runtime_ones(finished_run):
    out, data, _ = finished_run
    plan = plan_run({"threads": 2, "eval_batch_size": 7}, out, resume="")
    assert plan.checkpoint is not None and plan.out_dir == out
    assert plan.config.model == "lenet5" and plan.config.threads == 2 and plan.config.eval_batch_size == 7
    trainer = start_run(plan, data_dir=data, progress=False, plots=False, log=lambda _: None)
    assert trainer.epoch == 1 and isinstance(CheckpointHeader.from_dict(plan.checkpoint.header, out), CheckpointHeader)


@pytest.mark.parametrize(
    "settings, out, resume, message",
    [
        ({"lr": 0.5}, None, "RUN", r"--lr 0.5 differs from the run being resumed \(0.05\)"),
        ({}, None, "", "--resume needs the run folder"),
        ({}, None, "NOWHERE", "nothing to resume"),
        ({}, "OTHER", "RUN", "already holds another run"),
    ],
)
def test_resume_errors(finished_run, tmp_path, settings, out, resume, message):
    run = finished_run[0]
    if out == "OTHER":
        (tmp_path / "last.npz").write_bytes(b"another run")
        out = tmp_path
    resume = {"RUN": str(run), "NOWHERE": str(tmp_path / "nowhere")}.get(resume, resume)
    with pytest.raises(RunError, match=message):
        plan_run(settings, out, resume)
