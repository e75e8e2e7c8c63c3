"""Centaur: OpenSeq2Seq's convolutional attention TTS (characters -> mel spectrogram).

    text ids -> embedding -> K x conv block (kernel 3) -> linear               (encoder)
             [+ speaker and style embeddings, as Tacotron 2]                   (SpeakerStyleTts)
             -> linear to the decoder width, + sinusoidal positions            (keys and values)
    previous frame -> prenet (2 x linear + ReLU, dropout) -> linear, + positions
             -> L x [causal conv block, dot-product attention over the encoder, linear],
                each pre-layer-norm with a residual connection
             -> layer norm -> M x causal conv block -> linear: r mel frames + r stop logits
    mel -> postnet (Tacotron 2's; OpenSeq2Seq's Centaur has none) -> residual added

The layout of OpenSeq2Seq's Centaur (open_seq2seq/encoders/centaur_encoder.py,
decoders/centaur_decoder.py, example_configs/text2speech/centaur_float.py: 4 encoder blocks of
256 channels, 4 attention blocks and 4 conv blocks of 512 channels, kernel 5, one attention
head, r = 2); it is modelled on Deep Voice 3 and Transformer TTS. A conv block is conv ->
batch norm -> ReLU -> dropout with a residual connection; the decoder's are causal (padded on
the left only). Nothing is recurrent, so teacher-forced training runs every frame at once;
synthesis is autoregressive, one decoder step at a time, each causal conv keeping its last
kernel - 1 inputs, so a step costs the same however long the sentence is (OpenSeq2Seq re-ran
the whole decoder at every step). At synthesis the attention of every layer is kept within a
window of the encoder positions ahead of where it was at the previous step (OpenSeq2Seq's
monotonic forcing, window 4; ``window: 0`` turns it off), which keeps it from skipping or
repeating words.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data.text import tts_vocabulary
from s2s.data.tokens import Vocabulary
from s2s.models.registry import MODELS
from s2s.models.tts import Postnet, SpeakerStyleTts, lengths_to_mask


def positions(n: int, dim: int, device=None, offset: int = 0) -> torch.Tensor:
    """Sinusoidal position encodings (n, dim) for positions offset..offset+n-1 (Vaswani et al., 2017)."""
    pos = torch.arange(offset, offset + n, dtype=torch.float32, device=device)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe


class ConvBlock(nn.Module):
    """conv -> batch norm -> ReLU -> dropout, plus the input when ``residual``. ``causal``: padded
    on the left only; ``step`` then runs one new frame against a cache of the last inputs."""

    def __init__(self, channels: int, kernel: int, dropout: float, causal: bool, residual: bool = True):
        super().__init__()
        self.kernel, self.causal, self.residual = kernel, causal, residual
        self.conv = nn.Conv1d(channels, channels, kernel, padding=0)
        self.norm = nn.BatchNorm1d(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # (B, T, C)
        h = x.transpose(1, 2)
        if mask is not None:
            h = h * mask[:, None, :].to(h.dtype)
        pad = (self.kernel - 1, 0) if self.causal else ((self.kernel - 1) // 2, self.kernel // 2)
        h = self.dropout(F.relu(self.norm(self.conv(F.pad(h, pad))))).transpose(1, 2)
        return x + h if self.residual else h

    def new_cache(self, like: torch.Tensor) -> torch.Tensor:
        """The cache before the first frame: kernel-1 frames of zeros (the causal padding)."""
        return like.new_zeros(like.shape[0], self.conv.in_channels, self.kernel - 1)

    def step(self, x: torch.Tensor, cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame (B, C) given the last kernel-1 inputs (B, C, kernel-1); returns (out, new cache)."""
        window = torch.cat([cache, x[:, :, None]], dim=2)
        h = F.relu(self.norm(self.conv(window)))[:, :, 0]
        return (x + h if self.residual else h), window[:, :, 1:]


class AttentionBlock(nn.Module):
    """Causal conv block, dot-product attention over the encoder, linear; pre-LN residuals."""

    def __init__(self, dim: int, kernel: int, dropout: float, attention_dropout: float):
        super().__init__()
        self.norm_conv, self.conv = nn.LayerNorm(dim), ConvBlock(dim, kernel, dropout, causal=True, residual=False)
        self.norm_att = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.norm_ff, self.ff = nn.LayerNorm(dim), nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.attention_dropout = attention_dropout

    def attend(self, x, keys, values, mask):
        """x (B, T, D) over keys/values (B, N, D) with mask (B, T or 1, N): (context, weights)."""
        q = self.query(self.norm_att(x))
        scores = torch.bmm(q, keys.transpose(1, 2)).float() / math.sqrt(q.shape[-1])
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1).to(x.dtype)
        ctx = torch.bmm(F.dropout(weights, self.attention_dropout, self.training), values)
        return self.dropout(self.out(ctx)), weights

    def forward(self, x, keys, values, key_mask, frame_mask):
        x = x + self.conv(self.norm_conv(x), frame_mask)
        ctx, w = self.attend(x, keys, values, key_mask[:, None, :])
        x = x + ctx
        return x + self.dropout(self.ff(self.norm_ff(x))), w


