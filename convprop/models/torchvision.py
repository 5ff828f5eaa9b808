"""torchvision's ImageNet classifiers, its module names and state_dict keys: resnet18/34/50, vgg11_bn, mobilenet_v2.

Architectures, constructor arguments, initialisation and state_dict keys follow
``torchvision.models`` (checked against torchvision 0.29.1, ``tests/test_models_torchvision.py``),
so weights a user has for a torchvision model load with ``load_state_dict`` and give the
same logits. convprop downloads no weights (``weights`` must be None): save a torchvision
state_dict once as safetensors with PyTorch, then load that file here::

    # with PyTorch: safetensors.torch.save_file(torch_model.state_dict(), "resnet18.safetensors")
    model = convprop.models.resnet18()
    model.load_state_dict(convprop.load("resnet18.safetensors"))
    logits = model.eval()(images)  # images: N x 3 x H x W, normalised as the weights were trained

Two keyword arguments are convprop's own: ``in_channels`` (default 3; it sets the first
conv's input channels, e.g. 1 for grayscale images) and ``generator`` (the
``np.random.Generator`` the initial weights are drawn from; default: the generator
that ``convprop.manual_seed`` seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from convprop import nn, random
from convprop.models._common import he_init
from convprop.nn import functional as F

NormLayer = Callable[[int], nn.Module]


def _check_no_weights(name: str, weights) -> None:
    if weights is not None:
        raise ValueError(
            f"{name}: convprop downloads no weights (got weights={weights!r}); build it with weights=None, then "
            f"load a state_dict that PyTorch saved with safetensors.torch.save_file: "
            f"model.load_state_dict(convprop.load('{name}.safetensors'))"
        )


def _normal_linear_init(model: nn.Module, g: np.random.Generator) -> None:
    """Linear weights ~ N(0, 0.01²), biases 0: the classifier initialisation of VGG and MobileNetV2."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01, generator=g)
            nn.init.zeros_(m.bias)


# ResNet (He et al. 2016), the ImageNet form: 7x7 stem, max pool, four stages.


