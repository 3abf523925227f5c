"""CAM networks in plain torch: the paper's AlexNet-GAP and GoogLeNet-GAP, a ResNet-50 CAM variant,
and a small GAP net for quick experiments on CPU.

Every network is ``features`` (a conv trunk ending in M maps) + global pooling + a linear
classifier, so CAM(c) = sum_i W(c, i) F_i (paper, Eq. 1) is available for any class.

- ``alexnet_gap``: AlexNet-GAP as Zhou et al. built it (CAM, CVPR 2016) and the paper reuses it:
  AlexNet (ungrouped, 96-256-384-384-256) through conv5 without pool5, then two 3x3 conv of 512
  (pad 1): a 13x13 map at 224 input.
- ``alexnet_gap_pool5``: the same with AlexNet's pool5 kept before the two added convolutions: a
  6x6 map at 224 input (coarser CAMs).
- ``googlenet_gap``: GoogLeNet to inception-4e, then one 3x3 conv of 1024, batch norm after
  every conv: a 14x14 map at 224 input.
- ``resnet50_cam``: ResNet-50 with layer4 at stride 1 (as in wsolevaluation): 14x14 at 224;
  keys follow torchvision's, so converted torchvision checkpoints load.
- ``small_gap``: four conv-BN-ReLU blocks (16-32-64-128), a 1/4-resolution map.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from actionhas.core.errors import ActionhasError
from actionhas.image import defaults
from actionhas.data.hiding import PatchHiding
from actionhas.formats.torch_files import load_dict, state_dict_of


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None, bn: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2 if pad is None else pad, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


class CAMNet(nn.Module):
    """features -> global pooling -> classifier; ``cam`` gives (B, C, h, w) maps without bias."""

    def __init__(self, features: nn.Module, channels: int, num_classes: int, pool: str = "avg"):
        super().__init__()
        if pool not in defaults.POOLS:
            raise ValueError(f"pool must be one of {defaults.POOLS}, got {pool!r}")
        self.features, self.pool = features, pool
        self.classifier = nn.Linear(channels, num_classes)
        self.hiding: PatchHiding | None = None  # hiding on a conv layer's output, see ``hide_after``
        self.hide_after: int | None = None

    def feature_maps(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for i, layer in enumerate(self.features):
            x = layer(x)
            if self.hiding is not None and i == self.hide_after:  # fill: the layer's mean activation
                x = self.hiding(x, generator, fill=x.mean(dim=(0, 2, 3)).detach())
        return x

    def _pool(self, maps: Tensor) -> Tensor:
        return maps.mean(dim=(2, 3)) if self.pool == "avg" else maps.amax(dim=(2, 3))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.classifier(self._pool(self.feature_maps(x, generator)))

    def cam(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, h, w) class activation maps and (B, C) logits of one pass."""
        maps = self.feature_maps(x)
        return torch.einsum("cm,bmhw->bchw", self.classifier.weight, maps), self.classifier(self._pool(maps))


def _alexnet_gap(num_classes: int, pool: str, pool5: bool) -> CAMNet:
    trunk = [_conv_bn(3, 96, 11, 4, 2, bn=False), nn.MaxPool2d(3, 2),
             _conv_bn(96, 256, 5, bn=False), nn.MaxPool2d(3, 2),
             _conv_bn(256, 384, 3, bn=False), _conv_bn(384, 384, 3, bn=False), _conv_bn(384, 256, 3, bn=False)]
    head = [_conv_bn(256, 512, 3, bn=False), _conv_bn(512, 512, 3, bn=False)]
    return CAMNet(nn.Sequential(*trunk, *([nn.MaxPool2d(3, 2)] if pool5 else []), *head), 512, num_classes, pool)


def alexnet_gap(num_classes: int = 1000, pool: str = "avg") -> CAMNet:
    """AlexNet-GAP of Zhou et al.: AlexNet through conv5 (no pool5), two 3x3 conv of 512; 13x13 at 224."""
    return _alexnet_gap(num_classes, pool, pool5=False)


def alexnet_gap_pool5(num_classes: int = 1000, pool: str = "avg") -> CAMNet:
    """AlexNet-GAP with pool5 kept before the two added convolutions; 6x6 at 224."""
    return _alexnet_gap(num_classes, pool, pool5=True)


