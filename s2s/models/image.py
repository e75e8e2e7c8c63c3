"""Image classifiers: pixels (B, C, H, W) in [0, 1] -> class logits (B, num_classes).

``ImageClassifier`` (model kind ``image_classifier``) normalises the pixels with the per-channel
``mean`` and ``std`` it stores, then runs a network from ``IMAGE_NETS``:

``resnet`` with ``version``

- ``"1.5"``: ResNet v1.5, the post-activation ResNet of He et al. 2016 with the stride of each
  downsampling bottleneck on its 3x3 convolution instead of the first 1x1 (as torchvision and
  NVIDIA's DeepLearningExamples train it; about 0.5 % top-1 better than v1 on ImageNet);
- ``"2"``: the pre-activation ResNet v2 (He et al. 2016, "Identity mappings"), OpenSeq2Seq's
  ``ResNetEncoder`` (its resnet-50-v2 configs), with the blocks of ``s2s.models.classifiers``.

Presets name the published depths (``resnet18/34/50/101``: 64 stem channels, a 7x7 stride-2 stem
and a 3x3 max pool for 224-pixel images); ``stem: small`` is a 3x3 stride-1 stem without the pool
for small images (CIFAR, 8x8 digits), as He et al. use on CIFAR-10. ``zero_init_residual`` starts
each residual branch's last batch norm at zero (Goyal et al. 2017), so every block starts as the
identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.classifiers import _PreActBasic, _PreActBottleneck
from s2s.models.layers import check_choice
from s2s.models.registry import MODELS
from s2s.registry import Registry

IMAGE_NETS = Registry("image network")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Basic(nn.Module):
    """conv3x3 (stride)-BN-ReLU, conv3x3-BN, plus the (projected) input, ReLU."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.proj is None else self.proj(x)))


class _Bottleneck(nn.Module):
    """v1.5 bottleneck: conv1x1-BN-ReLU, conv3x3 (stride)-BN-ReLU, conv1x1 (4x width)-BN, plus the input, ReLU."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.proj = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (x if self.proj is None else self.proj(x)))


RESNET_DEPTHS = {
    "resnet18": ("basic", [2, 2, 2, 2]),
    "resnet34": ("basic", [3, 4, 6, 3]),
    "resnet50": ("bottleneck", [3, 4, 6, 3]),
    "resnet101": ("bottleneck", [3, 4, 23, 3]),
}
BLOCKS = {("1.5", "basic"): _Basic, ("1.5", "bottleneck"): _Bottleneck,
          ("2", "basic"): _PreActBasic, ("2", "bottleneck"): _PreActBottleneck}


@IMAGE_NETS.register("resnet")
class ImageResNet(nn.Module):
    """ResNet for images: stem, stages of residual blocks (stage ``i``: ``layers[i]`` blocks of
    ``width * 2**i`` channels, stride 2 at the start of every stage after the first), global average
    pooling, dropout, linear. ``preset`` fills ``block`` and ``layers``; keys given override it."""

    def __init__(self, num_classes: int, in_channels: int = 3, preset: str | None = None, version: str = "1.5",
                 block: str | None = None, layers: list[int] | None = None, width: int = 64,
                 stem: str = "imagenet", zero_init_residual: bool = False, dropout: float = 0.0):
        super().__init__()
        version = str(version)
        check_choice(version, ("1.5", "2"), "model_conf version")
        check_choice(stem, ("imagenet", "small"), "model_conf stem")
        if preset is not None:
            check_choice(preset, tuple(RESNET_DEPTHS), "model_conf preset")
            block = block or RESNET_DEPTHS[preset][0]
            layers = layers or RESNET_DEPTHS[preset][1]
        block = block or "basic"
        check_choice(block, ("basic", "bottleneck"), "model_conf block")
        layers = list(layers or [2, 2, 2, 2])
        if any(int(n) < 1 for n in layers):
            raise S2SError(f"model_conf: 'layers' must list stages of >= 1 blocks, got {layers}")
        self.version = version
        unit = BLOCKS[(version, block)]
        if stem == "imagenet":
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
                                      *([nn.BatchNorm2d(width), nn.ReLU()] if version == "1.5" else []),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                      *([nn.BatchNorm2d(width), nn.ReLU()] if version == "1.5" else []))
        blocks, cin = [], width
        for i, n in enumerate(layers):
            for j in range(int(n)):
                blocks.append(unit(cin, width * 2 ** i, 2 if (i > 0 and j == 0) else 1))
                cin = width * 2 ** i * unit.expansion
        self.stages = nn.Sequential(*blocks)
        # v2 blocks end before their activation: one final BN-ReLU, as in the paper.
        self.final = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU()) if version == "2" else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for b in self.stages:
                last = b.bn3 if hasattr(b, "bn3") else b.bn2  # v1.5: the branch's last BN
                if version == "2":  # v2: the branch ends in a convolution
                    last = b.conv3 if hasattr(b, "conv3") else b.conv2
                nn.init.zeros_(last.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.final(self.stages(self.stem(x)))
        return self.fc(self.dropout(x.mean(dim=(2, 3))))


class ImageClassifier(nn.Module):
    """Per-channel normalisation of [0, 1] pixels, then ``net``: (B, C, H, W) -> logits (B, classes)."""

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor, lengths: Tensor | None = None) -> Tensor:
        if images.dim() != 4 or images.size(1) != self.mean.size(1):
            raise S2SError(f"image classifier: expected images (B, {self.mean.size(1)}, H, W), got "
                           f"{tuple(images.shape)}")
        return self.net((images - self.mean.to(images.dtype)) / self.std.to(images.dtype))


@MODELS.register("image_classifier")
def build_image_classifier(model: str, num_classes: int, model_conf: dict | None = None, channels: int = 3,
                           mean=IMAGENET_MEAN, std=IMAGENET_STD) -> ImageClassifier:
    """Network ``model`` of ``IMAGE_NETS`` with ``model_conf`` behind the pixel normalisation."""
    if len(mean) != channels or len(std) != channels:
        raise S2SError(f"config keys 'mean' and 'std' need one value per channel ({channels}), got "
                       f"{list(mean)} and {list(std)}")
    net = IMAGE_NETS.build(model, model_conf or {}, context="model_conf", num_classes=num_classes,
                           in_channels=channels)
    return ImageClassifier(net, list(mean), list(std))