@MODELS.register("centaur")
class Centaur(SpeakerStyleTts):
    """The model; sizes default to OpenSeq2Seq's centaur_float.py."""

    def __init__(self, n_mels: int = 80, reduction: int = 2, n_symbols: int = len(tts_vocabulary()),
                 embed_dim: int = 256, encoder_blocks: int = 4, encoder_kernel: int = 3, dim: int = 512,
                 attention_blocks: int = 4, conv_blocks: int = 4, decoder_kernel: int = 5, prenet_dims=(512, 512),
                 prenet_dropout: float = 0.5, dropout: float = 0.1, attention_dropout: float = 0.1,
                 postnet_channels: int = 512, postnet_kernel: int = 5, postnet_layers: int = 0,
                 n_speakers: int = 1, speaker_dim: int = 64, gst_tokens: int = 0, gst_token_dim: int = 256,
                 gst_heads: int = 4, gst_ref_filters=(32, 32, 64, 64, 128, 128), gst_ref_dim: int = 128,
                 gst_style_momentum: float = 0.01, normalize_mels: bool = False, window: int = 4,
                 max_decoder_steps: int = 1000, stop_threshold: float = 0.5, stop_on_attention: bool = True):
        super().__init__()
        self.r, self.dim, self.window = reduction, dim, window
        self.max_decoder_steps, self.stop_threshold = max_decoder_steps, stop_threshold
        self.stop_on_attention = stop_on_attention
        self.embedding = nn.Embedding(n_symbols, embed_dim, padding_idx=Vocabulary.pad_id)
        self.encoder_blocks = nn.ModuleList(ConvBlock(embed_dim, encoder_kernel, dropout, causal=False)
                                            for _ in range(encoder_blocks))
        self.encoder_out = nn.Linear(embed_dim, embed_dim, bias=False)
        memory_dim = embed_dim + self._init_conditioning(
            n_mels, n_speakers, speaker_dim, gst_tokens, gst_token_dim, gst_heads, gst_ref_filters, gst_ref_dim,
            gst_style_momentum, normalize_mels)
        self.keys = nn.Linear(memory_dim, dim)
        self.values = nn.Linear(memory_dim, dim)
        dims = [n_mels, *prenet_dims]
        self.prenet = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.prenet_dropout = prenet_dropout
        self.prenet_out = nn.Linear(dims[-1], dim, bias=False)
        self.attention_blocks = nn.ModuleList(AttentionBlock(dim, decoder_kernel, dropout, attention_dropout)
                                              for _ in range(attention_blocks))
        self.norm = nn.LayerNorm(dim)
        self.conv_blocks = nn.ModuleList(ConvBlock(dim, decoder_kernel, dropout, causal=True)
                                         for _ in range(conv_blocks))
        self.mel_proj = nn.Linear(dim, n_mels * reduction)
        self.stop_proj = nn.Linear(dim, reduction)
        self.postnet = Postnet(n_mels, postnet_channels, postnet_kernel, postnet_layers, dropout) \
            if postnet_layers else None

    # -------------------------------------------------------------- pieces
    def encode(self, ids, lengths, speakers=None, style=None):
        """(keys, values) (B, N, dim) of the conditioned encoder outputs, positions added."""
        mask = lengths_to_mask(lengths, ids.shape[1])
        x = self.embedding(ids)
        for block in self.encoder_blocks:
            x = block(x, mask) * mask[..., None].to(x.dtype)
        memory = self.condition(self.encoder_out(x), speakers, style)
        pos = positions(ids.shape[1], self.dim, ids.device).to(memory.dtype)
        return self.keys(memory) + pos, self.values(memory) + pos

    def _prenet(self, frames: torch.Tensor) -> torch.Tensor:
        for layer in self.prenet:
            frames = F.dropout(F.relu(layer(frames)), self.prenet_dropout, self.training)
        return self.prenet_out(frames)

    def _postnet(self, mel: torch.Tensor) -> torch.Tensor:
        return mel if self.postnet is None else mel + self.postnet(mel)

    # -------------------------------------------------------------- training
    def forward(self, ids, id_lengths, mels, mel_lengths=None, speakers=None):
        """Teacher-forced pass, all decoder steps at once. ``mels`` (B, T, n_mels) with T a multiple
        of r. Returns ``(mel_before, mel_after, stop_logits (B, T), alignment (B, T/r, N))`` in the
        decoder's (normalised) units, the alignment averaged over the attention blocks."""
        mels = self.normalize(mels)
        style = self._training_style(mels, mel_lengths, speakers)
        keys, values = self.encode(ids, id_lengths, speakers, style)
        key_mask = lengths_to_mask(id_lengths, ids.shape[1])
        b, t, _ = mels.shape
        steps = t // self.r
        last_frames = mels[:, self.r - 1::self.r][:, :steps]
        inputs = torch.cat([mels.new_zeros(b, 1, self.n_mels), last_frames[:, :-1]], dim=1)
        if mel_lengths is None:
            mel_lengths = torch.full((b,), t, dtype=torch.long, device=mels.device)
        frame_mask = lengths_to_mask((mel_lengths + self.r - 1) // self.r, steps)
        x = self._prenet(inputs) + positions(steps, self.dim, mels.device).to(mels.dtype)
        aligns = []
        for block in self.attention_blocks:
            x, w = block(x, keys, values, key_mask, frame_mask)
            aligns.append(w)
        x = self.norm(x)
        for block in self.conv_blocks:
            x = block(x, frame_mask)
        mel_before = self.mel_proj(x).view(b, steps * self.r, self.n_mels)
        stop = self.stop_proj(x).reshape(b, steps * self.r)
        return mel_before, self._postnet(mel_before), stop, torch.stack(aligns).mean(0)

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def infer(self, ids: torch.Tensor, speaker: int = 0, max_steps: int | None = None, min_steps: int = 0,
              style: torch.Tensor | None = None):
        """One sentence: ``ids`` (N,) ending with EOS -> ``(mel (T, n_mels), alignment (T/r, N), stopped)``,
        step by step with cached causal convs and windowed attention; stopping as Tacotron 2's ``infer``."""
        ids = ids[None]
        n = ids.shape[1]
        lengths = torch.tensor([n], device=ids.device)
        spk = torch.tensor([speaker], device=ids.device)
        keys, values = self.encode(ids, lengths, spk, None if style is None else style.reshape(1, -1))
        blocks = list(self.attention_blocks)
        frame = keys.new_zeros(1, self.n_mels)
        caches = [blk.conv.new_cache(keys[:, 0]) for blk in blocks] + [blk.new_cache(keys[:, 0])
                                                                      for blk in self.conv_blocks]
        where = [0] * len(blocks)
        outs, aligns, stopped, at_end = [], [], False, 0
        idx = torch.arange(n, device=ids.device)
        for step in range(max_steps or self.max_decoder_steps):
            x = self._prenet(frame) + positions(1, self.dim, ids.device, offset=step).to(frame.dtype)
            ws = []
            for i, blk in enumerate(blocks):
                h, caches[i] = blk.conv.step(blk.norm_conv(x), caches[i])
                x = x + h
                mask = ((idx >= where[i]) & (idx < where[i] + self.window) if self.window > 0
                        else torch.ones_like(idx, dtype=torch.bool))[None, None, :]
                ctx, w = blk.attend(x[:, None], keys, values, mask)
                x = x + ctx[:, 0]
                x = x + blk.ff(blk.norm_ff(x))
                where[i] = max(where[i], int(w[0, 0].argmax()))
                ws.append(w[0, 0])
            x = self.norm(x)
            for j, blk in enumerate(self.conv_blocks):
                x, caches[len(blocks) + j] = blk.step(x, caches[len(blocks) + j])
            m = self.mel_proj(x).view(1, self.r, self.n_mels)
            g = self.stop_proj(x)
            w = torch.stack(ws).mean(0)
            outs.append(m)
            aligns.append(w[None])
            frame = m[:, -1]
            if step + 1 < min_steps:
                continue
            if torch.sigmoid(g).max() > self.stop_threshold:
                stopped = True
                break
            at_end = at_end + 1 if int(w.argmax()) == n - 1 else 0
            if self.stop_on_attention and at_end >= 3:
                stopped = True
                break
        mel = self._postnet(torch.cat(outs, 1))
        return self.denormalize(mel[0]), torch.cat(aligns, 0), stopped
