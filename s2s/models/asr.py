"""The CTC acoustic model: a registered encoder plus a linear projection to the token vocabulary.

The model returns raw logits; the trainer applies log_softmax in fp32 and CTC.
"""

from __future__ import annotations

from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.layers import INITS, check_choice, init_weights
from s2s.models.registry import ENCODERS
from s2s.registry import check_kwargs


class AsrModel(nn.Module):
    """``encoder`` followed by a linear CTC head with ``vocab_size`` outputs (blank included).

    ``init`` (default | xavier_uniform | kaiming_normal) re-initialises every conv,
    linear and recurrent weight of the model; biases become zero. ``zero_init_residual``
    then zeroes the last batch-norm scale of every residual conv block, so each block
    starts as its 1x1 residual projection (on egs/mini it did not shorten a small
    QuartzNet's CTC plateau; see the study in egs/mini/RESULTS.md).
    """

    def __init__(self, encoder: nn.Module, vocab_size: int, init: str = "xavier_uniform",
                 zero_init_residual: bool = False):
        super().__init__()
        check_choice(init, INITS, "model_conf init")
        self.encoder = encoder
        self.head = nn.Linear(encoder.output_dim, vocab_size)
        self.vocab_size = vocab_size
        init_weights(self, init)
        if zero_init_residual:
            zeroed = [m.zero_init_residual() for m in self.modules() if hasattr(m, "zero_init_residual")]
            if not any(zeroed):
                raise S2SError("model_conf zero_init_residual: the encoder has no residual block with batch norm "
                               "(set residual: true or dense_residual: true on a block, or drop the option)")

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (B, T, D) with valid frames ``t < lengths[b]`` -> (logits (B, T', V), out_lengths (B,))."""
        y, out_lengths = self.encoder(feats, lengths)
        return self.head(y), out_lengths


def build_asr_model(encoder: str, encoder_conf: dict, input_dim: int, vocab_size: int, **model_conf) -> AsrModel:
    """Build ``AsrModel`` with the registered ``encoder`` configured by ``encoder_conf``.

    ``model_conf`` holds AsrModel's own options (``init``). Unknown keys or wrong
    types in either mapping raise S2SError naming the key and the allowed ones.
    The arguments are kept in ``model.build_args`` so a checkpoint can rebuild it.
    """
    check_kwargs(AsrModel, model_conf, "model_conf", skip={"encoder": None, "vocab_size": None})
    enc = ENCODERS.build(encoder, encoder_conf, context="encoder_conf", input_dim=input_dim)
    model = AsrModel(enc, vocab_size, **model_conf)
    model.build_args = {
        "encoder": encoder,
        "encoder_conf": dict(encoder_conf or {}),
        "input_dim": input_dim,
        "vocab_size": vocab_size,
        "model_conf": dict(model_conf),
    }
    return model
