"""The input stage of every speech model: feature extraction, normalisation, SpecAugment.

``SpeechFrontEnd(x, lengths)`` takes waveforms ``(B, N)`` (lengths in samples) or
dumped, unnormalised features ``(B, T, D)`` (lengths in frames) and returns
normalised features ``(B, T, D)`` with frame lengths; in training mode it also
applies SpecAugment. Its ``feature_extractor`` is an ``s2s.data.features`` front end
(the same module that dumps features), its ``normalizer`` an
``s2s.data.cmvn.Normalizer`` whose global statistics are saved with the weights.
"""

from __future__ import annotations

from torch import Tensor, nn

from s2s.data.cmvn import Normalizer
from s2s.data.features import build_frontend
from s2s.errors import S2SError


class SpeechFrontEnd(nn.Module):
    """``feature_extractor`` (None: features only) -> ``normalizer`` -> ``specaug`` (training only)."""

    def __init__(self, input_dim: int, frontend: dict | None = None, cmvn: str = "global",
                 specaug: dict | None = None):
        super().__init__()
        self.feature_extractor = None
        if frontend is not None:
            self.feature_extractor = build_frontend(frontend)
            if self.feature_extractor.dim != input_dim:
                raise S2SError(f"frontend config gives {self.feature_extractor.dim}-dim features but the model "
                               f"expects {input_dim}; the dumped features do not come from this front end")
        self.normalizer = Normalizer(cmvn, input_dim)
        self.specaug = None  # an s2s.data.augment.SpecAugment: no parameters, drawn from torch's RNG
        if specaug:
            from s2s.data.augment import build_augment

            self.specaug = build_augment(specaug, "specaugment", context="specaug_conf")
        self.dim = input_dim

    @property
    def sample_rate(self) -> int | None:
        return None if self.feature_extractor is None else int(self.feature_extractor.sample_rate)

    @property
    def frame_shift(self) -> float | None:
        """Seconds between feature frames (None without a feature extractor)."""
        return None if self.feature_extractor is None else float(self.feature_extractor.frame_shift)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() == 2:
            if self.feature_extractor is None:
                raise S2SError("this model was trained on dumped features without a front end config; it cannot "
                               "read audio (give it features, or retrain with a frontend_conf)")
            x, lengths = self.feature_extractor(x, lengths)
        elif x.dim() != 3 or x.shape[-1] != self.dim:
            raise S2SError(f"model input must be waveforms (B, N) or {self.dim}-dim features (B, T, {self.dim}), "
                           f"got shape {tuple(x.shape)}")
        feats = self.normalizer(x, lengths)
        if self.training and self.specaug is not None:
            feats = self.specaug(feats, lengths)
        return feats, lengths
