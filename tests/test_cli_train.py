"""`convprop train/evaluate/predict` in-process and as subprocesses on a small synthetic IDX dataset.

Covers the run folder, evaluate and predict on its checkpoint, one-line errors,
and exact resume after SIGKILL and after SIGINT (Ctrl-C) of a training process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop.cli import main
from convprop.data import load_dataset, write_idx_dataset
from convprop.train.checkpoint import CheckpointError, load_checkpoint
from convprop.train.predict import load_model

REPO = Path(__file__).resolve().parents[1]
NO_NETWORK = "http://127.0.0.1:9/"  # should a file ever be missing, a download fails at once


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=300, n_test=100, seed=0)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setenv("CONVPROP_DATA_URL", NO_NETWORK)


def _train_args(data_dir, out, *extra):
    return [
        "train",
        "--data-dir", str(data_dir),
        "--out", str(out),
        "--model", "lenet5",
        "--epochs", "1",
        "--batch-size", "32",
        "--lr", "0.02",
        "--threads", "1",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    assert main(_train_args(data_dir, out, "--epochs", "2")) == 0
    return out


def _subprocess(args, **kwargs):
    env = {**os.environ, "CONVPROP_DATA_URL": NO_NETWORK, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "convprop", *args], capture_output=True, text=True, env=env, timeout=300, **kwargs
    )


def test_train_in_process(run_dir, capsys):
    for name in ("last.npz", "best.npz", "metrics.csv", "metrics.json", "config.json", "curves.png", "confusion.png"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["model"] == "lenet5" and summary["dataset"] == "fashion-mnist"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["threads"] == 1 and config["batch_size"] == 32 and config["optimizer"] == "sgd"
    header = load_checkpoint(run_dir / "last.npz").header
    assert header["dataset"]["train_size"] == 270 and header["dataset"]["val_size"] == 30
    assert header["dataset"]["test_size"] == 100


def test_train_prints_epoch_lines(tmp_path, data_dir, capsys):
    assert main(_train_args(data_dir, tmp_path, "--limit-train", "64", "--limit-test", "20")) == 0
    out = capsys.readouterr().out
    # --limit-train cuts the training set first; then 10% of each class is held out for validation.
    assert "lenet5: 61,706 parameters, 0.42 M multiply-accumulates per image" in out  # the summary line first
    assert "training lenet5 on fashion-mnist: 60 train / 4 validation / 20 test images" in out
    assert "epoch 1/1: train loss" in out and "| val loss" in out and "img/s" in out
    assert "test: final model accuracy" in out and "done: final model test accuracy" in out


def test_adam_without_lr_gets_its_own_default_lr(tmp_path, data_dir, capsys):
    args = ["train", "--data-dir", str(data_dir), "--model", "lenet5", "--epochs", "1", "--limit-train", "32"]
    assert main([*args, "--limit-test", "10", "--optimizer", "adam", "--out", str(tmp_path / "adam")]) == 0
    assert json.loads((tmp_path / "adam" / "config.json").read_text())["lr"] == 0.001
    assert "adam lr 0.001 (onecycle schedule)" in capsys.readouterr().out
    assert main([*args, "--limit-test", "10", "--out", str(tmp_path / "sgd")]) == 0
    assert json.loads((tmp_path / "sgd" / "config.json").read_text())["lr"] == 0.05  # the dataset's, for SGD
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "adam 0.001" in capsys.readouterr().out


def test_evaluate_matches_training_summary(run_dir, data_dir, tmp_path, capsys):
    png = tmp_path / "confusion.png"
    assert main(["evaluate", str(run_dir / "last.npz"), "--data-dir", str(data_dir), "--confusion", str(png)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"accuracy {100 * summary['test_accuracy']['final']:.2f}%" in out
    assert "T-shirt/top" in out and "confusion matrix" in out
    confusion = np.array(summary["confusion_matrix"])
    rows = [line for line in out.splitlines() if line.rstrip().endswith(")") and line.startswith("Ankle boot")]
    assert rows and [int(v) for v in rows[-1].split()[2:-1]] == confusion[9].tolist()
    assert png.is_file() and png.stat().st_size > 1000


def test_evaluate_prints_the_confusion_file_it_wrote(run_dir, data_dir, tmp_path, capsys):
    args = ["evaluate", str(run_dir), "--data-dir", str(data_dir), "--limit", "20"]
    assert main([*args, "--confusion", str(tmp_path / "cm")]) == 0
    assert capsys.readouterr().out.endswith(f"confusion matrix saved to {tmp_path / 'cm.png'}\n")
    assert (tmp_path / "cm.png").is_file() and not (tmp_path / "cm").exists()


def test_predict_matches_model_on_training_preprocessing(run_dir, data_dir, tmp_path, capsys):
    from PIL import Image

    test = load_dataset("fashion-mnist", "test", data_dir=data_dir)
    paths = []
    for i in range(3):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(test.images[i, 0]).save(path)
        paths.append(path)
    # A larger RGB JPEG exercises the grayscale conversion and the resize.
    Image.fromarray(np.repeat(test.images[0, 0], 2, axis=0).repeat(2, axis=1)).convert("RGB").save(tmp_path / "a.jpg")
    assert main(["predict", str(run_dir), *map(str, paths), str(tmp_path / "a.jpg"), "--top-k", "3"]) == 0
    out = capsys.readouterr().out

    ck = load_checkpoint(run_dir / "best.npz")
    model = load_model(ck)
    mean, std = ck.header["dataset"]["mean"][0], ck.header["dataset"]["std"][0]
    x = (test.images[:3].astype(np.float32) / 255 - mean) / std
    with convprop.no_grad():
        probs = model(convprop.tensor(x)).softmax(1).data
    blocks = out.split(".png:\n")[1:]
    assert len(blocks) == 3 and "a.jpg:" in out
    for i, block in enumerate(blocks):
        lines = block.strip().splitlines()[:3]
        top = np.argsort(-probs[i])[:3]
        for line, j in zip(lines, top, strict=True):
            pct, name = line.split("%", 1)
            assert name.strip() == test.classes[j]
            assert abs(float(pct) - 100 * probs[i, j]) < 0.006


def test_predict_scales_16_bit_images(run_dir, data_dir, tmp_path, capsys):
    """A 16-bit PNG of an image (values * 257) is classified exactly like its 8-bit original, not clipped."""
    from PIL import Image

    image = load_dataset("fashion-mnist", "test", data_dir=data_dir).images[0, 0]
    Image.fromarray(image).save(tmp_path / "a8.png")
    Image.fromarray(image.astype(np.uint16) * 257).save(tmp_path / "a16.png")
    assert Image.open(tmp_path / "a16.png").mode.startswith("I")
    for name in ("a8", "a16"):
        assert main(["predict", str(run_dir), str(tmp_path / f"{name}.png"), "--top-k", "10"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert len(lines) == 20 and lines[:10] == lines[10:]


def test_subprocess_train_evaluate_predict(tmp_path, data_dir):
    result = _subprocess(_train_args(data_dir, tmp_path / "run", "--limit-train", "96", "--limit-test", "40"))
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1: train loss" in result.stdout and "Traceback" not in result.stderr
    result = _subprocess(["evaluate", str(tmp_path / "run"), "--data-dir", str(data_dir), "--limit", "40"])
    assert result.returncode == 0, result.stderr
    assert "(40 images)" in result.stdout
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "black.png")
    result = _subprocess(["predict", str(tmp_path / "run" / "last.npz"), str(tmp_path / "black.png"), "--top-k", "2"])
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 3


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: convprop {command}" in capsys.readouterr().out


def _one_line_error(args, capsys, match):
    try:
        status = main(args)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert status not in (0, None)
    assert len(err.strip().splitlines()) == 1, err
    assert match in err and "Traceback" not in err
    return status


def _relabel(run_dir, tmp_path, model_name):
    """A copy of the run's checkpoint whose header claims another model (lenet5 weights, vggsmall name)."""
    with np.load(run_dir / "last.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["__header__"].tobytes())
    header["model"]["name"] = model_name
    header["model"].pop("state_keys")
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path = tmp_path / f"as-{model_name}.npz"
    np.savez(path, **arrays)
    return path


def test_errors_are_one_line(tmp_path, data_dir, run_dir, capsys):
    _one_line_error(["train", "--no-such-flag"], capsys, "unrecognized arguments: --no-such-flag")
    _one_line_error(["train", "--epochs", "0"], capsys, "argument --epochs: must be a positive integer, got 0")
    _one_line_error(["train", "--lr", "abc"], capsys, "argument --lr: expected a number")
    _one_line_error(["train", "--dataset", "imagenet"], capsys, "invalid choice: 'imagenet'")
    _one_line_error(["evaluate", str(tmp_path / "missing.npz")], capsys, "checkpoint not found")
    _one_line_error(["evaluate", str(tmp_path)], capsys, "no checkpoint (best.npz or last.npz)")
    bad = tmp_path / "bad.npz"
    bad.write_bytes((run_dir / "last.npz").read_bytes()[:5000])
    _one_line_error(["evaluate", str(bad)], capsys, "truncated or corrupted")
    _one_line_error(["predict", str(_relabel(run_dir, tmp_path, "vggsmall")), str(bad)], capsys, "does not fit model")
    _one_line_error(["predict", str(run_dir), str(tmp_path / "nope.png")], capsys, "image not found")
    (tmp_path / "text.png").write_text("not an image")
    _one_line_error(["predict", str(run_dir), str(tmp_path / "text.png")], capsys, "cannot read image")
    _one_line_error(_train_args(data_dir, run_dir), capsys, "already holds a run")
    _one_line_error(["train", "--resume"], capsys, "--resume needs the run folder")
    _one_line_error(["train", "--resume", str(tmp_path / "nothing")], capsys, "nothing to resume")
    _one_line_error(["train", "--resume", str(run_dir), "--lr", "0.5"], capsys, "--lr 0.5 differs from the run")
    _one_line_error(["train", "--model", "no-such-net", "--data-dir", str(data_dir)], capsys, "no-such-net")


def test_non_checkpoint_files_are_one_line_and_never_suggest_pickle(tmp_path, run_dir, capsys):
    import pickle

    pickled = tmp_path / "pickled.npy"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2]}))
    np.savez(tmp_path / "random.npz", a=np.random.default_rng(0).standard_normal(4))
    (tmp_path / "x.png").write_bytes(b"")
    for args, match in [
        (["evaluate", str(pickled)], "is not a convprop checkpoint"),
        (["predict", str(pickled), str(tmp_path / "x.png")], "is not a convprop checkpoint"),
        (["train", "--resume", str(pickled)], "is not a convprop checkpoint"),
        (["evaluate", str(tmp_path / "random.npz")], "not a convprop checkpoint"),
    ]:
        _one_line_error(args, capsys, match)
    for args in (["evaluate", str(pickled)], ["train", "--resume", str(pickled)]):
        main(args)
        assert "allow_pickle" not in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--lr", "--momentum", "--weight-decay", "--label-smoothing"])
