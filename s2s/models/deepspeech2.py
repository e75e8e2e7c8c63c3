"""DeepSpeech2 (Amodei et al. 2016, arXiv 1512.02595) as a CTC encoder.

2-D convolutions over (time, frequency) -> batch norm -> clipped ReLU, a stack of
recurrent layers (GRU, LSTM or ReLU RNN; bidirectional with the directions summed
or concatenated, or unidirectional followed by a lookahead row convolution),
then fully connected layers. Defaults follow OpenSeq2Seq's ds2_large config: two
32-channel conv layers with kernels (11, 41) and (11, 21) and strides (2, 2) and
(1, 2) in (time, frequency), five bidirectional 800-unit GRU layers, one 1600-unit
fully connected layer.

Recurrent layers never let padding reach a valid frame: the forward direction runs
over the padded batch (padding only follows the valid frames), the backward
direction over each utterance reversed within its own length. Convolutions see zeros
at padded frames, exactly as a lone utterance would. No packed sequences and no
data-dependent sizes, so the encoder traces and exports with dynamic axes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.layers import (
    ACTIVATIONS,
    MaskedBatchNorm,
    check_choice,
    conv_out_lengths,
    lengths_to_mask,
    make_activation,
    mask_time,
)
from s2s.models.registry import ENCODERS

RNN_TYPES = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """``x`` (B, T, H) with each sequence's first ``lengths[b]`` frames in reverse order (padding stays)."""
    t = torch.arange(x.size(1), device=x.device)[None, :]
    n = lengths.to(x.device)[:, None]
    idx = torch.where(t < n, n - 1 - t, t)
    return torch.gather(x, 1, idx[..., None].expand(-1, -1, x.size(2)))


