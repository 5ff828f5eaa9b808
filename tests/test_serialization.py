"""convprop.save / convprop.load: safe round trips, PyTorch's safetensors files, and hostile files."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

import convprop
from convprop import nn, optim
from tests.helpers import require_torch


def _round_trip(obj):
    buffer = io.BytesIO()
    convprop.save(obj, buffer)
    buffer.seek(0)
    return convprop.load(buffer)


def _saved_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    convprop.save(obj, buffer)
    return buffer.getvalue()


def test_round_trip_keeps_structure_types_and_values():
    obj = {
        "epoch": 3,
        "best": float("inf"),
        "ratio": np.float32(0.25),
        "flags": [True, None, "text", float("nan")],
        "betas": (0.9, 0.999),
        "by_index": {0: np.arange(3), 1: {"step": 2}},
        "tensor": convprop.tensor([[1.0, 2.0]], dtype=convprop.float64),
        "ints": convprop.tensor([1, 2]),
        "mask": np.array([True, False]),
        "scalar": np.array(1.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float16),
    }
    back = _round_trip(obj)
    assert list(back) == list(obj)
    assert back["epoch"] == 3 and back["best"] == float("inf") and back["ratio"] == 0.25
    assert back["flags"][:3] == [True, None, "text"] and np.isnan(back["flags"][3])
    assert back["betas"] == (0.9, 0.999) and isinstance(back["betas"], tuple)
    assert set(back["by_index"]) == {0, 1} and back["by_index"][1] == {"step": 2}
    assert isinstance(back["tensor"], convprop.Tensor) and isinstance(back["mask"], np.ndarray)
    for key in ("tensor", "ints", "mask", "scalar", "empty", "by_index"):
        want = obj[key][0] if key == "by_index" else obj[key]
        got = back[key][0] if key == "by_index" else back[key]
        assert np.asarray(got).dtype == np.asarray(want).dtype and np.array_equal(np.asarray(got), np.asarray(want))


def test_model_and_optimizer_checkpoint_resume_identically(tmp_path):
    convprop.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    x, y = convprop.randn(4, 1, 4, 4), convprop.randint(0, 3, (4,))

    def step(m, o):
        o.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        o.step()
        return loss.item()

    step(model, opt)
    convprop.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ck.safetensors")
    loaded = convprop.load(str(tmp_path / "ck.safetensors"))
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    twin.load_state_dict(loaded["model"])
    twin_opt = optim.Adam(twin.parameters())
    twin_opt.load_state_dict(loaded["optimizer"])
    assert twin_opt.param_groups[0]["betas"] == (0.8, 0.9)
    assert [step(model, opt) for _ in range(3)] == [step(twin, twin_opt) for _ in range(3)]


def test_reads_safetensors_written_by_pytorch(tmp_path):
    torch = require_torch()
    safetensors_torch = pytest.importorskip("safetensors.torch", reason="pip install safetensors (CI installs it)")
    torch.manual_seed(0)
    th_layer = torch.nn.Conv2d(2, 3, 3, padding=1).double()
    safetensors_torch.save_file(th_layer.state_dict(), str(tmp_path / "conv.safetensors"))
    state = convprop.load(tmp_path / "conv.safetensors")
    assert list(state) == ["bias", "weight"] or set(state) == {"weight", "bias"}
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    layer.load_state_dict(state)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    np.testing.assert_allclose(layer(convprop.tensor(x)).data, th_layer(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # and PyTorch reads what convprop writes
    convprop.save(layer.state_dict(), tmp_path / "back.safetensors")
    back = safetensors_torch.load_file(str(tmp_path / "back.safetensors"))
    np.testing.assert_array_equal(back["weight"].numpy(), layer.weight.data)


@pytest.mark.parametrize("legacy", [False, True])
def test_pickle_files_are_refused_with_the_conversion_command(tmp_path, legacy):
    torch = require_torch()
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(ValueError, match=r"pickle-based PyTorch file.*save_file\(torch\.load") as info:
        convprop.load(path)
    assert "\n" not in str(info.value)


def test_save_rejects_what_it_cannot_store_safely():
    with pytest.raises(TypeError, match=r"cannot store a set at the top level"):
        convprop.save({1, 2}, io.BytesIO())
    with pytest.raises(TypeError, match=r"cannot store a object at model\.0"):
        convprop.save({"model": [object()]}, io.BytesIO())
    with pytest.raises(TypeError, match=r"dtype complex128"):
        convprop.save({"z": np.zeros(2, dtype=complex)}, io.BytesIO())


def _header_and_body(blob: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def _with_header(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _load_bytes(blob: bytes):
    return convprop.load(io.BytesIO(blob))


def test_hostile_headers_give_clear_errors():
    blob = _saved_bytes({"w": np.arange(6.0).reshape(2, 3), "n": 1})
    header, body = _header_and_body(blob)
    cases = {
        "empty": b"",
        "short": b"\x01\x02",
        "huge header size": struct.pack("<Q", 2**63) + blob[8:],
        "header past the end": struct.pack("<Q", len(blob)) + blob[8:],
        "not json": struct.pack("<Q", 4) + b"{{{{" + body,
        "not an object": _with_header([1, 2], body),  # type: ignore[arg-type]
        "offsets past the data": _with_header({**header, "w": {**header["w"], "data_offsets": [0, 10**12]}}, body),
        "offsets not ints": _with_header({**header, "w": {**header["w"], "data_offsets": ["a", 1]}}, body),
        "shape larger than data": _with_header({**header, "w": {**header["w"], "shape": [10**9, 10**9]}}, body),
        "unknown dtype": _with_header({**header, "w": {**header["w"], "dtype": "X9"}}, body),
        "structure names a missing tensor": _with_header(
            {**header, "__metadata__": {"convprop": json.dumps({"format": 1, "structure": {"__tensor__": "nope"}})}},
            body,
        ),
        "metadata not json": _with_header({**header, "__metadata__": {"convprop": "{"}}, body),
        "deeply nested structure": _with_header(
            {**header, "__metadata__": {"convprop": '{"format": 1, "structure": ' + "[" * 100000 + "]" * 100000 + "}"}},
            body,
        ),
    }
    for name, data in cases.items():
        with pytest.raises(ValueError, match=r"^load: ") as info:
            _load_bytes(data)
        assert "\n" not in str(info.value), name


def test_truncated_and_corrupted_files_never_crash():
    blob = _saved_bytes({"a": np.arange(10.0), "b": {"c": np.ones((2, 2), dtype=np.int64)}, "d": [1, 2.5]})
    for cut in range(0, len(blob), 7):
        with pytest.raises(ValueError, match=r"^load: "):
            _load_bytes(blob[:cut])
    rng = np.random.default_rng(0)
    for _ in range(300):
        data = bytearray(blob)
        for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[pos] = rng.integers(0, 256)
        try:
            _load_bytes(bytes(data))
        except ValueError as exc:
            assert str(exc).startswith("load: ") and "\n" not in str(exc)
