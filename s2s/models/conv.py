"""Jasper, QuartzNet and Wav2Letter+: one 1-D convolutional CTC encoder described by a list of blocks.

A block (NeMo / OpenSeq2Seq style) is ``repeat`` sub-layers, each
conv -> norm -> activation -> dropout, all with ``filters`` output channels and
"same" padding; only the first sub-layer has the block's ``stride``. With
``residual`` the block's input, projected by a 1x1 conv + norm, is added after
the last sub-layer's norm and before its activation. ``dense_residual`` (Jasper
"DR") adds projections of the inputs of every dense block so far, i.e. of every
previous block output back to the first dense block's input. ``separable``
(QuartzNet) makes each conv time-channel separable: a depthwise conv over time,
then a pointwise 1x1 conv across channels.

Config keys per block: filters (required), kernel, repeat, stride, dilation,
dropout, residual, dense_residual, separable, activation (relu | clipped_relu),
norm (batch | weight_norm | none). Presets reproduce the published models:

===================== ============================================ ===========
preset                source                                        params (64 in, 29 out)
===================== ============================================ ===========
jasper10x5dr          Jasper paper (arXiv 1904.03288) Table 1,      332.6 M
                      OpenSeq2Seq jasper10x5_LibriSpeech_nvgrad
jasper10x3dr          same widths, 3 sub-layers per block           210.8 M
jasper5x3dr           one block per width, 3 sub-layers             109.7 M
quartznet15x5         QuartzNet paper (arXiv 1910.10261) Table 1,    18.9 M
                      NeMo quartznet_15x5.yaml
quartznet15x5_o2s     OpenSeq2Seq quartznet15x5_LibriSpeech.py: a     19.2 M
                      residual around the k87 epilogue layer
jasper_mini           OpenSeq2Seq jasper-Mini-for-Jetson.py:           8.2 M
                      separable, 10 blocks x 3, widths 256/512
wav2letter_plus_large OpenSeq2Seq w2lplus_large (clipped ReLU)      106.5 M
===================== ============================================ ===========
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.layers import (
    ACTIVATIONS,
    NORMS,
    MaskedBatchNorm,
    check_choice,
    conv_out_lengths,
    lengths_to_mask,
    make_activation,
    mask_time,
    weight_norm,
)
from s2s.models.registry import ENCODERS
from s2s.registry import check_kwargs

# NeMo and OpenSeq2Seq both use eps 1e-3 for the conv models' batch norm.
BN_EPS = 1e-3


@dataclass(frozen=True)
class BlockSpec:
    """One block of a ConvEncoder; the fields are the config keys of a ``blocks:`` entry."""

    filters: int
    kernel: int = 11
    repeat: int = 1
    stride: int = 1
    dilation: int = 1
    dropout: float = 0.0
    residual: bool = False
    dense_residual: bool = False
    separable: bool = False
    activation: str = "relu"
    norm: str = "batch"


def _jasper_blocks(blocks_per_width: int, repeat: int) -> list[dict]:
    # (filters, kernel, dropout) per width, from the Jasper paper's Table 1 and the
    # OpenSeq2Seq config (dropout_keep_prob 0.8 / 0.7 / 0.6).
    widths = [(256, 11, 0.2), (384, 13, 0.2), (512, 17, 0.2), (640, 21, 0.3), (768, 25, 0.3)]
    blocks = [dict(filters=256, kernel=11, stride=2, dropout=0.2)]
    for filters, kernel, dropout in widths:
        blocks += [dict(filters=filters, kernel=kernel, repeat=repeat, dropout=dropout, dense_residual=True)] * blocks_per_width
    blocks += [dict(filters=896, kernel=29, dilation=2, dropout=0.4), dict(filters=1024, kernel=1, dropout=0.4)]
    return blocks


def _quartznet15x5() -> list[dict]:
    # NeMo quartznet_15x5.yaml: B1..B5 each repeated 3 times, 5 sub-layers, dropout 0.
    blocks = [dict(filters=256, kernel=33, stride=2, separable=True)]
    for filters, kernel in [(256, 33), (256, 39), (512, 51), (512, 63), (512, 75)]:
        blocks += [dict(filters=filters, kernel=kernel, repeat=5, residual=True, separable=True)] * 3
    blocks += [dict(filters=512, kernel=87, dilation=2, separable=True), dict(filters=1024, kernel=1)]
    return blocks


def _quartznet15x5_o2s() -> list[dict]:
    # OpenSeq2Seq quartznet15x5_LibriSpeech.py (commit 8681d38): as NeMo's, but its k87 layer is
    # residual (residual: True, residual_dense: False).
    blocks = _quartznet15x5()
    blocks[-2] = dict(blocks[-2], residual=True)
    return blocks


def _jasper_mini() -> list[dict]:
    # OpenSeq2Seq jasper-Mini-for-Jetson.py: separable convs, 2 blocks of 3 per width, plain
    # residuals, no dropout, both epilogue layers separable.
    blocks = [dict(filters=256, kernel=11, stride=2, separable=True)]
    for filters, kernel in [(256, 11), (256, 13), (512, 17), (512, 21), (512, 25)]:
        blocks += [dict(filters=filters, kernel=kernel, repeat=3, residual=True, separable=True)] * 2
    blocks += [dict(filters=512, kernel=29, dilation=2, separable=True), dict(filters=1024, kernel=1, separable=True)]
    return blocks


def _wav2letter_plus_large() -> list[dict]:
    # OpenSeq2Seq w2lplus_large: plain conv stacks, no residuals, ReLU clipped at 20.
    widths = [(256, 11, 0.2), (384, 13, 0.2), (512, 17, 0.2), (640, 21, 0.3), (768, 25, 0.3)]
    blocks = [dict(filters=256, kernel=11, stride=2, dropout=0.2)]
    blocks += [dict(filters=f, kernel=k, repeat=3, dropout=d) for f, k, d in widths]
    blocks += [dict(filters=896, kernel=29, dilation=2, dropout=0.4), dict(filters=1024, kernel=1, dropout=0.4)]
    return [dict(b, activation="clipped_relu") for b in blocks]


# Each family's presets; a config names the family as its encoder (encoder: quartznet,
# encoder_conf: {preset: quartznet15x5}).
FAMILY_PRESETS = {
    "jasper": {
        "jasper10x5dr": lambda: _jasper_blocks(2, 5),
        "jasper10x3dr": lambda: _jasper_blocks(2, 3),
        "jasper5x3dr": lambda: _jasper_blocks(1, 3),
    },
    "quartznet": {"quartznet15x5": _quartznet15x5, "quartznet15x5_o2s": _quartznet15x5_o2s,
                  "jasper_mini": _jasper_mini},
    "wav2letter": {"wav2letter_plus_large": _wav2letter_plus_large},
}


def parse_blocks(blocks: list[dict], context: str) -> list[BlockSpec]:
    """Validate ``blocks`` config entries and return their specs; S2SError names the bad block and key."""
    if not blocks:
        raise S2SError(f"{context}: 'blocks' is empty; give at least one block or a preset")
    specs = []
    for i, blk in enumerate(blocks):
        where = f"{context} blocks[{i}]"
        if not isinstance(blk, dict):
            raise S2SError(f"{where}: a block is a mapping like {{filters: 256, kernel: 11}}, got {blk!r}")
        if "filters" not in blk:
            raise S2SError(f"{where}: missing required key 'filters'")
        check_kwargs(BlockSpec, blk, where)
        spec = BlockSpec(**blk)
        for key in ("filters", "kernel", "repeat", "stride", "dilation"):
            if getattr(spec, key) < 1:
                raise S2SError(f"{where}: {key} must be >= 1, got {getattr(spec, key)}")
        if spec.kernel % 2 == 0:
            raise S2SError(f"{where}: kernel must be odd so 'same' padding keeps lengths, got {spec.kernel}")
        if not 0.0 <= spec.dropout < 1.0:
            raise S2SError(f"{where}: dropout must be in [0, 1), got {spec.dropout}")
        check_choice(spec.activation, ACTIVATIONS, f"{where} activation")
        check_choice(spec.norm, NORMS, f"{where} norm")
        specs.append(spec)
    return specs


class ConvNorm(nn.Module):
    """A 1-D conv (plain or time-channel separable) with "same" padding, then its norm.

    ``forward(x, lengths)`` expects ``x`` (B, C, T) zero at padded frames and returns
    ``(y, out_lengths, out_mask)``; ``y`` at padded frames is unspecified.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1,
                 separable: bool = False, norm: str = "batch"):
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.padding = dilation * (kernel - 1) // 2
        bias = norm != "batch"  # batch norm's shift makes a conv bias redundant
        if separable:
            self.depthwise = nn.Conv1d(cin, cin, kernel, stride, self.padding, dilation, groups=cin, bias=False)
            self.conv = nn.Conv1d(cin, cout, 1, bias=bias)
        else:
            self.depthwise = None
            self.conv = nn.Conv1d(cin, cout, kernel, stride, self.padding, dilation, bias=bias)
        if norm == "weight_norm":
            self.conv = weight_norm(self.conv)
            if self.depthwise is not None:
                self.depthwise = weight_norm(self.depthwise)
        self.norm = MaskedBatchNorm(cout, eps=BN_EPS) if norm == "batch" else None

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.depthwise is not None:
            x = self.depthwise(x)
        x = self.conv(x)
        lengths = conv_out_lengths(lengths, self.kernel, self.stride, self.padding, self.dilation)
        mask = lengths_to_mask(lengths, x.size(-1))
        if self.norm is not None:
            x = self.norm(x, mask)
        return x, lengths, mask


