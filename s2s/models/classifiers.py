"""Keyword-spotting classifiers: features (B, T, D) of fixed-length clips -> class logits (B, C).

Three families, chosen by name from ``CLASSIFIERS`` (``model: matchboxnet`` +
``model_conf: {...}`` in a config):

================ ============================================================ ===============
name             what                                                         source
================ ============================================================ ===============
jasper_commands  Jasper-style 1-D conv encoder (10 residual blocks x 3           OpenSeq2Seq
                 sub-layers, three stride-2 layers), flattened, one linear     jasper_commands
matchboxnet      MatchboxNet BxRxC: QuartzNet blocks (time-channel separable,  Majumdar &
                 residual), global average pooling, one linear                 Ginsburg 2020
resnet           2-D ResNet on the (time, mel) image: basic or bottleneck      OpenSeq2Seq
                 pre-activation blocks (ResNet v2), average pooling, linear    resnet_commands
================ ============================================================ ===============

The 1-D models are ``s2s.models.conv.ConvEncoder`` (the ASR encoders' block
description) with a pooling head; every constructor takes ``input_dim``,
``num_classes`` and ``num_frames`` (the fixed clip length in frames) from the
task and the rest from ``model_conf``. The whole model (``ClassifierModel``, model
kind ``classifier``) puts the speech front end before the network, so it takes
waveforms or dumped features of fixed-length clips.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.conv import ConvEncoder
from s2s.models.frontend import SpeechFrontEnd
from s2s.models.layers import check_choice
from s2s.models.registry import MODELS
from s2s.registry import Registry

CLASSIFIERS = Registry("classifier")

POOLS = ("avg", "flatten")


class ClassifierModel(nn.Module):
    """``frontend`` (SpeechFrontEnd) -> ``net`` (a registered classifier): clips -> class logits (B, C)."""

    def __init__(self, frontend: SpeechFrontEnd, net: nn.Module):
        super().__init__()
        self.frontend = frontend
        self.net = net

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        feats, lengths = self.frontend(x, lengths)
        return self.net(feats, lengths)


@MODELS.register("classifier")
def build_classifier(model: str, model_conf: dict | None, input_dim: int, num_classes: int, num_frames: int,
                     frontend: dict | None = None, cmvn: str = "global",
                     specaug: dict | None = None) -> ClassifierModel:
    """Classifier ``model`` with ``model_conf`` (keys and types checked against the constructor) behind the
    speech front end (``frontend`` config, ``cmvn`` mode, ``specaug`` for training)."""
    net = CLASSIFIERS.build(model, model_conf, context="model_conf", input_dim=input_dim, num_classes=num_classes,
                            num_frames=num_frames)
    return ClassifierModel(SpeechFrontEnd(input_dim, frontend, cmvn, specaug), net)


class ConvClassifier(nn.Module):
    """A block-described ConvEncoder followed by pooling over time and a linear layer.

    ``pool: avg`` averages the valid output frames (any length); ``pool: flatten``
    concatenates all frames of a fixed-length clip (OpenSeq2Seq's
    FullyConnectedSCDecoder), so its linear layer depends on ``num_frames``.
    """

    def __init__(self, input_dim: int, num_classes: int, num_frames: int, blocks: list[dict],
                 pool: str = "avg", dropout: float = 0.0):
        super().__init__()
        check_choice(pool, POOLS, "model_conf pool")
        self.encoder = ConvEncoder(input_dim, blocks=blocks)
        self.pool = pool
        self.num_frames = num_frames
        if pool == "flatten":
            with torch.no_grad():  # the encoder's output length for a full clip
                out_len = self.encoder(torch.zeros(1, num_frames, input_dim),
                                       torch.tensor([num_frames]))[1]
            self.out_frames = int(out_len[0])
            features = self.encoder.output_dim * self.out_frames
        else:
            self.out_frames = 0
            features = self.encoder.output_dim
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(features, num_classes)

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        y, out_lengths = self.encoder(feats, lengths)  # (B, T', H), zero past each length
        if self.pool == "avg":
            pooled = y.sum(1) / out_lengths.clamp_min(1).to(y.dtype)[:, None]
        else:
            if y.size(1) != self.out_frames:
                raise S2SError(
                    f"pool: flatten needs clips of exactly {self.num_frames} frames "
                    f"({self.out_frames} after the encoder), got {y.size(1)}; keep clip_seconds "
                    f"and the frontend as the model was built with, or use pool: avg"
                )
            pooled = y.flatten(1)
        return self.fc(self.dropout(pooled))


# ----------------------------------------------------------------------------- Jasper


def jasper_commands_blocks() -> list[dict]:
    """OpenSeq2Seq ``jasper_commands.py``: Jasper 10x3 (5 widths x 2 residual blocks x 3 sub-layers).

    Each width starts with a stride-2 layer for the first three widths (128
    frames -> 16), dropout keep-prob 0.8 / 0.7 / 0.6 -> 0.2 / 0.3 / 0.4.
    """
    blocks = []
    for filters, kernel, dropout, stride in [(256, 11, 0.2, 2), (384, 13, 0.2, 2), (512, 17, 0.2, 2),
                                             (640, 21, 0.3, 1), (768, 25, 0.3, 1)]:
        if stride > 1:
            blocks.append(dict(filters=filters, kernel=kernel, stride=stride, dropout=dropout))
        blocks += [dict(filters=filters, kernel=kernel, repeat=3, residual=True, dropout=dropout)] * 2
    blocks += [dict(filters=896, kernel=29, dilation=2, dropout=0.4), dict(filters=1024, kernel=1, dropout=0.4)]
    return blocks


@CLASSIFIERS.register("jasper_commands")
def jasper_commands(input_dim: int, num_classes: int, num_frames: int, blocks: list[dict] | None = None,
                    pool: str = "flatten", dropout: float = 0.0) -> ConvClassifier:
    """Jasper-style 1-D conv classifier; ``blocks`` replaces the published 10x3 stack (e.g. a small one)."""
    return ConvClassifier(input_dim, num_classes, num_frames, blocks or jasper_commands_blocks(), pool, dropout)


# ----------------------------------------------------------------------------- MatchboxNet

# MatchboxNet paper (arXiv 2004.08531) Table 1: kernel widths of B1..B3 (the 6-block model adds 19..25).
MATCHBOX_KERNELS = (13, 15, 17, 19, 21, 23, 25)


def matchboxnet_blocks(num_blocks: int = 3, repeat: int = 2, channels: int = 64,
                       kernels: list[int] | None = None, dropout: float = 0.0) -> list[dict]:
    """MatchboxNet BxRxC: prologue (128, k11), B residual separable blocks of R sub-blocks with C
    channels, epilogue (128, k29, dilation 2) and (128, k1) — NeMo matchboxnet_3x1x64.yaml's layout."""
    if kernels is None:
        if num_blocks > len(MATCHBOX_KERNELS):
            raise S2SError(f"model_conf: give 'kernels' (one odd width per block) for num_blocks={num_blocks}")
        kernels = list(MATCHBOX_KERNELS[:num_blocks])
    if len(kernels) != num_blocks:
        raise S2SError(f"model_conf: 'kernels' has {len(kernels)} widths for num_blocks={num_blocks}")
    sep = dict(separable=True, dropout=dropout)
    blocks = [dict(filters=128, kernel=11, **sep)]
    blocks += [dict(filters=channels, kernel=k, repeat=repeat, residual=True, **sep) for k in kernels]
    blocks += [dict(filters=128, kernel=29, dilation=2, **sep), dict(filters=128, kernel=1, dropout=dropout)]
    return blocks