class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int):
        super().__init__()
        self.b1 = _conv_bn(cin, c1, 1)
        self.b2 = nn.Sequential(_conv_bn(cin, c3r, 1), _conv_bn(c3r, c3, 3))
        self.b3 = nn.Sequential(_conv_bn(cin, c5r, 1), _conv_bn(c5r, c5, 5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv_bn(cin, cp, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


def googlenet_gap(num_classes: int = 1000, pool: str = "avg") -> CAMNet:
    features = nn.Sequential(
        _conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, ceil_mode=True),
        _conv_bn(64, 64, 1), _conv_bn(64, 192, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
        Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
        Inception(528, 256, 160, 320, 32, 128, 128),
        _conv_bn(832, 1024, 3),
    )
    return CAMNet(features, 1024, num_classes, pool)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50Trunk(nn.Sequential):
    """torchvision-compatible names (conv1, bn1, layer1..layer4); layer4 at stride 1."""

    def __init__(self):
        layers, cin = {}, 64
        for name, width, blocks, stride in (("layer1", 64, 3, 1), ("layer2", 128, 4, 2),
                                            ("layer3", 256, 6, 2), ("layer4", 512, 3, 1)):
            seq = []
            for b in range(blocks):
                seq.append(Bottleneck(cin, width, stride if b == 0 else 1))
                cin = width * 4
            layers[name] = nn.Sequential(*seq)
        super().__init__()
        self.add_module("conv1", nn.Conv2d(3, 64, 7, 2, 3, bias=False))
        self.add_module("bn1", nn.BatchNorm2d(64))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("maxpool", nn.MaxPool2d(3, 2, 1))
        for name, layer in layers.items():
            self.add_module(name, layer)


def resnet50_cam(num_classes: int = 1000, pool: str = "avg") -> CAMNet:
    return CAMNet(ResNet50Trunk(), 2048, num_classes, pool)


def small_gap(num_classes: int = 10, pool: str = "avg") -> CAMNet:
    features = nn.Sequential(_conv_bn(3, 16, 3), _conv_bn(16, 32, 3), nn.MaxPool2d(2),
                             _conv_bn(32, 64, 3), nn.MaxPool2d(2), _conv_bn(64, 128, 3))
    return CAMNet(features, 128, num_classes, pool)


ARCHITECTURES = {"alexnet_gap": alexnet_gap, "alexnet_gap_pool5": alexnet_gap_pool5, "googlenet_gap": googlenet_gap,
                 "resnet50_cam": resnet50_cam, "small_gap": small_gap}


def build_network(arch: str, num_classes: int, pool: str = "avg") -> CAMNet:
    if arch not in ARCHITECTURES:
        raise ActionhasError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes, pool)


def load_weights(model: CAMNet, path: str | Path, backbone_only: bool = False) -> list[str]:
    """Load a state dict file (``weights_only=True``) into ``model``; returns keys left at init.

    Keys may carry a ``module.`` or ``model.`` prefix and sit under "state_dict" or "model";
    torchvision ResNet-50 keys (``conv1.weight``, ``layer1.0...``, ``fc.*``) map onto
    ``features.*`` / ``classifier.*``. ``backbone_only`` allows a missing or differently sized
    classifier (fine-tuning to other classes); any other missing or mis-shaped key is an error.
    """
    path = Path(path)
    state = state_dict_of(load_dict(path))
    state = {k.removeprefix("module.").removeprefix("model."): v for k, v in state.items()}
    if not any(k.startswith("features.") for k in state):  # torchvision-style ResNet keys
        state = {("classifier." + k[3:] if k.startswith("fc.") else "features." + k): v for k, v in state.items()}
    own = model.state_dict()
    unused = sorted(set(state) - set(own))
    if unused:
        raise ActionhasError(f"{path}: key {unused[0]!r} (and {len(unused) - 1} more) has no place in the network")
    left = []
    for key, tensor in own.items():
        head = key.startswith("classifier.")
        if key not in state or tuple(state[key].shape) != tuple(tensor.shape):
            if backbone_only and head:
                left.append(key)
                continue
            if key not in state:
                raise ActionhasError(f"{path}: missing key {key!r}")
            raise ActionhasError(f"{path}: {key!r} has shape {tuple(state[key].shape)}, network needs {tuple(tensor.shape)}")
        own[key] = state[key]
    model.load_state_dict(own)
    return sorted(left)
