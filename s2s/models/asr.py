"""The CTC speech recognizer: front end (features, normalisation, SpecAugment) + encoder + CTC head.

``AsrModel(x, lengths)`` takes either a batch of waveforms ``(B, N)`` at the front
end's sample rate (lengths in samples) or dumped, unnormalised features
``(B, T, D)`` as the front end computes them (lengths in frames), and returns CTC
log-probabilities ``(B, T', V)`` in fp32 with the output lengths. Every piece is an
``nn.Module`` of the model, so a checkpoint (or an exported file) goes from audio to
token posteriors with nothing beside it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.frontend import SpeechFrontEnd
from s2s.models.layers import INITS, check_choice, init_weights
from s2s.models.registry import ENCODERS, MODELS
from s2s.registry import check_kwargs


class AsrModel(nn.Module):
    """``frontend`` (a SpeechFrontEnd) -> ``encoder`` -> linear CTC head over ``vocab_size`` tokens.

    ``init`` (default | xavier_uniform | kaiming_normal) re-initialises every conv,
    linear and recurrent weight; biases become zero. ``zero_init_residual`` then zeroes
    the last batch-norm scale of every residual conv block, so each block starts as its
    1x1 residual projection (on egs/mini it did not shorten a small QuartzNet's CTC
    plateau; see the study in egs/mini/RESULTS.md).
    """

    def __init__(self, frontend: SpeechFrontEnd, encoder: nn.Module, vocab_size: int, init: str = "xavier_uniform",
                 zero_init_residual: bool = False):
        super().__init__()
        check_choice(init, INITS, "model_conf init")
        self.frontend = frontend
        self.encoder = encoder
        self.head = nn.Linear(encoder.output_dim, vocab_size)
        self.vocab_size = vocab_size
        init_weights(self, init)
        if zero_init_residual:
            zeroed = [m.zero_init_residual() for m in self.modules() if hasattr(m, "zero_init_residual")]
            if not any(zeroed):
                raise S2SError("model_conf zero_init_residual: the encoder has no residual block with batch norm "
                               "(set residual: true or dense_residual: true on a block, or drop the option)")

    @property
    def sample_rate(self) -> int | None:
        return self.frontend.sample_rate

    @property
    def frame_shift(self) -> float | None:
        """Seconds between two output frames (feature shift times the encoder's stride)."""
        shift = self.frontend.frame_shift
        return None if shift is None else shift * self.encoder.stride

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Waveforms ``(B, N)`` or features ``(B, T, D)`` -> (CTC log-probs (B, T', V) fp32, out_lengths (B,))."""
        feats, lengths = self.frontend(x, lengths)
        y, out_lengths = self.encoder(feats, lengths)
        # log_softmax in fp32 whatever the autocast precision: long sequences underflow in fp16.
        return torch.log_softmax(self.head(y).float(), dim=-1), out_lengths


@MODELS.register("asr")
def build_asr_model(encoder: str, encoder_conf: dict, input_dim: int, vocab_size: int,
                    frontend: dict | None = None, cmvn: str = "global", specaug: dict | None = None,
                    model_conf: dict | None = None) -> AsrModel:
    """Build ``AsrModel`` with the registered ``encoder`` configured by ``encoder_conf``.

    ``frontend``: the front end config (``{type: fbank, ...}``, giving ``input_dim``
    features; None: features only); ``cmvn``: global | utterance | none (global stats
    are buffers saved with the weights, set by the task from cmvn.ark); ``specaug``:
    SpecAugment options for training; ``model_conf``: AsrModel's own options (``init``,
    ``zero_init_residual``). Unknown keys or wrong types raise S2SError naming the key.
    """
    model_conf = dict(model_conf or {})
    check_kwargs(AsrModel, model_conf, "model_conf", skip={"frontend": None, "encoder": None, "vocab_size": None})
    front = SpeechFrontEnd(input_dim, frontend, cmvn, specaug)
    enc = ENCODERS.build(encoder, encoder_conf, context="encoder_conf", input_dim=input_dim)
    return AsrModel(front, enc, vocab_size, **model_conf)