def _conv3x3(cin: int, cout: int, stride: int, groups: int, dilation: int, g) -> nn.Conv2d:
    return nn.Conv2d(
        cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups, bias=False, generator=g
    )


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))``, two 3x3 convs; ``downsample`` is None (identity)
    or the strided 1x1 conv + norm that matches the shapes (torchvision's ``BasicBlock``).

    Args:
        inplanes: input channels.
        planes: output channels (``expansion`` = 1).
        stride: stride of conv1. Default: 1.
        downsample: the shortcut module, or None for the identity.
        groups, base_width: must be 1 and 64 (ResNeXt-style widths need :class:`Bottleneck`).
        dilation: must be 1.
        norm_layer: builds the normalisation from a channel count. Default: ``nn.BatchNorm2d``.
        generator: ``np.random.Generator`` for the initial weights.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        *,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock only supports groups=1 and base_width=64, got {groups} and {base_width}")
        if dilation > 1:
            raise NotImplementedError(f"Dilation > 1 not supported in BasicBlock, got dilation={dilation}")
        g = random.resolve(generator, "BasicBlock")
        self.conv1 = _conv3x3(inplanes, planes, stride, 1, 1, g)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, 1, 1, 1, g)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + downsample(x))``: a 1x1 conv down to ``width``
    channels, a 3x3 conv (strided, grouped, dilated), a 1x1 conv up to ``4 planes`` (torchvision's ``Bottleneck``,
    the stride on the 3x3 conv as in its "ResNet v1.5").

    Args:
        inplanes: input channels.
        planes: output channels / 4 (``expansion`` = 4).
        stride: stride of conv2. Default: 1.
        downsample: the shortcut module, or None for the identity.
        groups: groups of conv2. Default: 1.
        base_width: ``width = int(planes * base_width / 64) * groups``. Default: 64.
        dilation: dilation (and padding) of conv2. Default: 1.
        norm_layer: builds the normalisation from a channel count. Default: ``nn.BatchNorm2d``.
        generator: ``np.random.Generator`` for the initial weights.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        *,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        g = random.resolve(generator, "Bottleneck")
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False, generator=g)
        self.bn1 = norm_layer(width)
        self.conv2 = _conv3x3(width, width, stride, groups, dilation, g)
        self.bn2 = norm_layer(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False, generator=g)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """The ImageNet ResNet: a 7x7 stride-2 stem and a max pool, four stages of blocks, global pooling, fc.

    Layers (``layers`` = blocks per stage; 224x224 input; e = ``block.expansion``, 1 or 4)::

        conv1: Conv2d(C, 64, 7, stride=2, padding=3, bias=False) -> bn1 -> relu     64 x 112 x 112
        maxpool: MaxPool2d(3, stride=2, padding=1)                                   64 x 56 x 56
        layer1: layers[0] blocks, 64 e channels                                      64e x 56 x 56
        layer2..4: 128e, 256e, 512e channels, the first block of each with stride 2  512e x 7 x 7
        avgpool: AdaptiveAvgPool2d((1, 1)) -> flatten -> fc: Linear(512 e, num_classes)

    Any input size works (global pooling); 32x32 images reach layer4 as 1x1.
    Initialisation as torchvision: convs ~ kaiming_normal_(mode='fan_out', nonlinearity='relu'),
    norm weights 1 and biases 0, fc PyTorch's Linear default.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` (resnet18).
        num_classes: outputs of fc. Default: 1000.
        zero_init_residual: start each block's last norm weight at 0, so every block begins as the identity.
            Default: False.
        groups: groups of each Bottleneck's 3x3 conv (ResNeXt); 1 for BasicBlock. Default: 1.
        width_per_group: Bottleneck width per group (64: ResNet, 128 with groups=1: Wide ResNet); 64 for
            BasicBlock. Default: 64.
        replace_stride_with_dilation: three bools, one for each of layer2..4: dilate instead of striding
            (Bottleneck only). Default: None (all False).
        norm_layer: builds the normalisation from a channel count. Default: ``nn.BatchNorm2d``.
        in_channels: image channels (convprop's own). Default: 3.
        generator: ``np.random.Generator`` for the initial weights (convprop's own).
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: Sequence[bool] | None = None,
        norm_layer: NormLayer | None = None,
        *,
        in_channels: int = 3,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        dilate = [False] * 3 if replace_stride_with_dilation is None else list(replace_stride_with_dilation)
        if len(dilate) != 3:
            raise ValueError(
                f"replace_stride_with_dilation should be None or a 3-element tuple, got {replace_stride_with_dilation}"
            )
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the blocks of 4 stages, got {list(layers)}")
        g = random.resolve(generator, "ResNet")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False, generator=g)
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes, dilation = 64, 1
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride, first_dilation = (1 if i == 0 else 2), dilation
            if i > 0 and dilate[i - 1]:  # keep the resolution; widen the receptive field instead
                dilation, stride = dilation * stride, 1
            out = planes * block.expansion
            downsample = None
            if stride != 1 or inplanes != out:
                downsample = nn.Sequential(
                    nn.Conv2d(inplanes, out, 1, stride=stride, bias=False, generator=g), norm_layer(out)
                )
            make = partial(block, groups=groups, base_width=width_per_group, norm_layer=norm_layer, generator=g)
            stage = [make(inplanes, planes, stride, downsample, dilation=first_dilation)]
            stage += [make(out, planes, dilation=dilation) for _ in range(1, blocks)]
            inplanes = out
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes, generator=g)
        he_init(self, g)
        if zero_init_residual:
            for m in self.modules():
                last = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if last is not None and last.weight is not None:
                    nn.init.zeros_(last.weight)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-18 (torchvision's): BasicBlocks ``[2, 2, 2, 2]``; 11,689,512 parameters for 1000 classes,
    1.81 G multiply-accumulates per 3x224x224 image.

    Args:
        weights: must be None (convprop downloads nothing; load a state_dict instead).
        progress: accepted for torchvision's signature (nothing is downloaded).
        **kwargs: :class:`ResNet`'s arguments (``num_classes``, ``zero_init_residual``, ``norm_layer``,
            ``in_channels``, ``generator``, ...).
    """
    _check_no_weights("resnet18", weights)
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-34 (torchvision's): BasicBlocks ``[3, 4, 6, 3]``; 21,797,672 parameters for 1000 classes,
    3.66 G multiply-accumulates per 3x224x224 image. Arguments as :func:`resnet18`.
    """
    _check_no_weights("resnet34", weights)
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-50 (torchvision's, v1.5): Bottlenecks ``[3, 4, 6, 3]``; 25,557,032 parameters for 1000 classes,
    4.09 G multiply-accumulates per 3x224x224 image. Arguments as :func:`resnet18`.
    """
    _check_no_weights("resnet50", weights)
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


# VGG (Simonyan and Zisserman 2014), configuration "A" (11 layers) with BatchNorm.

_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def _vgg_bn_features(config, in_channels: int, g: np.random.Generator) -> nn.Sequential:
    """VGG's ``features``: each number a Conv2d(3x3, padding 1) -> BatchNorm2d -> ReLU, each "M" a 2x2 max pool."""
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers += [nn.Conv2d(in_channels, v, 3, padding=1, generator=g), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: ``features`` (3x3 convs and 2x2 max pools), a 7x7 adaptive average pool, three fully connected layers.

    Layers (vgg11_bn, 224x224 input)::

        features: [Conv2d(C, 64, 3, padding=1) -> BatchNorm2d -> ReLU], MaxPool2d(2)      64 x 112 x 112
                  ... 128, M, 256, 256, M, 512, 512, M, 512, 512, M                        512 x 7 x 7
        avgpool: AdaptiveAvgPool2d((7, 7))
        classifier: Linear(25088, 4096) -> ReLU -> Dropout -> Linear(4096, 4096) -> ReLU -> Dropout
                    -> Linear(4096, num_classes)

    Five 2x2 pools need at least 32x32 images; the adaptive pool then gives 7x7 for any size.
    Initialisation as torchvision: convs ~ kaiming_normal_(mode='fan_out', nonlinearity='relu')
    with zero bias, BatchNorm weight 1 and bias 0, Linear weights ~ N(0, 0.01²) with zero bias.

    Args:
        features: the convolutional part.
        num_classes: outputs of the last layer. Default: 1000.
        init_weights: apply the initialisation above (else each layer's default). Default: True.
        dropout: dropout probability in the classifier. Default: 0.5.
        generator: ``np.random.Generator`` for the initial weights and the dropout masks (convprop's own).
    """

    def __init__(
        self,
        features: nn.Module,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
        *,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        g = random.resolve(generator, "VGG")
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096, generator=g),
            nn.ReLU(True),
            nn.Dropout(p=dropout, generator=g),
            nn.Linear(4096, 4096, generator=g),
            nn.ReLU(True),
            nn.Dropout(p=dropout, generator=g),
            nn.Linear(4096, num_classes, generator=g),
        )
        if init_weights:
            he_init(self, g)
            _normal_linear_init(self, g)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def vgg11_bn(*, weights=None, progress: bool = True, in_channels: int = 3, generator=None, **kwargs) -> VGG:
    """VGG-11 with BatchNorm (torchvision's): 132,868,840 parameters for 1000 classes (103 M of them in the first
    Linear), 7.61 G multiply-accumulates per 3x224x224 image.

    Args:
        weights: must be None (convprop downloads nothing; load a state_dict instead).
        progress: accepted for torchvision's signature (nothing is downloaded).
        in_channels: image channels (convprop's own). Default: 3.
        generator: ``np.random.Generator`` for the initial weights and dropout masks (convprop's own).
        **kwargs: :class:`VGG`'s arguments (``num_classes``, ``init_weights``, ``dropout``).
    """
    _check_no_weights("vgg11_bn", weights)
    g = random.resolve(generator, "vgg11_bn")
    return VGG(_vgg_bn_features(_VGG11, in_channels, g), generator=g, **kwargs)


# MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks.


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more than 10% below v."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (no bias; 'same'-style padding ``(kernel_size - 1) // 2``) -> norm -> activation, as one Sequential
    (torchvision.ops' block, with the arguments MobileNetV2 uses)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer | None = None,
        activation_layer: Callable[..., nn.Module] | None = None,
        *,
        generator: np.random.Generator | None = None,
    ):
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        activation_layer = nn.ReLU if activation_layer is None else activation_layer
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False,
            generator=generator,
        )
        super().__init__(conv, norm_layer(out_channels), activation_layer(inplace=True))
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """Expand (1x1 conv, ReLU6) -> depthwise 3x3 (ReLU6) -> project (1x1 conv, no activation), plus x when
    the stride is 1 and the channels match.

    Args:
        inp: input channels.
        oup: output channels.
        stride: 1 or 2, the depthwise conv's stride.
        expand_ratio: hidden channels = ``round(inp * expand_ratio)``; 1 skips the expansion conv.
        norm_layer: builds the normalisation from a channel count. Default: ``nn.BatchNorm2d``.
        generator: ``np.random.Generator`` for the initial weights (convprop's own).
    """

    def __init__(
        self,
        inp: int,
        oup: int,
        stride: int,
        expand_ratio: int,
        norm_layer: NormLayer | None = None,
        *,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        g = random.resolve(generator, "InvertedResidual")
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(inp, hidden, 1, norm_layer=norm_layer, activation_layer=nn.ReLU6, generator=g)
            )
        layers += [
            Conv2dNormActivation(
                hidden, hidden, 3, stride, groups=hidden, norm_layer=norm_layer, activation_layer=nn.ReLU6, generator=g
            ),
            nn.Conv2d(hidden, oup, 1, bias=False, generator=g),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# (expand ratio t, output channels c, blocks n, stride s of the first block) for each stage, from the paper.
_MOBILENET_V2 = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


class MobileNetV2(nn.Module):
    """MobileNetV2: a 3x3 stride-2 stem, 17 inverted residual blocks, a 1x1 conv to 1280 channels, pooling, fc.

    Layers (224x224 input)::

        features.0: Conv2dNormActivation(C, 32, 3, stride=2), ReLU6              32 x 112 x 112
        features.1-17: InvertedResidual blocks per the (t, c, n, s) table       320 x 7 x 7
        features.18: Conv2dNormActivation(320, 1280, 1), ReLU6                   1280 x 7 x 7
        adaptive_avg_pool2d(1) -> flatten -> classifier: Dropout -> Linear(1280, num_classes)

    Channel counts are multiplied by ``width_mult`` and rounded to multiples of ``round_nearest``.
    Initialisation as torchvision: convs ~ kaiming_normal_(mode='fan_out'), norm weights 1 and
    biases 0, Linear weights ~ N(0, 0.01²) with zero bias.

    Args:
        num_classes: outputs of the last layer. Default: 1000.
        width_mult: channel multiplier. Default: 1.0.
        inverted_residual_setting: the (t, c, n, s) rows. Default: the paper's.
        round_nearest: channel counts are multiples of this. Default: 8.
        block: the block class. Default: :class:`InvertedResidual`.
        norm_layer: builds the normalisation from a channel count. Default: ``nn.BatchNorm2d``.
        dropout: dropout probability before the last layer. Default: 0.2.
        in_channels: image channels (convprop's own). Default: 3.
        generator: ``np.random.Generator`` for the initial weights and the dropout mask (convprop's own).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        inverted_residual_setting: Sequence[Sequence[int]] | None = None,
        round_nearest: int = 8,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: NormLayer | None = None,
        dropout: float = 0.2,
        *,
        in_channels: int = 3,
        generator: np.random.Generator | None = None,
    ):
        super().__init__()
        block = InvertedResidual if block is None else block
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        setting = _MOBILENET_V2 if inverted_residual_setting is None else inverted_residual_setting
        if len(setting) == 0 or any(len(row) != 4 for row in setting):
            raise ValueError(f"inverted_residual_setting should be non-empty or a 4-element list, got {setting}")
        g = random.resolve(generator, "MobileNetV2")
        channels = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [
            Conv2dNormActivation(
                in_channels, channels, 3, 2, norm_layer=norm_layer, activation_layer=nn.ReLU6, generator=g
            )
        ]
        for t, c, n, s in setting:
            out = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(channels, out, s if i == 0 else 1, t, norm_layer, generator=g))
                channels = out
        features.append(
            Conv2dNormActivation(
                channels, self.last_channel, 1, norm_layer=norm_layer, activation_layer=nn.ReLU6, generator=g
            )
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout, generator=g), nn.Linear(self.last_channel, num_classes, generator=g)
        )
        he_init(self, g)
        _normal_linear_init(self, g)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


def mobilenet_v2(*, weights=None, progress: bool = True, **kwargs) -> MobileNetV2:
    """MobileNetV2 (torchvision's): 3,504,872 parameters for 1000 classes, 0.30 G multiply-accumulates per
    3x224x224 image.

    Args:
        weights: must be None (convprop downloads nothing; load a state_dict instead).
        progress: accepted for torchvision's signature (nothing is downloaded).
        **kwargs: :class:`MobileNetV2`'s arguments (``num_classes``, ``width_mult``, ``norm_layer``, ``dropout``,
            ``in_channels``, ``generator``, ...).
    """
    _check_no_weights("mobilenet_v2", weights)
    return MobileNetV2(**kwargs)