@pytest.mark.parametrize("value", ["1e309", "inf", "-inf", "nan"])
def test_float_flags_reject_non_finite_values(flag, value, capsys):
    _one_line_error(["train", f"{flag}={value}"], capsys, f"argument {flag}: must be a finite number, got {value}")


def test_user_errors_exit_with_status_2(tmp_path, data_dir, run_dir, capsys):
    """Argument, path and checkpoint errors share one exit status across train, evaluate, predict and explain."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    relabelled = str(_relabel(run_dir, tmp_path, "vggsmall"))
    (tmp_path / "x.png").write_bytes(b"")
    for args, match in [
        (["train", "--epochs", "0"], "must be a positive integer"),
        (["train", "--resume", str(bad)], "truncated or corrupted"),
        (["evaluate", str(bad)], "truncated or corrupted"),
        (["evaluate", relabelled, "--data-dir", str(data_dir)], "does not fit model"),
        (["predict", str(bad), str(tmp_path / "x.png")], "truncated or corrupted"),
        (["predict", relabelled, str(tmp_path / "x.png")], "does not fit model"),
        (["predict", str(run_dir), str(tmp_path / "x.png")], "cannot read image"),
        (["explain", "conv", "-o", str(tmp_path)], "is a directory"),
    ]:
        assert _one_line_error(args, capsys, match) == 2, args


def test_subprocess_errors_have_no_traceback(tmp_path):
    for args in (["train", "--epochs", "-3"], ["evaluate", str(tmp_path / "x.npz")], ["predict"]):
        result = _subprocess(args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_resume_into_another_run_is_refused(run_dir, data_dir, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(_train_args(data_dir, other, "--limit-train", "32", "--limit-test", "10")) == 0
    before = (other / "last.npz").read_bytes()
    capsys.readouterr()
    args = ["train", "--resume", str(run_dir), "--out", str(other), "--data-dir", str(data_dir)]
    assert _one_line_error(args, capsys, f"{other} already holds another run") == 2
    assert (other / "last.npz").read_bytes() == before
    # An --out without a run receives the continued copy; the source run is left as it was.
    source = (run_dir / "last.npz").read_bytes()
    assert main(["train", "--resume", str(run_dir), "--out", str(tmp_path / "copy"), "--data-dir", str(data_dir)]) == 0
    assert (tmp_path / "copy" / "summary.json").is_file() and (run_dir / "last.npz").read_bytes() == source


def test_resume_of_finished_run_changes_nothing(run_dir, data_dir, capsys):
    before = load_checkpoint(run_dir / "last.npz").model_state
    assert main(["train", "--resume", str(run_dir), "--data-dir", str(data_dir)]) == 0
    after = load_checkpoint(run_dir / "last.npz").model_state
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert "resuming at epoch 3" in capsys.readouterr().out


# ---- killed and interrupted training processes ----

KILL_ARGS = ("--epochs", "3", "--batch-size", "16", "--checkpoint-every", "3", "--augment")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(_train_args(data_dir, out, *KILL_ARGS)) == 0
    return load_checkpoint(out / "last.npz")


def _start_training(data_dir, out):
    env = {**os.environ, "CONVPROP_DATA_URL": NO_NETWORK, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "convprop", *_train_args(data_dir, out, *KILL_ARGS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_checkpoint(proc, path, min_step=1):
    """Wait until a checkpoint at least ``min_step`` steps in exists (the process is then mid-training)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                if load_checkpoint(path).header["position"]["step"] >= min_step:
                    return
            except CheckpointError:  # not expected (writes are atomic), but then simply look again
                pass
        assert proc.poll() is None, f"training ended before it could be interrupted: {proc.communicate()}"
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no checkpoint appeared")


