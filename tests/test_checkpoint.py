"""Checkpoint format: exact round trip, atomic writes, and a clear CheckpointError for every kind of damage."""

from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np
import pytest

from convprop.train.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
)


class _ArrayModel:
    """The two methods load_model_state needs, over a dict of arrays."""

    def __init__(self, state):
        self.state = {k: v.copy() for k, v in state.items()}

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = {k: np.array(v) for k, v in state.items()}


def _state(rng, width=4):
    return {
        "0.weight": rng.standard_normal((width, 3)),
        "0.bias": rng.standard_normal(width).astype(np.float32),
        "1.num_batches_tracked": np.array(7, dtype=np.int64),
    }


def _write(tmp_path, rng, name="ck.npz", model_name="tiny"):
    state = _state(rng)
    optimizer = {
        "state": {0: {"step": 3, "exp_avg": rng.standard_normal((4, 3))}, 1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 0.1 / 3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}],
    }
    header = {
        "model": {"name": model_name, "kwargs": {"num_classes": 4}, "state_keys": sorted(state)},
        "epoch": 2,
        "rng": {"shuffle": np.random.default_rng(5).bit_generator.state},
        "history": [{"epoch": 1, "test_acc": 0.5, "test_loss": float("inf")}],
    }
    path = save_checkpoint(tmp_path / name, header, state, {"optimizer": optimizer, "scheduler": {"last_epoch": 9}})
    return path, state, optimizer, header


def test_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    path, state, optimizer, _ = _write(tmp_path, rng)
    ck = load_checkpoint(path, model_name="tiny")
    assert ck.model_name == "tiny"
    assert sorted(ck.model_state) == sorted(state)
    for key, value in state.items():
        assert ck.model_state[key].dtype == value.dtype
        assert np.array_equal(ck.model_state[key], value)
    opt = ck.header["states"]["optimizer"]
    assert set(opt["state"]) == {0, 1}  # integer keys survive JSON
    assert np.array_equal(opt["state"][0]["exp_avg"], optimizer["state"][0]["exp_avg"])
    assert opt["state"][1]["momentum_buffer"] is None
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999)
    assert opt["param_groups"][0]["lr"] == 0.1 / 3  # floats round-trip bit for bit through JSON
    assert ck.header["states"]["scheduler"] == {"last_epoch": 9}
    assert ck.header["history"][0]["test_loss"] == float("inf")
    gen = np.random.default_rng()
    gen.bit_generator.state = ck.header["rng"]["shuffle"]
    assert np.array_equal(gen.integers(0, 2**62, 8), np.random.default_rng(5).integers(0, 2**62, 8))
    with np.load(path, allow_pickle=False) as npz:  # the file holds arrays only: no pickle needed to read it
        assert "__header__" in npz.files


def test_header_keeps_key_order(tmp_path):
    """Records come back with their keys in the order they were written (metrics.csv columns depend on it)."""
    record = {"epoch": 1, "step": 5, "lr": 0.1, "train_loss": 2.0, "test_acc": 0.5}
    path = save_checkpoint(tmp_path / "ck.npz", {"model": {"name": "tiny"}, "history": [record]}, {})
    assert list(load_checkpoint(path).header["history"][0]) == list(record)


def test_load_model_state_copies_weights(tmp_path):
    rng = np.random.default_rng(1)
    path, state, _, _ = _write(tmp_path, rng)
    model = _ArrayModel(_state(np.random.default_rng(99)))
    load_model_state(model, load_checkpoint(path))
    for key, value in state.items():
        assert np.array_equal(model.state[key], value)


def test_atomic_write_leaves_no_temp_files_and_replaces(tmp_path):
    rng = np.random.default_rng(2)
    _write(tmp_path, rng)
    path, state, _, _ = _write(tmp_path, rng)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    assert np.array_equal(load_checkpoint(path).model_state["0.weight"], state["0.weight"])
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like a file written with open()