@CLASSIFIERS.register("matchboxnet")
def matchboxnet(input_dim: int, num_classes: int, num_frames: int, num_blocks: int = 3, repeat: int = 2,
                channels: int = 64, kernels: list[int] | None = None, dropout: float = 0.0) -> ConvClassifier:
    """MatchboxNet ``num_blocks`` x ``repeat`` x ``channels`` with average pooling (3x2x64: about 93k
    parameters for 64 input features and 12 classes)."""
    return ConvClassifier(input_dim, num_classes, num_frames,
                          matchboxnet_blocks(num_blocks, repeat, channels, kernels, dropout), "avg", 0.0)


# ----------------------------------------------------------------------------- ResNet


class _PreActBasic(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-conv3x3, plus the (projected) input."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, cout, 3, 1, 1, bias=False)
        self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        pre = torch.relu(self.bn1(x))
        # ResNet v2: the projection shortcut sees the pre-activated input.
        shortcut = x if self.proj is None else self.proj(pre)
        y = self.conv1(pre)
        y = self.conv2(torch.relu(self.bn2(y)))
        return y + shortcut


class _PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1 (4x width), plus the input."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        pre = torch.relu(self.bn1(x))
        shortcut = x if self.proj is None else self.proj(pre)
        y = self.conv1(pre)
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + shortcut


RESNET_PRESETS = {
    # He et al. 2016 (v2, pre-activation); OpenSeq2Seq resnet_commands uses resnet_size 50 on 120x120 mels.
    "resnet50": dict(block="bottleneck", layers=[3, 4, 6, 3], width=64, stem_kernel=7, stem_stride=2, stem_pool=True),
    "resnet34": dict(block="basic", layers=[3, 4, 6, 3], width=64, stem_kernel=7, stem_stride=2, stem_pool=True),
    "resnet18": dict(block="basic", layers=[2, 2, 2, 2], width=64, stem_kernel=7, stem_stride=2, stem_pool=True),
    # A CPU-sized residual net in the spirit of Tang & Lin's res8 (keyword spotting, 2018).
    "resnet8": dict(block="basic", layers=[1, 1, 1], width=16, stem_kernel=3, stem_stride=1, stem_pool=True),
}


class ResNet(nn.Module):
    """2-D pre-activation ResNet over the (time, feature) plane of a clip, average-pooled, then linear.

    Stage ``i`` has ``layers[i]`` blocks of ``width * 2**i`` channels; stages after
    the first start with stride 2. The stem is a ``stem_kernel`` conv (stride
    ``stem_stride``) and, with ``stem_pool``, a 3x3 stride-2 max pool.
    """

    def __init__(self, input_dim: int, num_classes: int, num_frames: int, block: str = "basic",
                 layers: list[int] = (1, 1, 1), width: int = 16, stem_kernel: int = 3, stem_stride: int = 1,
                 stem_pool: bool = False, dropout: float = 0.0):
        super().__init__()
        check_choice(block, ("basic", "bottleneck"), "model_conf block")
        if not layers or any(n < 1 for n in layers):
            raise S2SError(f"model_conf: 'layers' must list at least one stage of >= 1 blocks, got {list(layers)}")
        unit = _PreActBasic if block == "basic" else _PreActBottleneck
        self.stem = nn.Conv2d(1, width, stem_kernel, stem_stride, stem_kernel // 2, bias=False)
        self.pool = nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity()
        stages = []
        cin = width
        for i, n in enumerate(layers):
            w = width * 2 ** i
            for j in range(n):
                stages.append(unit(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w * unit.expansion
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(cin)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        # Clips have a fixed length, so the whole (T, D) plane is valid: no masking needed.
        x = self.pool(self.stem(feats.unsqueeze(1)))
        x = torch.relu(self.bn(self.stages(x)))
        return self.fc(self.dropout(x.mean(dim=(2, 3))))


@CLASSIFIERS.register("resnet")
def resnet(input_dim: int, num_classes: int, num_frames: int, preset: str | None = None,
           block: str | None = None, layers: list[int] | None = None, width: int | None = None,
           stem_kernel: int | None = None, stem_stride: int | None = None, stem_pool: bool | None = None,
           dropout: float = 0.0) -> ResNet:
    """A ResNet from ``preset`` (resnet8, resnet18, resnet34, resnet50) with any keys given overriding it."""
    conf = dict(RESNET_PRESETS[check_choice(preset, tuple(RESNET_PRESETS), "model_conf preset")]) if preset else {}
    for key, value in (("block", block), ("layers", layers), ("width", width), ("stem_kernel", stem_kernel),
                       ("stem_stride", stem_stride), ("stem_pool", stem_pool)):
        if value is not None:
            conf[key] = value
    return ResNet(input_dim, num_classes, num_frames, dropout=dropout, **conf)
