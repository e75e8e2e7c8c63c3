"""FastSpeech: non-autoregressive TTS with symbol durations learned from a teacher's attention.

    text ids -> embedding -> K x residual conv block                          (encoder)
             [+ speaker and style embeddings, as Tacotron 2] -> linear       (SpeakerStyleTts)
             -> duration predictor (2 x conv, ReLU, layer norm; linear): log(1 + frames)
             -> length regulator: each symbol's vector repeated for its frames,
                + sinusoidal frame positions + how far into its symbol the frame is
             -> L x residual dilated conv block -> layer norm -> linear: the mel frames
    mel -> postnet (Tacotron 2's) -> residual added

FastSpeech (Ren et al., 2019, arXiv 1905.09263) generates every frame at once from the text
and per-symbol durations; in training the durations come from the attention of a trained
autoregressive teacher (here an s2s Tacotron 2 or Centaur, extracted by
``s2s.bin.tts_durations``, as ESPnet's FastSpeech recipes take them from a Tacotron 2), and
a duration predictor learns to predict them for synthesis. Nothing feeds back a predicted
frame, so the exposure bias of an autoregressive decoder (its own errors fed back as input,
never seen in teacher-forced training) is gone, and so are skipped and repeated words. The
feed-forward Transformer blocks of the paper are replaced by residual convolutions with
growing dilation, as in SpeedySpeech (Vainer and Dusek, 2020, arXiv 2008.03802), which train
quickly on a CPU.

With ``pitch=True`` it is FastPitch (Lancucki, 2021, arXiv 2006.06873, as in NeMo): a second
predictor of the duration predictor's shape estimates each symbol's mean log-F0 (normalised by
the training set's mean and deviation, 0 for an unvoiced symbol), and a 1-D convolution of the
pitch (the target's in training, the prediction's in synthesis) is added to the encoder outputs
before the length regulator. The per-symbol F0 comes with the durations (DATA/pitch,
s2s.synth.pitch). No energy predictor (FastSpeech 2).

With ``aligner=True`` no teacher is needed: an alignment encoder trained with the model
(s2s.models.aligner; Badlani et al., 2022, as NeMo's FastPitch) aligns each training
utterance's frames to its symbols, and the most likely monotonic path through that alignment
gives the durations the length regulator and the duration predictor use. FastPitch's pitch
targets are then each symbol's mean over those durations of the frame-level F0 (DATA/f0,
s2s.bin.tts_pitch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data.text import tts_vocabulary
from s2s.data.tokens import Vocabulary
from s2s.models.aligner import (
    AlignmentEncoder,
    binarization_loss,
    forward_sum_loss,
    frame_symbols,
    log_beta_binomial_prior,
    monotonic_alignment,
)
from s2s.models.centaur import positions
from s2s.models.registry import MODELS
from s2s.models.tts import Postnet, SpeakerStyleTts, lengths_to_mask


class ResConv(nn.Module):
    """x + dropout(ReLU(conv(layer norm(x)))), the conv dilated and padded to keep the length;
    positions past each sequence's end are zeroed before the conv."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # (B, T, C), (B, T)
        h = (self.norm(x) * mask[..., None].to(x.dtype)).transpose(1, 2)
        return x + self.dropout(F.relu(self.conv(h))).transpose(1, 2)