def test_unencodable_state_is_refused_and_target_untouched(tmp_path):
    rng = np.random.default_rng(3)
    path, state, _, _ = _write(tmp_path, rng)
    with pytest.raises(TypeError, match="cannot store a object"):
        save_checkpoint(path, {"model": {"name": "tiny"}}, state, {"bad": object()})
    assert np.array_equal(load_checkpoint(path).model_state["0.weight"], state["0.weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.npz")


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, fraction):
    path, *_ = _write(tmp_path, np.random.default_rng(4))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(path)


def test_garbage_and_pickle_files(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(np.random.default_rng(5).bytes(2000))
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(path)
    # An object array can only be read with pickle, which we refuse.
    np.savez(path, __header__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(path)


def test_npy_and_pickle_files_are_not_checkpoints_and_pickle_is_never_suggested(tmp_path):
    import pickle

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    np.save(tmp_path / "plain.npy", np.zeros(3))
    (tmp_path / "state.pkl").write_bytes(pickle.dumps({"a": 1}))
    np.savez(tmp_path / "objects.npz", a=np.array([{"a": 1}], dtype=object))
    for name, message in [
        ("objects.npy", "is a NumPy .npy file, not a convprop checkpoint"),
        ("plain.npy", "is a NumPy .npy file, not a convprop checkpoint"),
        ("state.pkl", "is not a convprop checkpoint: it holds Python objects"),
        ("objects.npz", "is not a convprop checkpoint (or is truncated or corrupted): it holds Python objects"),
    ]:
        with pytest.raises(CheckpointError, match=re.escape(message)) as info:
            load_checkpoint(tmp_path / name)
        assert "allow_pickle" not in str(info.value) and "pickle.load" not in str(info.value), name


def _rewrite(path, mutate):
    """Rewrite the archive with ``mutate(dict of arrays)`` applied."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    mutate(arrays)
    np.savez(path, **arrays)


def _header_bytes(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def _bump_format_version(arrays):
    header = json.loads(arrays["__header__"].tobytes())
    header["format_version"] = FORMAT_VERSION + 1
    arrays["__header__"] = _header_bytes(header)


def test_corrupted_member_bytes(tmp_path):
    path, *_ = _write(tmp_path, np.random.default_rng(6))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model/0.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    data[start : start + 8] = b"\xff" * 8  # inside the .npy header of one member: bad CRC / bad npy
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("seed", "damage", "message"),
    [
        pytest.param(
            7,
            lambda a: a.__setitem__("__header__", np.frombuffer(b'{"format": "conv', dtype=np.uint8)),
            "corrupted header",
            id="bad_json_header",
        ),
        pytest.param(8, lambda a: a.pop("__header__"), "not a convprop checkpoint", id="missing_header"),
        pytest.param(9, _bump_format_version, "newer convprop", id="newer_format_version"),
        pytest.param(10, lambda a: a.pop("model/0.bias"), r"missing model arrays: 0\.bias", id="missing_model_array"),
        pytest.param(11, lambda a: a.pop("state/0"), "state/0", id="missing_state_array"),
    ],
)
def test_damaged_archive(tmp_path, seed, damage, message):
    path, *_ = _write(tmp_path, np.random.default_rng(seed))
    _rewrite(path, damage)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, __header__=_header_bytes({"hello": 1}), x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a convprop checkpoint"):
        load_checkpoint(path)


def test_wrong_model_name(tmp_path):
    path, *_ = _write(tmp_path, np.random.default_rng(12), model_name="lenet5")
    with pytest.raises(CheckpointError, match="holds a 'lenet5' model, not 'resnet8'"):
        load_checkpoint(path, model_name="resnet8")


def test_shape_and_key_mismatch(tmp_path):
    rng = np.random.default_rng(13)
    path, *_ = _write(tmp_path, rng)
    ck = load_checkpoint(path)
    wider = _ArrayModel(_state(rng, width=5))
    with pytest.raises(CheckpointError, match=r"0\.weight has shape \(4, 3\) in the file but \(5, 3\) in the model"):
        load_model_state(wider, ck)
    other = _ArrayModel({"fc.weight": np.zeros((2, 2))})
    with pytest.raises(CheckpointError, match="missing keys"):
        load_model_state(other, ck)
