"""What the TTS models (Tacotron 2, Centaur) share: speakers, Global Style Tokens, normalised mels.

``SpeakerStyleTts`` is their base: an optional speaker embedding and style embedding
(Global Style Tokens, Wang et al., 2018, arXiv 1803.09017; OpenSeq2Seq's Tacotron-GST),
concatenated to every encoder output (``condition``); each training speaker's mean style,
kept in the ``speaker_styles`` buffer and used when synthesis names no other style; and
optional per-bin normalisation of the log-mels (``normalize_mels``: the training data's mean
and standard deviation in the ``mel_mean``/``mel_std`` buffers, as ESPnet normalises TTS
features), so that an L2 or L1 loss weighs every bin alike. Also here: the reference
encoder and the token layer of GST, the postnet, masks and the diagonal score.
"""

from __future__ import annotations

import torch
from torch import nn


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B, T) bool mask, True at valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class ReferenceEncoder(nn.Module):
    """Mel spectrogram (B, T, n_mels) -> one vector per utterance (Skerry-Ryan et al., 2018):
    2-D convolutions (3x3, stride 2, batch norm, ReLU), then a GRU over the remaining frames
    whose last valid state is the output."""

    def __init__(self, n_mels: int, filters: list[int], gru_dim: int):
        super().__init__()
        layers, c = [], 1
        for f in filters:
            layers += [nn.Conv2d(c, f, 3, stride=2, padding=1), nn.BatchNorm2d(f), nn.ReLU()]
            c = f
        self.convs = nn.Sequential(*layers)
        self.n_convs = len(filters)
        freq = n_mels
        for _ in filters:
            freq = (freq - 1) // 2 + 1
        self.gru = nn.GRU(c * freq, gru_dim, batch_first=True)
        self.output_dim = gru_dim

    def forward(self, mels: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b = mels.shape[0]
        if lengths is None:
            lengths = torch.full((b,), mels.shape[1], dtype=torch.long, device=mels.device)
        # Frames past an utterance's end are zeroed before every conv (as the conv's own zero
        # padding would be), so an utterance's style does not depend on the batch's padding.
        out_len = lengths
        x = (mels * lengths_to_mask(out_len, mels.shape[1])[..., None].to(mels.dtype))[:, None]
        for layer in self.convs:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                out_len = torch.div(out_len - 1, 2, rounding_mode="floor") + 1
                x = x * lengths_to_mask(out_len, x.shape[2])[:, None, :, None].to(x.dtype)
        x = x.permute(0, 2, 1, 3).flatten(2)             # (B, T', C F')
        out_len = out_len.clamp(1, x.shape[1])
        packed = nn.utils.rnn.pack_padded_sequence(x, out_len.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return h[-1]


class StyleTokens(nn.Module):
    """Global Style Tokens: ``tokens`` learned vectors (tanh-squashed) attended by a reference
    embedding with ``heads``-head attention; output (B, token_dim)."""

    def __init__(self, ref_dim: int, tokens: int, token_dim: int, heads: int):
        super().__init__()
        if token_dim % heads:
            raise ValueError(f"gst token_dim {token_dim} must be a multiple of gst heads {heads}")
        self.tokens = nn.Parameter(torch.randn(tokens, token_dim // heads) * 0.5)
        self.heads, self.token_dim = heads, token_dim
        self.query = nn.Linear(ref_dim, token_dim, bias=False)
        self.key = nn.Linear(token_dim // heads, token_dim, bias=False)
        self.value = nn.Linear(token_dim // heads, token_dim, bias=False)

    def weights(self, ref: torch.Tensor) -> torch.Tensor:
        """Attention weights over the tokens, (B, heads, tokens)."""
        b, h = ref.shape[0], self.heads
        q = self.query(ref).view(b, h, -1)                                   # (B, h, d)
        k = self.key(torch.tanh(self.tokens)).view(-1, h, q.shape[-1])       # (K, h, d)
        scores = torch.einsum("bhd,khd->bhk", q, k) / q.shape[-1] ** 0.5
        return torch.softmax(scores.float(), dim=-1).to(ref.dtype)

    def combine(self, weights: torch.Tensor) -> torch.Tensor:
        """Style embedding (B, token_dim) from token weights (B, heads, tokens)."""
        v = self.value(torch.tanh(self.tokens)).view(-1, self.heads, self.token_dim // self.heads)  # (K, h, d)
        return torch.einsum("bhk,khd->bhd", weights, v).flatten(1)

    def forward(self, ref: torch.Tensor) -> torch.Tensor:
        return self.combine(self.weights(ref))


class Postnet(nn.Module):
    def __init__(self, n_mels: int, channels: int, kernel: int, n_layers: int, dropout: float):
        super().__init__()
        layers = []
        for i in range(n_layers):
            c_in = n_mels if i == 0 else channels
            c_out = n_mels if i == n_layers - 1 else channels
            layers.append(nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out),
                                        nn.Tanh() if i < n_layers - 1 else nn.Identity(), nn.Dropout(dropout)))
        self.layers = nn.Sequential(*layers)

    def forward(self, mel, mask: torch.Tensor | None = None):  # (B, T, n_mels), (B, T)
        """``mask``: frames past each end are zeroed before every layer (as the convs' own zero
        padding), so an utterance's output does not depend on the batch's padding."""
        if mask is None:
            return self.layers(mel.transpose(1, 2)).transpose(1, 2)
        m = mask[:, None, :].to(mel.dtype)
        x = mel.transpose(1, 2)
        for layer in self.layers:
            x = layer(x * m)
        return (x * m).transpose(1, 2)


class SpeakerStyleTts(nn.Module):
    """Base of the TTS models: speaker and style conditioning and log-mel normalisation.

    A subclass calls ``_init_conditioning`` in its constructor (it returns the width the
    speaker and style embeddings add to every encoder output), ``condition`` on its encoder
    outputs, and ``_training_style`` in its teacher-forced pass."""

    def _init_conditioning(self, n_mels: int, n_speakers: int, speaker_dim: int, gst_tokens: int,
                           gst_token_dim: int, gst_heads: int, gst_ref_filters, gst_ref_dim: int,
                           gst_style_momentum: float, normalize_mels: bool) -> int:
        self.n_mels = n_mels
        self.normalize_mels = normalize_mels
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))
        self.n_speakers = n_speakers
        self.speaker_embedding = nn.Embedding(n_speakers, speaker_dim) if n_speakers > 1 else None
        added = speaker_dim if n_speakers > 1 else 0
        self.gst = None
        if gst_tokens:
            self.reference_encoder = ReferenceEncoder(n_mels, list(gst_ref_filters), gst_ref_dim)
            self.gst = StyleTokens(gst_ref_dim, gst_tokens, gst_token_dim, gst_heads)
            added += gst_token_dim
            # Each training speaker's mean style (an exponential moving average over the
            # training batches, like batch norm's statistics): the default style at synthesis.
            self.register_buffer("speaker_styles", torch.zeros(n_speakers, gst_token_dim))
            self.register_buffer("speaker_style_seen", torch.zeros(n_speakers, dtype=torch.bool))
            self.style_momentum = gst_style_momentum
        return added

    def condition(self, memory: torch.Tensor, speakers: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder outputs (B, N, D) with the speaker and style embeddings concatenated to every
        position. ``style`` (B, gst_token_dim): None takes each speaker's mean training style."""
        if speakers is None:
            speakers = torch.zeros(memory.shape[0], dtype=torch.long, device=memory.device)
        parts = [memory]
        if self.speaker_embedding is not None:
            parts.append(self.speaker_embedding(speakers)[:, None, :].expand(-1, memory.shape[1], -1))
        if self.gst is not None:
            if style is None:
                style = self.speaker_styles[speakers].to(memory.dtype)
            parts.append(style[:, None, :].expand(-1, memory.shape[1], -1).to(memory.dtype))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else memory

    def _training_style(self, mels: torch.Tensor, mel_lengths, speakers) -> torch.Tensor | None:
        """The style of each target (normalised) mel in a teacher-forced pass; in training mode it
        also moves the speakers' mean styles."""
        if self.gst is None:
            return None
        style = self.style(mels, mel_lengths)
        if self.training:
            if speakers is None:
                speakers = torch.zeros(mels.shape[0], dtype=torch.long, device=mels.device)
            self._track_speaker_styles(style.detach(), speakers)
        return style

    def set_mel_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-bin statistics of the training log-mels (used with ``normalize_mels``)."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std.clamp_min(1e-3))

    def normalize(self, mels: torch.Tensor) -> torch.Tensor:
        """Log-mels as the decoder predicts them (per-bin normalised with ``normalize_mels``)."""
        return (mels - self.mel_mean) / self.mel_std if self.normalize_mels else mels

    def denormalize(self, mels: torch.Tensor) -> torch.Tensor:
        return mels * self.mel_std + self.mel_mean if self.normalize_mels else mels

    def style(self, mels: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
              token_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Style embedding (B, gst_token_dim) of reference mels (B, T, n_mels) as the decoder sees
        them (``reference_style`` takes plain log-mels), or of explicit token weights
        (B, heads, tokens) or (B, tokens) (the same weights for every head)."""
        if self.gst is None:
            raise ValueError("this model has no style tokens (gst_tokens: 0)")
        if token_weights is not None:
            w = token_weights if token_weights.dim() == 3 else token_weights[:, None, :].expand(
                -1, self.gst.heads, -1)
            return self.gst.combine(w.to(self.gst.tokens.dtype))
        return self.gst(self.reference_encoder(mels, lengths))

    def reference_style(self, mels: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Style embedding of plain (not normalised) reference log-mels (B, T, n_mels)."""
        return self.style(self.normalize(mels), lengths)

    @torch.no_grad()
    def _track_speaker_styles(self, style: torch.Tensor, speakers: torch.Tensor) -> None:
        """Move each speaker's mean style towards this batch's styles (the first one sets it)."""
        for spk in speakers.unique():
            sel = speakers == spk
            mean = style[sel].float().mean(0)
            if not bool(self.speaker_style_seen[spk]):
                self.speaker_styles[spk] = mean
                self.speaker_style_seen[spk] = True
            else:
                m = 1.0 - (1.0 - self.style_momentum) ** int(sel.sum())
                self.speaker_styles[spk].lerp_(mean, m)


def diagonal_score(alignment: torch.Tensor, text_len: int, steps: int, band: float = 0.1) -> float:
    """How diagonal an attention matrix is: the share of attention mass within ``band``
    (a fraction of the text length) of the straight line from (0, 0) to (steps, text_len).

    ``alignment`` is (decoder steps, encoder steps). A monotonic alignment that reads
    the text at a steady pace scores near 1; uniform attention scores about 2 * band.
    """
    a = alignment[:steps, :text_len].float()
    t = torch.arange(steps, dtype=torch.float32)[:, None] / max(steps - 1, 1)
    n = torch.arange(text_len, dtype=torch.float32)[None, :] / max(text_len - 1, 1)
    near = (n - t).abs() <= band
    return float((a * near).sum() / a.sum().clamp_min(1e-9))
