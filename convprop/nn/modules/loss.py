"""Loss layers; each holds its options (and class weights) and calls the function in ``F``."""

from __future__ import annotations

from convprop.nn import functional as F
from convprop.nn.modules.module import Module

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {_REDUCTIONS}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        # A buffer, as in PyTorch: saved in state_dict and cast by .double().
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy between logits and class indices (log_softmax followed by nll_loss).

    .. math::
        \ell_n = -w_{y_n} \log \frac{e^{x_{n, y_n}}}{\sum_c e^{x_{n, c}}}

    with label smoothing ε the target is ``(1 - ε) one_hot(y) + ε / C``. With
    ``reduction='mean'`` the sum is divided by the summed weights of the targets.
    Its gradient with respect to the logits is ``softmax(x) - target`` (per sample, times the weight).

    Args:
        weight: a (C,) array of class weights. Default: None.
        ignore_index: a target value that contributes neither loss nor gradient. Default: -100.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        label_smoothing: ε in [0, 1]. Default: 0.

    Shape:
        Input (N, C) or (N, C, *); target (N) or (N, *) integer class indices; output scalar
        (or the target's shape with ``reduction='none'``).

    Example::

        >>> loss = CrossEntropyLoss()(logits, labels)
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    r"""Negative log likelihood of log-probabilities: :math:`\ell_n = -w_{y_n} x_{n, y_n}`.

    Args:
        weight: a (C,) array of class weights. Default: None.
        ignore_index: a target value that contributes neither loss nor gradient. Default: -100.
        reduction: ``'none'``, ``'mean'`` (divided by the summed target weights) or ``'sum'``. Default: ``'mean'``.

    Shape:
        Input (N, C) or (N, C, *); target (N) or (N, *) integer class indices.

    Example::

        >>> loss = NLLLoss()(F.log_softmax(logits, dim=1), labels)
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    r"""Mean squared error :math:`\ell_n = (x_n - y_n)^2`, reduced by ``reduction``; gradient ``2 (x - y) / n``.

    Args:
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Shape:
        Input and target of the same shape.

    Example::

        >>> loss = MSELoss()(prediction, target)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""Binary cross entropy on logits, computed stably:
    :math:`\ell_n = -w_n [y_n \log \sigma(x_n) + (1 - y_n) \log(1 - \sigma(x_n))]`.

    Args:
        weight: per-element rescaling weight, broadcast to the input. Default: None.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        pos_weight: weight of the positive examples, per class. Default: None.

    Shape:
        Input and target of the same shape.
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class L1Loss(_Loss):
    r"""Mean absolute error :math:`\ell_n = |x_n - y_n|`, reduced by ``reduction``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    r""":math:`\ell_n = 0.5 d^2 / \beta` if :math:`d = |x_n - y_n| < \beta`, else :math:`d - 0.5 \beta`.

    Args:
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        beta: where the loss turns from quadratic to linear. Default: 1.0.
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    r""":math:`\ell_n = 0.5 d^2` if :math:`d = |x_n - y_n| < \delta`, else :math:`\delta (d - 0.5 \delta)`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    r"""KL divergence of log-probabilities ``input`` from ``target``: :math:`\ell = t (\ln t - x)`.

    Args:
        reduction: ``'none'``, ``'mean'``, ``'sum'`` or ``'batchmean'`` (the KL per sample). Default: ``'mean'``.
        log_target: the target holds log-probabilities. Default: False.
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        if reduction not in (*_REDUCTIONS, "batchmean"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_WeightedLoss):
    r"""Binary cross entropy of probabilities: :math:`\ell_n = -w_n [y_n \ln x_n + (1 - y_n) \ln(1 - x_n)]`
    (each log clamped at -100)."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)
