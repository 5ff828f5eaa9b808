"""`convprop export`: ONNX files give onnxruntime's logits equal to convprop's; safetensors keep every weight."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import convprop
from convprop import nn
from convprop.cli import main
from convprop.train.checkpoint import save_checkpoint
from convprop.train.export import ExportError, export_checkpoint
from convprop.train.models import build_model, load_model, model_record

ort = pytest.importorskip("onnxruntime", reason="the ONNX tests need onnxruntime (the test extra)")
pytest.importorskip("onnx", reason="ONNX export needs onnx (the onnx extra)")
MODEL_FILE = Path(__file__).parent / "data" / "custom_model.py"


def _checkpoint(path: Path, name: str, kwargs: dict, input_shape, seed: int = 0) -> Path:
    """A checkpoint of a freshly built model whose BatchNorm statistics are random, as after training."""
    rng = np.random.default_rng(seed)
    model = build_model(name, kwargs, rng)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.data[...] = rng.standard_normal(module.num_features)
            module.running_var.data[...] = rng.uniform(0.5, 2.0, module.num_features)
            module.weight.data[...] = rng.uniform(0.5, 1.5, module.num_features)
    classes = [f"c{i}" for i in range(kwargs.get("num_classes", 10))]
    header = {
        "model": {"name": name, "kwargs": kwargs, **model_record(name), "state_keys": list(model.state_dict())},
        "dataset": {
            "name": "synthetic", "classes": classes, "input_shape": list(input_shape),
            "mean": [0.5] * input_shape[0], "std": [0.25] * input_shape[0],
        },
    }  # fmt: skip
    return save_checkpoint(path, header, model.state_dict())


MODELS = [
    ("lenet5", {"num_classes": 10, "in_channels": 1, "input_size": 28}, (1, 28, 28)),
    ("lenet5", {"num_classes": 4, "in_channels": 3, "input_size": 32}, (3, 32, 32)),
    ("vggsmall", {"num_classes": 10, "in_channels": 1, "input_size": 28, "width": 4}, (1, 28, 28)),
    ("resnet8", {"num_classes": 10, "in_channels": 3, "width": 4}, (3, 32, 32)),
    (f"{MODEL_FILE}:TinyNet", {"num_classes": 5, "in_channels": 3, "hidden": 6}, (3, 12, 12)),
]


@pytest.mark.parametrize("name, kwargs, shape", MODELS, ids=["lenet5", "lenet5-rgb32", "vggsmall", "resnet8", "file"])
def test_onnx_logits_match_onnxruntime(tmp_path, capsys, name, kwargs, shape):
    ck_path = _checkpoint(tmp_path / "ck.npz", name, kwargs, shape)
    assert main(["export", str(ck_path), "--format", "onnx", "-o", str(tmp_path / "model.onnx")]) == 0
    assert "(ONNX opset 17)" in capsys.readouterr().out
    x = np.random.default_rng(1).standard_normal((8, *shape)).astype(np.float32)
    from convprop.train.checkpoint import load_checkpoint

    with convprop.no_grad():
        expected = load_model(load_checkpoint(ck_path))(convprop.Tensor(x)).data
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"input": x})
    assert logits.shape == expected.shape
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


def test_onnx_graph_names_opset_and_residual_adds(tmp_path):
    import onnx

    ck = _checkpoint(tmp_path / "ck.npz", *MODELS[3][:2], MODELS[3][2])
    main(["export", str(ck), "-o", str(tmp_path / "r.onnx")])  # the format from the suffix
    model = onnx.load(str(tmp_path / "r.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert model.opset_import[0].version == 17  # resnet8: stem BN, 2 per block, 2 projection shortcuts
    assert ops.count("Add") == 3 and ops.count("BatchNormalization") == 9 and "GlobalAveragePool" in ops
    assert json.loads(model.doc_string.split("; ", 2)[2])["classes"][0] == "c0"


def test_safetensors_hold_every_weight_and_the_facts(tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    ck = _checkpoint(tmp_path / "ck.npz", *MODELS[2][:2], MODELS[2][2])
    assert main(["export", str(ck), "--format", "safetensors", "-o", str(tmp_path / "w.safetensors")]) == 0
    from convprop.train.checkpoint import load_checkpoint

    state = load_model(load_checkpoint(ck)).state_dict()
    saved = load_file(str(tmp_path / "w.safetensors"))
    assert sorted(saved) == sorted(state)
    assert all(np.array_equal(saved[k], np.asarray(v)) for k, v in state.items())
    with safe_open(str(tmp_path / "w.safetensors"), "np") as f:
        metadata = f.metadata()
    assert metadata["model"] == '"vggsmall"' and json.loads(metadata["input_shape"]) == [1, 28, 28]


def test_a_forward_with_functions_is_refused(tmp_path):
    kwargs = {"num_classes": 3, "in_channels": 1, "hidden": 4}
    ck = _checkpoint(tmp_path / "ck.npz", f"{MODEL_FILE}:FunctionalNet", kwargs, (1, 8, 8))
    from convprop.train.checkpoint import load_checkpoint

    with pytest.raises(ExportError, match=r"the input of classifier \(Linear\) comes from an operation outside"):
        export_checkpoint(load_checkpoint(ck), "onnx", tmp_path / "f.onnx")
    assert not (tmp_path / "f.onnx").exists()


def test_export_needs_a_format(tmp_path, capsys):
    ck = _checkpoint(tmp_path / "ck.npz", *MODELS[0][:2], MODELS[0][2])
    assert main(["export", str(ck), "-o", str(tmp_path / "model.bin")]) == 2
    assert "say --format onnx or --format safetensors" in capsys.readouterr().err


def test_a_padding_mode_onnx_lacks_is_refused(tmp_path):
    from convprop.train.export import to_onnx

    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.Flatten())
    with pytest.raises(ExportError, match=r"cannot export 0: padding_mode='reflect' \(only 'zeros'\)"):
        to_onnx(model, (1, 5, 5), tmp_path / "m.onnx")
