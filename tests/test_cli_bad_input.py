"""Every bad invocation is one line on stderr and a non-zero exit, checked before the work that would blow up.

Each case runs ``python -m convprop`` in a subprocess (as a user would) and asserts the exit status and that
stderr is exactly one line. The files are doctored so that their headers ask for absurd sizes: a reader
that trusted them would raise MemoryError or OverflowError, or decode gigabytes.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from convprop.cli import main
from convprop.data import write_idx, write_idx_dataset
from convprop.data.cifar import MAX_BATCH_BYTES, RECORD_BYTES
from convprop.train.checkpoint import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
NO_NETWORK = "http://127.0.0.1:9/"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_dataset(tmp_path_factory.mktemp("idx"), n_train=120, n_test=40, seed=1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    args = ["train", "--data-dir", str(data_dir), "--out", str(out), "--model", "lenet5", "--epochs", "1"]
    assert main([*args, "--batch-size", "40", "--no-progress"]) == 0
    return out


def _convprop(*args, cwd=None):
    env = {**os.environ, "CONVPROP_DATA_URL": NO_NETWORK, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "convprop", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def _fails_in_one_line(*args, expect: str, status: int = 2, cwd=None) -> str:
    result = _convprop(*args, cwd=cwd)
    lines = result.stderr.splitlines()
    assert result.returncode == status, result.stderr
    assert len(lines) == 1, result.stderr
    assert expect in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def _doctor(run_dir: Path, target: Path, change) -> Path:
    """A copy of the run's last.npz whose header ``change(header)`` has edited."""
    ck = load_checkpoint(run_dir / "last.npz")
    header = {k: v for k, v in ck.header.items() if k not in ("states", "format", "format_version")}
    change(header)
    return save_checkpoint(target, header, ck.model_state, ck.header["states"])


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height (8-bit gray) and whose data is one empty IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


def test_width_too_large_is_refused_before_building_the_model(data_dir, tmp_path):
    _fails_in_one_line(
        "train",
        "--data-dir",
        data_dir,
        "--out",
        tmp_path / "r",
        "--width",
        1000000,
        expect="--width must be in 1..1024",
    )
    assert not (tmp_path / "r").exists()


def test_checkpoint_asking_for_a_huge_width(run_dir, tmp_path):
    path = _doctor(run_dir, tmp_path / "w.npz", lambda h: h["model"]["kwargs"].update(width=10**6))
    _fails_in_one_line("predict", path, tmp_path / "x.png", expect="the model's width is 1000000")


def test_checkpoint_asking_for_a_huge_input(run_dir, tmp_path):
    path = _doctor(run_dir, tmp_path / "s.npz", lambda h: h["dataset"].update(input_shape=[1, 100000, 100000]))
    (tmp_path / "x.png").write_bytes(b"")
    _fails_in_one_line("predict", path, tmp_path / "x.png", expect="input shape [1, 100000, 100000]")


def test_checkpoint_with_zero_classes(run_dir, tmp_path):
    def no_classes(h):
        h["dataset"]["classes"] = []
        h["model"]["kwargs"]["num_classes"] = 0

    path = _doctor(run_dir, tmp_path / "c.npz", no_classes)
    _fails_in_one_line("predict", path, tmp_path / "x.png", expect="num_classes is 0")


def test_checkpoint_header_that_is_a_list(run_dir, tmp_path):
    path = tmp_path / "list.npz"
    np.savez(path, __header__=np.frombuffer(b"[1, 2]", np.uint8))
    _fails_in_one_line("evaluate", path, expect="its header is a JSON list")


def test_npz_member_declaring_an_absurd_shape(run_dir, tmp_path):
    path = tmp_path / "shape.npz"
    path.write_bytes((run_dir / "last.npz").read_bytes())
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000000,), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117).encode() + b"\n" + b"\0" * 16
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model/extra.npy", npy)
    _fails_in_one_line("evaluate", path, expect="declares shape (100000000000000,)")


def test_compressed_npz_that_expands_to_hundreds_of_megabytes(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("a.npy", "w") as member:
        header = "{'descr': '|u1', 'fortran_order': False, 'shape': (314572800,), }"
        member.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117).encode() + b"\n")
        block = bytes(1 << 20)
        for _ in range(300):
            member.write(block)
    assert path.stat().st_size < 1 << 20
    _fails_in_one_line("evaluate", path, expect="a zip bomb?")


@pytest.mark.parametrize("side", [20000, 100000])
def test_png_declaring_an_enormous_image(run_dir, tmp_path, side):
    png = _png_header(tmp_path / "big.png", side, side)
    _fails_in_one_line("predict", run_dir, png, expect="big.png")