class ConvBlock(nn.Module):
    """``repeat`` ConvNorm sub-layers with activation and dropout, plus residual projections.

    ``residual_inputs`` lists (channels, stride) of each tensor added as a residual,
    where stride is how much longer that tensor is than this block's output.
    """

    def __init__(self, cin: int, spec: BlockSpec, residual_inputs: list[tuple[int, int]]):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(
            ConvNorm(cin if i == 0 else spec.filters, spec.filters, spec.kernel,
                     spec.stride if i == 0 else 1, spec.dilation, spec.separable, spec.norm)
            for i in range(spec.repeat)
        )
        self.residuals = nn.ModuleList(
            ConvNorm(channels, spec.filters, 1, stride=stride, norm=spec.norm) for channels, stride in residual_inputs
        )
        self.activation = make_activation(spec.activation)
        self.dropout = nn.Dropout(spec.dropout)

    def zero_init_residual(self) -> bool:
        """Zero the scale of the last sub-layer's batch norm in a residual block, so the block
        starts as its residual projection (Goyal et al. 2017, arXiv 1706.02677; torchvision's
        ``zero_init_residual``). Returns whether anything was zeroed."""
        norm = self.layers[-1].norm
        if not self.residuals or norm is None or norm.weight is None:
            return False
        with torch.no_grad():
            norm.weight.zero_()
        return True

    def forward(self, x: Tensor, lengths: Tensor, residual_inputs: list[tuple[Tensor, Tensor]]):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x, lengths, mask = layer(x, lengths)
            if i == last:
                for proj, (r, r_lengths) in zip(self.residuals, residual_inputs):
                    x = x + proj(r, r_lengths)[0]
            # Zero the padding so the next conv sees what a lone utterance would see.
            x = mask_time(self.dropout(self.activation(x)), mask)
        return x, lengths


