"""Accept and reject like PyTorch: each call runs in both libraries.

Where PyTorch returns, convprop returns the same shape, dtype and values; where PyTorch raises,
convprop raises a ValueError, TypeError, RuntimeError or IndexError with a one-line message
(never NumPy's own errors, a ZeroDivisionError or a MemoryError).
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest

import convprop
from tests.helpers import require_torch

CLEAR_ERRORS = (ValueError, TypeError, RuntimeError, IndexError)


def _step(lib, optimizer, **options):
    """One step of ``lib.optim.<optimizer>(**options)`` on a parameter of ones with gradient ones."""
    p = lib.nn.Parameter(lib.ones(2))
    p.grad = lib.ones(2)
    getattr(lib.optim, optimizer)([p], **options).step()
    return p.detach()


def _run(lib, case):
    F = lib.nn.functional
    return case(lib, F)


CASES = {
    # valid inputs PyTorch accepts
    "clamp_tensor_bounds": lambda t, F: t.clamp(t.arange(6.0), t.full((6,), 1.0), t.full((6,), 4.0)),
    "squeeze_tuple": lambda t, F: t.zeros(1, 2, 1).squeeze((0, 2)),
    "max_dim_of_0d": lambda t, F: t.tensor(3.0).max(0)[0],
    "min_dim_of_0d_indices": lambda t, F: t.tensor(3.0).min(-1)[1],
    "softmax_empty_dim": lambda t, F: t.softmax(t.zeros(2, 0), 1),
    "log_softmax_empty_dim": lambda t, F: F.log_softmax(t.zeros(0, 3), 0),
    "batchnorm_eval_batch0": lambda t, F: t.nn.BatchNorm2d(3).eval()(t.zeros(0, 3, 2, 2)),
    "batchnorm_train_batch0": lambda t, F: t.nn.BatchNorm2d(3)(t.zeros(0, 3, 2, 2)),
    "pad_reflect_negative": lambda t, F: F.pad(t.arange(12.0).reshape(1, 3, 4), (-1, 2), mode="reflect"),
    "pad_replicate_negative": lambda t, F: F.pad(t.arange(12.0).reshape(1, 3, 4), (-1, -2), mode="replicate"),
    "pad_circular_negative": lambda t, F: F.pad(t.arange(12.0).reshape(1, 3, 4), (-1, 1), mode="circular"),
    "pad_circular_negative_left": lambda t, F: F.pad(t.arange(12.0).reshape(1, 3, 4), (2, -1), mode="circular"),
    "pad_reflect_crop_then_pad": lambda t, F: F.pad(t.arange(10.0).reshape(2, 5), (2, -1), mode="reflect"),
    "pad_reflect_crop_too_far": lambda t, F: F.pad(t.arange(10.0).reshape(2, 5), (3, -2), mode="reflect"),
    "pad_replicate_mixed": lambda t, F: F.pad(t.arange(10.0).reshape(2, 5), (-2, 3), mode="replicate"),
    "cat_legacy_empty": lambda t, F: t.cat([t.zeros(0), t.ones(2, 3)]),
    "transpose_0d": lambda t, F: t.tensor(1.0).transpose(0, 0),
    "flatten_zero_size": lambda t, F: t.zeros(0, 3, 2).flatten(1),
    "adaptive_avg_pool_zero_channels": lambda t, F: F.adaptive_avg_pool2d(t.zeros(1, 0, 4, 4), 2),
    "mse_int_target_keeps_float32": lambda t, F: F.mse_loss(t.ones(2), t.tensor([1, 3])),
    "nll_loss_nothing_counted": lambda t, F: F.nll_loss(t.zeros(0, 3), t.zeros(0, dtype=t.long)),
    "pad_int_fractional_value": lambda t, F: F.pad(t.arange(4).reshape(1, 4), (1, 1), value=1.5),
    "tensor_ints_are_int64": lambda t, F: t.tensor([[1, 2], [3, 4]]),
    "tensor_bools": lambda t, F: t.tensor([True, False]),
    "conv_far_padding_tiny_output": lambda t, F: F.conv2d(t.ones(1, 1, 3, 3), t.ones(1, 1, 1, 1), t.ones(1),
                                                          padding=10**6, stride=10**6),
    # invalid inputs PyTorch rejects
    "tensor_none": lambda t, F: t.tensor(None),
    "tensor_list_with_none": lambda t, F: t.tensor([1.0, None]),
    "tensor_strings": lambda t, F: t.tensor(["1.5", "2"]),
    "tensor_string": lambda t, F: t.tensor("1.5"),
    "tensor_datetime": lambda t, F: t.tensor([datetime.datetime(2020, 1, 1)]),
    "unsqueeze_out_of_range": lambda t, F: t.zeros(2).unsqueeze(2),
    "squeeze_out_of_range": lambda t, F: t.zeros(2, 1).squeeze(2),
    "permute_out_of_range": lambda t, F: t.zeros(2, 3).permute(0, 2),
    "flatten_out_of_range": lambda t, F: t.zeros(2, 3).flatten(0, 2),
    "expand_minus_one_new_dim": lambda t, F: t.zeros(3).expand(-1, 3),
    "expand_wrong_size": lambda t, F: t.zeros(3, 1).expand(2, 4),
    "backward_string": lambda t, F: t.ones(2, requires_grad=True).mul(2).backward("1"),
    "nll_loss_int_input": lambda t, F: F.nll_loss(t.zeros(2, 3, dtype=t.long), t.tensor([0, 1])),
    "cross_entropy_prob_target_ignore_index": lambda t, F: F.cross_entropy(t.ones(2, 3), t.ones(2, 3) / 3,
                                                                           ignore_index=1),
    "cross_entropy_bool_target": lambda t, F: F.cross_entropy(t.ones(2, 3), t.ones(2, 3, dtype=t.bool)),
    "batchnorm_eps0_training": lambda t, F: F.batch_norm(t.ones(4, 3), t.zeros(3), t.ones(3), training=True, eps=0),
    "maximum_python_number": lambda t, F: t.maximum(t.ones(2), 2),
    "cross_entropy_half_weight": lambda t, F: F.cross_entropy(t.ones(2, 3), t.tensor([0, 1]),
                                                              weight=t.ones(3, dtype=t.float16)),
    "conv_zero_width": lambda t, F: F.conv2d(t.ones(1, 1, 3, 0), t.ones(2, 1, 1, 1), t.ones(2), padding=1),
    "pow_two_numbers": lambda t, F: t.pow(2, 3),
    "cat_0d": lambda t, F: t.cat([t.tensor(1.0), t.tensor(2.0)]),
    "nll_loss_zero_classes": lambda t, F: F.nll_loss(t.zeros(2, 0), t.tensor([0, 1])),
    "pad_int_inf": lambda t, F: F.pad(t.arange(4).reshape(1, 4), (1, 1), value=float("inf")),
    "conv_transpose_zero_spatial": lambda t, F: F.conv_transpose2d(t.ones(1, 1, 0, 3), t.ones(1, 2, 3, 3)),
    "pad_crops_below_zero": lambda t, F: F.pad(t.arange(12.0).reshape(1, 3, 4), (-3, -2), mode="reflect"),
    "one_hot_float": lambda t, F: F.one_hot(t.ones(3)),
    "topk_k_too_large": lambda t, F: t.ones(3).topk(4),
    "split_size_zero": lambda t, F: t.ones(3).split(0),
    "softmax_int": lambda t, F: t.softmax(t.ones(2, dtype=t.long), 0),
    "log_softmax_bool": lambda t, F: F.log_softmax(t.ones(2, dtype=t.bool), 0),
    "softmax_int_with_dtype": lambda t, F: t.softmax(t.arange(3), 0, dtype=t.float64),
    "cross_entropy_negative_smoothing": lambda t, F: F.cross_entropy(t.arange(6.0).reshape(2, 3) / 4, t.tensor([0, 0]),
                                                                    label_smoothing=-0.1),
    "cross_entropy_nan_smoothing": lambda t, F: F.cross_entropy(t.arange(6.0).reshape(2, 3) / 4, t.tensor([0, 0]),
                                                               label_smoothing=float("nan")),
    "cross_entropy_prob_negative_smoothing": lambda t, F: F.cross_entropy(t.arange(6.0).reshape(2, 3) / 4,
                                                                         t.arange(6.0).reshape(2, 3) / 15,
                                                                         label_smoothing=-0.3),
    "cross_entropy_loss_module_smoothing_above_one": lambda t, F: t.nn.CrossEntropyLoss(label_smoothing=1.5),
    "cross_entropy_smoothing_above_one": lambda t, F: F.cross_entropy(t.ones(2, 3), t.tensor([0, 2]),
                                                                     label_smoothing=1.5),
    # optimizer hyperparameters: PyTorch's SGD checks `lr < 0` (NaN passes), Adam checks `0 <= eps` (NaN fails)
    "sgd_lr_nan": lambda t, F: _step(t, "SGD", lr=float("nan")),
    "sgd_momentum_nan": lambda t, F: _step(t, "SGD", lr=0.1, momentum=float("nan")),
    "sgd_weight_decay_nan": lambda t, F: _step(t, "SGD", lr=0.1, weight_decay=float("nan")),
    "sgd_lr_inf": lambda t, F: _step(t, "SGD", lr=float("inf")),
    "sgd_lr_negative": lambda t, F: _step(t, "SGD", lr=-1.0),
    "adam_eps_nan": lambda t, F: _step(t, "Adam", eps=float("nan")),
    "adam_lr_nan": lambda t, F: _step(t, "Adam", lr=float("nan")),
    "adam_beta_nan": lambda t, F: _step(t, "Adam", betas=(float("nan"), 0.999)),
    "rmsprop_alpha_nan": lambda t, F: _step(t, "RMSprop", alpha=float("nan")),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_accepts_and_rejects_like_pytorch(name):
    torch = require_torch()
    case = CASES[name]
    try:
        want = _run(torch, case)
    except Exception:  # PyTorch rejects: convprop must too, clearly
        with pytest.raises(CLEAR_ERRORS) as info:
            _run(convprop, case)
        assert "\n" not in str(info.value).strip()
        return
    got = _run(convprop, case)
    if isinstance(want, torch.Tensor):
        assert got.shape == tuple(want.shape)
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
        np.testing.assert_allclose(np.asarray(got.data, dtype=float), want.detach().double().numpy(), equal_nan=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: convprop.zeros(10**7, 10**7),
        lambda: convprop.ones(10**6, 1) + convprop.ones(1, 10**7),
        lambda: convprop.nn.functional.conv2d(convprop.ones(1, 1, 3, 3), convprop.ones(1, 1, 1, 1), padding=10**6),
        lambda: convprop.nn.functional.cross_entropy(convprop.zeros(1, 10).expand(10**11, 10),
                                                     convprop.zeros(1, dtype=convprop.long).expand(10**11)),
        lambda: convprop.nn.functional.one_hot(convprop.tensor([10**12])),
    ],
)  # fmt: skip
def test_huge_allocations_are_refused_before_they_are_made(call):
    with pytest.raises(RuntimeError, match=r"would allocate [0-9.]+ TiB"):
        call()