def _assert_same_weights(a, b):
    assert sorted(a.model_state) == sorted(b.model_state)
    for key in a.model_state:
        assert np.array_equal(a.model_state[key], b.model_state[key]), key
    assert a.header["position"] == b.header["position"]


def test_sigkill_mid_epoch_then_resume_is_exact(tmp_path, data_dir, uninterrupted):
    out = tmp_path / "run"
    proc = _start_training(data_dir, out)
    _wait_for_checkpoint(proc, out / "last.npz", min_step=4)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(out / "last.npz").header["position"]
    assert killed_at["step"] < uninterrupted.header["position"]["step"]
    # --checkpoint-every may change on resume: it does not enter the arithmetic.
    resume = ["train", "--resume", "--out", str(out), "--data-dir", str(data_dir), "--checkpoint-every", "7"]
    result = _subprocess(resume)
    assert result.returncode == 0, result.stderr
    assert f"resuming at epoch {killed_at['epoch'] + 1}, batch {killed_at['batch']}" in result.stdout
    _assert_same_weights(uninterrupted, load_checkpoint(out / "last.npz"))


def test_sigint_saves_checkpoint_then_resume_is_exact(tmp_path, data_dir, uninterrupted):
    out = tmp_path / "run"
    proc = _start_training(data_dir, out)
    _wait_for_checkpoint(proc, out / "last.npz", min_step=2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "checkpoint saved to" in stderr and f"convprop train --resume {out}" in stderr
    assert "Traceback" not in stderr
    stopped_at = load_checkpoint(out / "last.npz").header["position"]
    assert stopped_at["step"] < uninterrupted.header["position"]["step"]
    result = _subprocess(["train", "--resume", str(out), "--data-dir", str(data_dir)])
    assert result.returncode == 0, result.stderr
    _assert_same_weights(uninterrupted, load_checkpoint(out / "last.npz"))


def test_path_errors_are_one_line(tmp_path, data_dir, capsys):
    file = tmp_path / "f"
    file.touch()
    assert _one_line_error(_train_args(data_dir, file), capsys, f"--out {file} is a file") == 2
    # OSErrors from paths reach main() as one line too, whichever subcommand raises them.
    _one_line_error(["explain", "conv", "-o", str(tmp_path)], capsys, f"{tmp_path}: is a directory")


def test_closed_stdout_pipe_finishes_the_work_quietly(run_dir, data_dir, tmp_path):
    """`convprop evaluate RUN | head -2`: no BrokenPipeError traceback, and the --confusion PNG is still written."""
    png = tmp_path / "cm.png"
    env = {**os.environ, "CONVPROP_DATA_URL": NO_NETWORK, "PYTHONPATH": str(REPO)}
    args = ["evaluate", str(run_dir), "--data-dir", str(data_dir), "--confusion", str(png)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "convprop", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert err == "" and png.is_file()


def test_evaluate_on_the_runs_validation_set(run_dir, data_dir, capsys):
    """--split val draws the run's validation split again from its seed: last.npz scores what training logged."""
    assert main(["evaluate", str(run_dir / "last.npz"), "--data-dir", str(data_dir), "--split", "val"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "fashion-mnist val (30 images)" in out
    assert f"accuracy {100 * summary['val_accuracy']['final']:.2f}%" in out
