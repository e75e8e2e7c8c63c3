"""Pieces shared by the encoders: length masks, masked batch norm, activations, weight norm, init.

Every encoder here keeps one invariant: a padded batch gives, at each valid frame,
exactly what each utterance gives alone. Three things make that true:
padded frames are zeroed before anything with a receptive field looks at them
(``lengths_to_mask`` + ``masked_fill``), batch-norm statistics in training are
taken over valid frames only (``MaskedBatchNorm``), and output lengths follow
the convolution arithmetic exactly (``conv_out_lengths``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s2s.errors import S2SError

ACTIVATIONS = ("relu", "clipped_relu")
NORMS = ("batch", "weight_norm", "none")
INITS = ("default", "xavier_uniform", "kaiming_normal")

# DeepSpeech2 and Wav2Letter+ clip ReLU at 20 so activations stay bounded in fp16.
RELU_CLIP = 20.0


def lengths_to_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Bool mask (B, max_len), True at the valid frames ``t < lengths[b]``."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def conv_out_lengths(lengths: Tensor, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Tensor:
    """Output lengths of a convolution over time (PyTorch's formula, exactly)."""
    return torch.div(lengths + 2 * padding - dilation * (kernel - 1) - 1, stride, rounding_mode="floor") + 1


def mask_time(x: Tensor, mask: Tensor) -> Tensor:
    """Zero ``x`` (B, C, ..., T) where ``mask`` (B, T) is False; also clears NaN/inf garbage in padding."""
    shape = (mask.size(0),) + (1,) * (x.dim() - 2) + (mask.size(1),)
    return x.masked_fill(~mask.view(shape), 0.0)


class MaskedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over channel dim 1 of (B, C, [F,] T) whose training statistics skip padded frames.

    ``forward(x, mask)``: ``mask`` (B, T) marks valid frames along the last dim.
    In training, mean and variance are taken over the valid frames only (and over
    any middle dims, e.g. frequency for 2-D conv features), and the running
    statistics are updated from them exactly as ``nn.BatchNorm`` would from the
    unpadded frames. In eval mode it is ordinary batch norm with running stats.
    Values at padded frames in the output are unspecified (callers mask them).
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"MaskedBatchNorm expects 2-D to 4-D input, got {x.dim()}-D")

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        self._check_input_dim(x)
        use_batch_stats = self.training or not self.track_running_stats
        if mask is None or not use_batch_stats or x.dim() == 2:
            # Statistics in fp32 whatever the autocast dtype of the convolution before.
            return super().forward(x.float()).to(x.dtype)

        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum

        xf = x.float()
        shape = (mask.size(0),) + (1,) * (x.dim() - 2) + (mask.size(1),)
        m = mask.view(shape).to(xf.dtype)
        dims = [0] + list(range(2, x.dim()))
        # Frames counted once per middle-dim position (frequency bins for 2-D features).
        n = m.sum() * (x[0, 0].numel() // x.size(-1))
        mean = (xf * m).sum(dims) / n
        centered = (xf - mean.view(1, -1, *([1] * (x.dim() - 2)))) * m
        var = (centered * centered).sum(dims) / n
        if self.training and self.track_running_stats:
            with torch.no_grad():
                unbiased = var * (n / (n - 1).clamp(min=1))
                self.running_mean.mul_(1 - factor).add_(factor * mean)
                self.running_var.mul_(1 - factor).add_(factor * unbiased)
        view = (1, -1) + (1,) * (x.dim() - 2)
        y = (xf - mean.view(view)) * torch.rsqrt(var.view(view) + self.eps)
        if self.affine:
            y = y * self.weight.view(view) + self.bias.view(view)
        return y.to(x.dtype)


class ClippedReLU(nn.Module):
    """min(max(x, 0), cap): DeepSpeech2's bounded ReLU."""

    def __init__(self, cap: float = RELU_CLIP):
        super().__init__()
        self.cap = cap

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, 0.0, self.cap)

    def extra_repr(self) -> str:
        return f"cap={self.cap}"


def make_activation(name: str, context: str = "activation") -> nn.Module:
    """``relu`` or ``clipped_relu`` (cap 20) as a module."""
    if name == "relu":
        return nn.ReLU()
    if name == "clipped_relu":
        return ClippedReLU()
    raise S2SError(f"{context}: unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")


def check_choice(value: str, choices: tuple[str, ...], context: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise S2SError naming them."""
    if value not in choices:
        raise S2SError(f"{context}: {value!r} is not one of {', '.join(choices)}")
    return value


def weight_norm(module: nn.Module) -> nn.Module:
    """Weight normalisation (Salimans & Kingma) of ``module.weight``, one gain per output channel."""
    return nn.utils.parametrizations.weight_norm(module, name="weight", dim=0)


def _weight_tensors(model: nn.Module):
    """(module, attribute) for every matrix/kernel the init schemes apply to."""
    for mod in model.modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            yield mod, "weight"
        elif isinstance(mod, nn.RNNBase):
            for name, _ in mod.named_parameters(recurse=False):
                if name.startswith("weight_"):
                    yield mod, name


def init_weights(model: nn.Module, scheme: str = "default") -> None:
    """Re-initialise conv, linear and recurrent weights with ``scheme``; their biases become 0.

    ``default`` keeps PyTorch's initialisation. Norm layers keep weight 1, bias 0.
    Weight-normed layers are set through their parametrisation, so the effective
    weight follows the scheme (gain = norm of the direction).
    """
    check_choice(scheme, INITS, "model_conf init")
    if scheme == "default":
        return
    fill = nn.init.xavier_uniform_ if scheme == "xavier_uniform" else nn.init.kaiming_normal_
    with torch.no_grad():
        for mod, name in _weight_tensors(model):
            w = torch.empty_like(getattr(mod, name))
            if w.dim() >= 2:
                fill(w)
                if nn.utils.parametrize.is_parametrized(mod, name):
                    # Assigning to a parametrised weight goes through its right_inverse (g, v).
                    setattr(mod, name, w)
                else:
                    getattr(mod, name).copy_(w)
            bias_name = name.replace("weight", "bias")
            bias = getattr(mod, bias_name, None)
            if isinstance(bias, Tensor):
                bias.zero_()