def test_idx_header_with_dimensions_0xffffffff(tmp_path):
    data = write_idx_dataset(tmp_path / "d", n_train=20, n_test=10)
    with gzip.open(data / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\0\0\x08\x03" + b"\xff" * 12)
    _fails_in_one_line(
        "train", "--data-dir", data, "--out", tmp_path / "r", "--model", "lenet5", expect="corrupt header"
    )


def test_cifar_archive_member_larger_than_a_batch(tmp_path):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        member = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        member.size = MAX_BATCH_BYTES + RECORD_BYTES
        with open(tmp_path / "zeros", "wb") as f:
            f.truncate(member.size)
        with open(tmp_path / "zeros", "rb") as f:
            tar.addfile(member, f)
    _fails_in_one_line(
        "train", "--dataset", "cifar10", "--data-dir", tmp_path, "--out", tmp_path / "r", "--model", "resnet8",
        expect="more than a CIFAR-10 batch holds",
    )  # fmt: skip


def test_empty_out_is_refused(data_dir, tmp_path):
    _fails_in_one_line(
        "train", "--data-dir", data_dir, "--out", "", expect="expected a path, got an empty string", cwd=tmp_path
    )
    assert list(tmp_path.iterdir()) == []


def test_out_under_a_file(data_dir, tmp_path):
    (tmp_path / "file").write_text("")
    _fails_in_one_line(
        "train", "--data-dir", data_dir, "--out", tmp_path / "file" / "run", expect="is a file, not a folder"
    )


def test_missing_data_dir(tmp_path):
    _fails_in_one_line("train", "--data-dir", tmp_path / "nowhere", "--out", tmp_path / "r", expect="no such folder")


def _empty_split(root: Path, split: str) -> Path:
    data = write_idx_dataset(root, n_train=40, n_test=20)
    prefix = "train" if split == "train" else "t10k"
    write_idx(data / f"{prefix}-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    return data


def test_empty_training_set(tmp_path):
    data = _empty_split(tmp_path / "d", "train")
    _fails_in_one_line("train", "--data-dir", data, "--out", tmp_path / "r", expect="training set of fashion-mnist")


def test_empty_test_set_when_evaluating(run_dir, tmp_path):
    data = _empty_split(tmp_path / "d", "test")
    _fails_in_one_line("evaluate", run_dir, "--data-dir", data, expect="holds no images: nothing to evaluate")


def test_diverging_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    out = tmp_path / "r"
    line = _fails_in_one_line(
        "train", "--data-dir", data_dir, "--out", out, "--model", "lenet5", "--lr", "1e30", "--epochs", "2",
        "--batch-size", "20", "--checkpoint-every", "1", "--scheduler", "none", "--no-progress",
        expect="the training loss became",
    )  # fmt: skip
    assert "try a lower --lr" in line
    step = int(line.split(" at step ")[1].split()[0])
    ck = load_checkpoint(out / "last.npz")
    assert ck.header["position"]["step"] == step - 1
    assert all(np.isfinite(v).all() for v in ck.model_state.values())


def test_predict_a_folder_predicts_each_image(run_dir, tmp_path):
    from PIL import Image

    for name in ("b.png", "a.png"):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / name)
    result = _convprop("predict", run_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("a.png:") < result.stdout.index("b.png:")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails_in_one_line("predict", run_dir, empty, expect="is a folder without PNG or JPEG images")


def test_predict_warns_about_an_inverted_image(run_dir, tmp_path):
    from PIL import Image

    path = _doctor(run_dir, tmp_path / "dark.npz", lambda h: h["dataset"].update(border_brightness=0.0))
    page = np.full((28, 28), 255, np.uint8)
    page[8:20, 8:20] = 30  # a dark object on a white page; the training images are light on black
    Image.fromarray(page).save(tmp_path / "photo.png")
    result = _convprop("predict", path, tmp_path / "photo.png")
    assert result.returncode == 0 and len(result.stderr.splitlines()) == 1
    assert "photo.png looks inverted" in result.stderr and "try with --invert" in result.stderr
    assert _convprop("predict", path, tmp_path / "photo.png", "--invert").stderr == ""


def test_stale_temp_files_are_cleaned_on_the_next_save(run_dir, tmp_path):
    ck = load_checkpoint(run_dir / "last.npz")
    stale = tmp_path / ".last.npz.abc123.tmp"  # what a write killed midway leaves behind
    stale.write_bytes(b"half")
    header = {k: v for k, v in ck.header.items() if k not in ("states", "format", "format_version")}
    save_checkpoint(tmp_path / "last.npz", header, ck.model_state, ck.header["states"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]


def test_run_files_are_written_atomically(run_dir):
    """No temporary files remain, and each JSON file parses (written whole, then renamed into place)."""
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    for name in ("summary.json", "metrics.json", "config.json"):
        json.loads((run_dir / name).read_text())