class ConvEncoder(nn.Module):
    """Block-described 1-D conv CTC encoder: (B, T, input_dim) -> (B, T', filters of the last block).

    Give exactly one of ``preset`` (one of the family's ``FAMILY_PRESETS``) or ``blocks``
    (a list of block mappings). ``activation``, ``norm`` and ``dropout``, when set,
    replace those keys in every block (e.g. ``norm: weight_norm`` on a preset).
    Registered once per family: ``jasper``, ``quartznet``, ``wav2letter``.
    """

    family = "conv"

    def __init__(self, input_dim: int, preset: str | None = None, blocks: list[dict] | None = None,
                 activation: str | None = None, norm: str | None = None, dropout: float | None = None):
        super().__init__()
        context = f"encoder_conf (encoder {self.family!r})"
        presets = FAMILY_PRESETS.get(self.family, {})
        if (preset is None) == (blocks is None):
            raise S2SError(f"{context}: give exactly one of 'preset' ({', '.join(presets) or 'none'}) or 'blocks'")
        if preset is not None:
            owner = next((f for f, p in FAMILY_PRESETS.items() if preset in p), None)
            if owner is not None and owner != self.family:
                raise S2SError(f"{context}: preset {preset!r} is a {owner} model; write encoder: {owner}")
            blocks = presets[check_choice(preset, tuple(presets), f"{context} preset")]()
        specs = parse_blocks(blocks, context)
        overrides = {k: v for k, v in (("activation", activation), ("norm", norm), ("dropout", dropout)) if v is not None}
        if overrides:
            specs = parse_blocks([dict(dataclasses.asdict(s), **overrides) for s in specs], context)

        # Mirror forward()'s bookkeeping to know each residual input's channels and stride.
        self.blocks = nn.ModuleList()
        cin, total_stride = input_dim, 1
        dense: list[tuple[int, int]] = []  # (channels, cumulative stride) of dense residual inputs
        for spec in specs:
            if spec.dense_residual:
                dense.append((cin, total_stride))
                sources = list(dense)
            else:
                sources = [(cin, total_stride)] if spec.residual else []
            out_stride = total_stride * spec.stride
            self.blocks.append(ConvBlock(cin, spec, [(c, out_stride // s) for c, s in sources]))
            cin, total_stride = spec.filters, out_stride
        self.input_dim = input_dim
        self.output_dim = cin
        self.stride = total_stride

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = x.transpose(1, 2)
        x = mask_time(x, lengths_to_mask(lengths, x.size(-1)))
        dense: list[tuple[Tensor, Tensor]] = []
        for block in self.blocks:
            if block.spec.dense_residual:
                dense.append((x, lengths))
                sources = list(dense)
            else:
                sources = [(x, lengths)] if block.spec.residual else []
            x, lengths = block(x, lengths, sources)
        return x.transpose(1, 2), lengths


@ENCODERS.register("jasper")
class JasperEncoder(ConvEncoder):
    """Jasper (Li et al. 2019): blocks of conv-BN-ReLU-dropout, dense residual in the DR presets."""

    family = "jasper"


@ENCODERS.register("quartznet")
class QuartzNetEncoder(ConvEncoder):
    """QuartzNet (Kriman et al. 2019): Jasper with time-channel separable convolutions."""

    family = "quartznet"


@ENCODERS.register("wav2letter")
class Wav2LetterEncoder(ConvEncoder):
    """Wav2Letter+ (OpenSeq2Seq): plain conv stacks with clipped ReLU."""

    family = "wav2letter"