class DurationPredictor(nn.Module):
    """(B, N, C) -> log(1 + frames) of each symbol (B, N) (FastSpeech's: 2 convs, ReLU, layer norm,
    dropout, then a linear layer)."""

    def __init__(self, channels: int, hidden: int, kernel: int, layers: int, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels if i == 0 else hidden, hidden, kernel, padding=kernel // 2)
                                   for i in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[..., None].to(x.dtype)
        for conv, norm in zip(self.convs, self.norms):
            x = self.dropout(norm(F.relu(conv((x * m).transpose(1, 2)).transpose(1, 2))))
        return self.out(x * m)[..., 0]


def regulate(x: torch.Tensor, durations: torch.Tensor, max_frames: int | None = None):
    """Length regulator: symbol vectors (B, N, C) and integer durations (B, N) -> frame vectors
    (B, T, C), frame lengths (B,), the symbol of each frame (B, T) and how far into its symbol
    each frame is, (k + 0.5) / duration in (0, 1) (B, T)."""
    c = x.shape[2]
    lengths = durations.sum(1)
    t = int(lengths.max()) if max_frames is None else max_frames
    frame, symbol = frame_symbols(durations, max(t, 1))                   # (B, T)
    start = (durations.cumsum(1) - durations).gather(1, symbol)
    dur = durations.gather(1, symbol).clamp_min(1)
    progress = ((frame - start).to(x.dtype) + 0.5) / dur.to(x.dtype)
    out = x.gather(1, symbol[..., None].expand(-1, -1, c))
    return out, lengths, symbol, progress.clamp(0, 1)


def mean_pitch(frame_pitch: torch.Tensor, durations: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Each symbol's mean F0 over the voiced frames of its span (B, N), 0 where none is voiced,
    from the F0 of each frame (B, T; 0: unvoiced) and the durations (B, N)."""
    frame, symbol = frame_symbols(durations, frame_pitch.shape[1])
    f0 = frame_pitch.float()
    voiced = ((f0 > 0) & (frame < frames[:, None])).float()
    total = torch.zeros(durations.shape, device=f0.device).scatter_add_(1, symbol, f0 * voiced)
    count = torch.zeros(durations.shape, device=f0.device).scatter_add_(1, symbol, voiced)
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))


@MODELS.register("fastspeech")
class FastSpeech(SpeakerStyleTts):
    """The model; sizes for egs/mini (a few million parameters)."""

    def __init__(self, n_mels: int = 80, n_symbols: int = len(tts_vocabulary()), reduction: int = 1,
                 embed_dim: int = 256, encoder_blocks: int = 4, encoder_kernel: int = 5, dim: int = 256,
                 decoder_blocks: int = 8, decoder_kernel: int = 5, dilations=(1, 2, 4, 8),
                 duration_hidden: int = 256, duration_kernel: int = 3, duration_layers: int = 2,
                 dropout: float = 0.1, postnet_channels: int = 256, postnet_kernel: int = 5,
                 postnet_layers: int = 5, n_speakers: int = 1, speaker_dim: int = 64, gst_tokens: int = 0,
                 gst_token_dim: int = 128, gst_heads: int = 4, gst_ref_filters=(32, 32, 64, 64, 128, 128),
                 gst_ref_dim: int = 128, gst_style_momentum: float = 0.01, normalize_mels: bool = False,
                 max_frames_per_symbol: int = 50, pitch: bool = False, pitch_kernel: int = 3,
                 aligner: bool = False, aligner_dim: int = 80, aligner_temperature: float = 0.0005,
                 prior_scaling: float = 1.0, bin_start_steps: int = 0, bin_warmup_steps: int = 0):
        super().__init__()
        self.r = reduction  # frames are padded to a multiple of it by the collate; 1 is enough
        self.dim = dim
        self.max_frames_per_symbol = max_frames_per_symbol
        self.embedding = nn.Embedding(n_symbols, embed_dim, padding_idx=Vocabulary.pad_id)
        self.encoder_blocks = nn.ModuleList(ResConv(embed_dim, encoder_kernel, 1, dropout)
                                            for _ in range(encoder_blocks))
        self.encoder_norm = nn.LayerNorm(embed_dim)
        memory_dim = embed_dim + self._init_conditioning(
            n_mels, n_speakers, speaker_dim, gst_tokens, gst_token_dim, gst_heads, gst_ref_filters, gst_ref_dim,
            gst_style_momentum, normalize_mels)
        self.encoder_out = nn.Linear(memory_dim, dim)
        self.duration_predictor = DurationPredictor(dim, duration_hidden, duration_kernel, duration_layers, dropout)
        self.use_pitch = pitch
        if pitch:
            self.pitch_predictor = DurationPredictor(dim, duration_hidden, duration_kernel, duration_layers, dropout)
            self.pitch_embedding = nn.Conv1d(1, dim, pitch_kernel, padding=pitch_kernel // 2)
            # log-F0 mean and deviation of the training symbols (the task sets them from the data)
            self.register_buffer("pitch_stats", torch.tensor([0.0, 1.0]))
        self.use_aligner = aligner
        if aligner:
            self.aligner = AlignmentEncoder(n_mels, embed_dim, aligner_dim, aligner_temperature)
            self.prior_scaling = prior_scaling
            self.bin_start_steps, self.bin_warmup_steps = bin_start_steps, bin_warmup_steps
            self.register_buffer("aligner_steps", torch.zeros((), dtype=torch.long))  # training passes so far
        self.progress = nn.Linear(1, dim)
        self.decoder_blocks = nn.ModuleList(ResConv(dim, decoder_kernel, dilations[i % len(dilations)], dropout)
                                            for i in range(decoder_blocks))
        self.decoder_norm = nn.LayerNorm(dim)
        self.mel_proj = nn.Linear(dim, n_mels)
        self.postnet = Postnet(n_mels, postnet_channels, postnet_kernel, postnet_layers, dropout) \
            if postnet_layers else None

    # -------------------------------------------------------------- pieces
    def encode(self, ids, lengths, speakers=None, style=None):
        """Conditioned encoder outputs (B, N, dim)."""
        mask = lengths_to_mask(lengths, ids.shape[1])
        x = self.embedding(ids)
        for block in self.encoder_blocks:
            x = block(x, mask)
        x = self.encoder_norm(x) * mask[..., None].to(x.dtype)
        return self.encoder_out(self.condition(x, speakers, style)) * mask[..., None].to(x.dtype)

    def decode(self, memory: torch.Tensor, durations: torch.Tensor, max_frames: int | None = None):
        """Frames from the encoder outputs and integer durations: (mel_before, mel_after, frame lengths,
        the symbol of each frame)."""
        x, lengths, symbol, progress = regulate(memory, durations, max_frames)
        mask = lengths_to_mask(lengths, x.shape[1])
        x = x + positions(x.shape[1], self.dim, x.device).to(x.dtype) + self.progress(progress[..., None])
        for block in self.decoder_blocks:
            x = block(x, mask)
        before = self.mel_proj(self.decoder_norm(x)) * mask[..., None].to(x.dtype)
        after = before if self.postnet is None else before + self.postnet(before, mask)
        return before, after, lengths, symbol

    def set_pitch_stats(self, mean: float, std: float) -> None:
        self.pitch_stats.copy_(torch.tensor([mean, std]))

    def normalize_pitch(self, hz: torch.Tensor) -> torch.Tensor:
        """F0 in Hz (0: unvoiced) -> (log F0 - mean) / std, 0 where unvoiced."""
        norm = (torch.log(hz.clamp_min(1.0)) - self.pitch_stats[0]) / self.pitch_stats[1]
        return torch.where(hz > 0, norm, torch.zeros_like(norm))

    def add_pitch(self, memory: torch.Tensor, pitch: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encoder outputs plus the embedding of the (normalised) pitch of each symbol (B, N)."""
        p = (pitch * mask.to(pitch.dtype))[:, None, :].to(memory.dtype)
        return memory + self.pitch_embedding(p).transpose(1, 2) * mask[..., None].to(memory.dtype)

    # -------------------------------------------------------------- training
    def forward(self, ids, id_lengths, mels, mel_lengths=None, speakers=None, durations=None, pitch=None,
                frame_pitch=None):
        """Pass with the given (teacher) durations (B, N), which sum to each ``mel_lengths``, and,
        for FastPitch, each symbol's mean F0 in Hz (B, N; 0: unvoiced); with the aligner, the
        durations come from it and FastPitch takes the F0 of each frame (B, T) instead. Returns
        ``(mel_before (B, T, n_mels), mel_after, log_duration_prediction (B, N), normalised pitch
        prediction (B, N) or None, aux)``, the mels in the decoder's (normalised) units; ``aux`` is
        empty without the aligner, else ``durations`` and (FastPitch) ``pitch`` (the targets it
        gave, (B, N)), and the summed ``align`` (forward-sum) and ``bin`` (binarization, times its
        warm-up factor) losses."""
        if mel_lengths is None:
            mel_lengths = torch.full((mels.shape[0],), mels.shape[1], dtype=torch.long, device=mels.device)
        mels = self.normalize(mels)
        mask = lengths_to_mask(id_lengths, ids.shape[1])
        aux = {}
        if self.use_aligner:
            if self.use_pitch and frame_pitch is None:
                raise ValueError("fastspeech with pitch and aligner: training needs each frame's F0 (DATA/f0, "
                                 "written by s2s.bin.tts_pitch)")
            durations, aux = self._align(ids, id_lengths, mels, mel_lengths, mask)
            if self.use_pitch:
                pitch = mean_pitch(frame_pitch, durations, mel_lengths)
                aux["pitch"] = pitch
        elif durations is None:
            raise ValueError("fastspeech: training needs the symbols' durations (s2s.bin.tts_durations), or "
                             "model_conf.aligner: true")
        elif self.use_pitch and pitch is None:
            raise ValueError("fastspeech with pitch: training needs each symbol's F0 (DATA/pitch, written by "
                             "s2s.bin.tts_durations)")
        style = self._training_style(mels, mel_lengths, speakers)
        memory = self.encode(ids, id_lengths, speakers, style)
        log_dur = self.duration_predictor(memory, mask)
        pitch_pred = None
        if self.use_pitch:
            pitch_pred = self.pitch_predictor(memory, mask)
            memory = self.add_pitch(memory, self.normalize_pitch(pitch.float()), mask)
        before, after, _, _ = self.decode(memory, durations, mels.shape[1])
        return before, after, log_dur, pitch_pred, aux

    def _align(self, ids, id_lengths, mels, mel_lengths, mask):
        """The aligner's durations (B, N) and its losses (``aux``)."""
        prior = log_beta_binomial_prior(id_lengths, mel_lengths, ids.shape[1], mels.shape[1], self.prior_scaling)
        log_prob, soft = self.aligner(mels, self.embedding(ids), prior, mask)
        durations = monotonic_alignment(torch.log(soft.detach().clamp_min(1e-12)), id_lengths, mel_lengths)
        if self.training:
            self.aligner_steps += 1
        steps = int(self.aligner_steps) - self.bin_start_steps
        scale = 0.0 if steps <= 0 else min(1.0, steps / max(self.bin_warmup_steps, 1))
        bin_sum = binarization_loss(soft, durations, mel_lengths) * scale if scale > 0 else soft.new_zeros(())
        return durations, {"durations": durations, "align": forward_sum_loss(log_prob, id_lengths, mel_lengths),
                           "bin": bin_sum}

    def predict_durations(self, memory: torch.Tensor, lengths: torch.Tensor, pace: float = 1.0) -> torch.Tensor:
        """Integer frames per symbol (B, N) from the duration predictor (at least 1 frame a sentence)."""
        mask = lengths_to_mask(lengths, memory.shape[1])
        log_dur = self.duration_predictor(memory, mask)
        d = torch.round(torch.expm1(log_dur.float()).clamp_min(0) / pace).long()
        d = d.clamp(max=self.max_frames_per_symbol) * mask
        d[:, 0] = torch.where(d.sum(1) == 0, torch.ones_like(d[:, 0]), d[:, 0])
        return d

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def infer(self, ids: torch.Tensor, speaker: int = 0, max_steps: int | None = None, min_steps: int = 0,
              style: torch.Tensor | None = None, pace: float = 1.0):
        """One sentence: ``ids`` (N,) -> ``(mel (T, n_mels), alignment (T, N), True)``, the same
        result as the autoregressive models' ``infer`` (the alignment here is the hard one of the
        predicted durations; ``max_steps`` caps the frames, ``min_steps`` is not needed: nothing
        has to decide when to stop)."""
        ids = ids[None]
        lengths = torch.tensor([ids.shape[1]], device=ids.device)
        spk = torch.tensor([speaker], device=ids.device)
        memory = self.encode(ids, lengths, spk, None if style is None else style.reshape(1, -1))
        durations = self.predict_durations(memory, lengths, pace)
        if self.use_pitch:
            mask = lengths_to_mask(lengths, ids.shape[1])
            memory = self.add_pitch(memory, self.pitch_predictor(memory, mask), mask)
        if max_steps:
            durations[0] = torch.where(durations[0].cumsum(0) > max_steps * self.r, 0, durations[0])
            if int(durations.sum()) == 0:
                durations[0, 0] = 1
        _, mel, _, symbol = self.decode(memory, durations)
        align = F.one_hot(symbol[0], ids.shape[1]).float()
        return self.denormalize(mel[0]), align, True