class RecurrentLayer(nn.Module):
    """Optional sequence-wise batch norm of the input, then one recurrent layer (both directions, or forward)."""

    def __init__(self, input_size: int, hidden: int, rnn_type: str, bidirectional: bool, merge: str,
                 batch_norm: bool):
        super().__init__()
        self.norm = MaskedBatchNorm(input_size) if batch_norm else None
        extra = {"nonlinearity": "relu"} if rnn_type == "rnn" else {}  # DS2's simple RNN uses ReLU
        self.rnn = RNN_TYPES[rnn_type](input_size, hidden, batch_first=True, **extra)
        self.rnn_reverse = (RNN_TYPES[rnn_type](input_size, hidden, batch_first=True, **extra)
                            if bidirectional else None)
        self.hidden = hidden
        self.sum_directions = bidirectional and merge == "sum"
        self.output_dim = hidden * (2 if bidirectional and merge == "concat" else 1)

    def forward(self, x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        if self.norm is not None:
            x = self.norm(x.transpose(1, 2), mask).transpose(1, 2)
        out, _ = self.rnn(x)
        if self.rnn_reverse is None:
            return out
        back, _ = self.rnn_reverse(reverse_within_lengths(x, lengths))
        back = reverse_within_lengths(back, lengths)
        return out + back if self.sum_directions else torch.cat([out, back], dim=-1)


class RowConv(nn.Module):
    """Lookahead (row) convolution: y[t, d] = sum_{j=0..context} w[j, d] * h[t + j, d] (DS2 section 3.5)."""

    def __init__(self, dim: int, context: int):
        super().__init__()
        self.context = context
        self.conv = nn.Conv1d(dim, dim, context + 1, groups=dim, bias=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        # x (B, T, H), zero at padded frames; the right pad gives the last frames zero future.
        y = self.conv(F.pad(mask_time(x.transpose(1, 2), mask), (0, self.context)))
        return y.transpose(1, 2)


@ENCODERS.register("ds2")
class DeepSpeech2(nn.Module):
    """DeepSpeech2 encoder: (B, T, input_dim) -> (B, T', output_dim), T' from the conv time strides.

    ``conv_kernels`` and ``conv_strides`` are (time, frequency) pairs, one per conv
    layer, with "same"-style padding of (k - 1) // 2. ``merge`` (sum | concat) joins
    the two directions of bidirectional layers; ``lookahead`` > 0 adds a row
    convolution of that many future frames after unidirectional layers.
    """

    def __init__(self, input_dim: int,
                 conv_channels: tuple[int, ...] = (32, 32),
                 conv_kernels: tuple[tuple[int, int], ...] = ((11, 41), (11, 21)),
                 conv_strides: tuple[tuple[int, int], ...] = ((2, 2), (1, 2)),
                 rnn_type: str = "gru",
                 rnn_layers: int = 5,
                 rnn_hidden: int = 800,
                 bidirectional: bool = True,
                 merge: str = "sum",
                 lookahead: int = 20,
                 rnn_batch_norm: bool = True,
                 fc_layers: tuple[int, ...] = (1600,),
                 dropout: float = 0.0,
                 activation: str = "clipped_relu",
                 conv_norm: str = "batch"):
        super().__init__()
        context = "encoder_conf (encoder 'ds2')"
        if not (len(conv_channels) == len(conv_kernels) == len(conv_strides)):
            raise S2SError(f"{context}: conv_channels, conv_kernels and conv_strides need one entry per conv layer, "
                           f"got {len(conv_channels)}, {len(conv_kernels)}, {len(conv_strides)}")
        for name, pairs in (("conv_kernels", conv_kernels), ("conv_strides", conv_strides)):
            if any(len(p) != 2 or min(p) < 1 for p in pairs):
                raise S2SError(f"{context}: each {name} entry is a [time, frequency] pair of positive ints, got {pairs}")
        check_choice(rnn_type, tuple(RNN_TYPES), f"{context} rnn_type")
        check_choice(merge, ("sum", "concat"), f"{context} merge")
        check_choice(activation, ACTIVATIONS, f"{context} activation")
        check_choice(conv_norm, ("batch", "none"), f"{context} conv_norm")
        if rnn_layers < 0 or lookahead < 0 or not 0.0 <= dropout < 1.0:
            raise S2SError(f"{context}: need rnn_layers >= 0, lookahead >= 0 and 0 <= dropout < 1")

        self.convs = nn.ModuleList()
        self.conv_norms = nn.ModuleList()
        # (time kernel, time stride, time padding) per layer for the length arithmetic.
        self.time_geometry: list[tuple[int, int, int]] = []
        cin, freq = 1, input_dim
        for channels, (kt, kf), (st, sf) in zip(conv_channels, conv_kernels, conv_strides):
            pt, pf = (kt - 1) // 2, (kf - 1) // 2
            # Tensors are (B, C, F, T): time last, like the 1-D encoders, so masks broadcast the same way.
            self.convs.append(nn.Conv2d(cin, channels, (kf, kt), (sf, st), (pf, pt), bias=conv_norm != "batch"))
            self.conv_norms.append(MaskedBatchNorm(channels) if conv_norm == "batch" else nn.Identity())
            self.time_geometry.append((kt, st, pt))
            cin, freq = channels, (freq + 2 * pf - kf) // sf + 1
            if freq < 1:
                raise S2SError(f"{context}: the conv layers reduce {input_dim} input features to nothing; "
                               f"use smaller frequency kernels or strides")
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)

        dim = cin * freq
        self.rnns = nn.ModuleList()
        for _ in range(rnn_layers):
            self.rnns.append(RecurrentLayer(dim, rnn_hidden, rnn_type, bidirectional, merge, rnn_batch_norm))
            dim = self.rnns[-1].output_dim
        self.row_conv = RowConv(dim, lookahead) if (rnn_layers and not bidirectional and lookahead > 0) else None

        self.fcs = nn.ModuleList()
        for size in fc_layers:
            self.fcs.append(nn.Linear(dim, size))
            dim = size
        self.input_dim = input_dim
        self.output_dim = dim
        self.stride = 1
        for _, st, _ in self.time_geometry:
            self.stride *= st

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
        mask = lengths_to_mask(lengths, x.size(-1))
        x = mask_time(x, mask)
        for conv, norm, (kt, st, pt) in zip(self.convs, self.conv_norms, self.time_geometry):
            x = conv(x)
            lengths = conv_out_lengths(lengths, kt, st, pt)
            mask = lengths_to_mask(lengths, x.size(-1))
            x = norm(x, mask) if isinstance(norm, MaskedBatchNorm) else norm(x)
            x = mask_time(self.dropout(self.activation(x)), mask)

        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t).transpose(1, 2)  # (B, T', C*F)
        for layer in self.rnns:
            x = self.dropout(layer(x, lengths, mask))
        if self.row_conv is not None:
            x = self.row_conv(x, mask)
        for fc in self.fcs:
            x = self.dropout(self.activation(fc(x)))
        x = mask_time(x.transpose(1, 2), mask).transpose(1, 2)
        return x, lengths
