"""Tacotron 2 (Shen et al., 2018, arXiv 1712.05884): characters -> mel spectrogram.

    text ids -> embedding -> 3 x (conv, batch norm, ReLU, dropout) -> BiLSTM      (encoder)
             [+ speaker embedding concatenated to every encoder output]           (multi-speaker)
             [+ style embedding concatenated to every encoder output]             (Global Style Tokens)
    previous frame -> prenet (2 x linear+ReLU, dropout always on) -> attention LSTM
             -> location-sensitive attention over the encoder outputs -> context
             -> decoder LSTM -> linear projection to r mel frames + r stop-token logits
    mel -> postnet (5 x conv + tanh, batch norm) -> residual added                (refinement)

Global Style Tokens (Wang et al., 2018, arXiv 1803.09017; OpenSeq2Seq's Tacotron-GST): a
reference encoder reads a mel spectrogram (during training, the target itself) into one
vector, which attends over a bank of learned tokens; the weighted sum is the style embedding.
At synthesis the style comes from a reference recording, from explicit token weights, or by
default from the running mean of the style embeddings the model saw for that speaker in
training (kept in the ``speaker_styles`` buffer, so a checkpoint needs nothing beside it).

``reduction`` (r) frames are predicted per decoder step, as in Tacotron 1 and
OpenSeq2Seq's Tacotron: r = 2..3 shortens the autoregressive loop and makes the
attention learn much faster on small data; r = 1 is the paper's model.
Training uses teacher forcing; ``infer`` runs the decoder on its own output until the
stop token fires. The whole model is one file on purpose: read it top to bottom.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data.text import tts_vocabulary
from s2s.data.tokens import Vocabulary
from s2s.models.registry import MODELS

# Symbols: the TTS vocabulary of s2s.data.text (lower-case letters, apostrophe and the word
# boundary after the specials); <pad> pads and </s> ends every sentence.
N_SYMBOLS = len(tts_vocabulary())


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B, T) bool mask, True at valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class Encoder(nn.Module):
    def __init__(self, n_symbols: int, embed_dim: int, channels: int, kernel: int, n_convs: int,
                 lstm_dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, embed_dim, padding_idx=Vocabulary.pad_id)
        layers, d = [], embed_dim
        for _ in range(n_convs):
            layers += [nn.Conv1d(d, channels, kernel, padding=kernel // 2), nn.BatchNorm1d(channels),
                       nn.ReLU(), nn.Dropout(dropout)]
            d = channels
        self.convs = nn.Sequential(*layers)
        self.lstm = nn.LSTM(d, lstm_dim // 2, batch_first=True, bidirectional=True)
        self.output_dim = lstm_dim

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # Padding is zeroed before and after every conv so batch composition does not leak into outputs.
        mask = lengths_to_mask(lengths, ids.shape[1])[:, None, :]
        x = self.embedding(ids).transpose(1, 2)
        mask = mask.to(x.dtype)
        x = x * mask
        for layer in self.convs:
            x = layer(x)
            if isinstance(layer, nn.Conv1d):
                x = x * mask
        packed = nn.utils.rnn.pack_padded_sequence(x.transpose(1, 2), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return out


class LocationSensitiveAttention(nn.Module):
    """Additive attention whose energies also see the previous and cumulative alignments
    through a convolution (Chorowski et al., 2015), which pushes it forward monotonically."""

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int, filters: int, kernel: int):
        super().__init__()
        self.query = nn.Linear(query_dim, attn_dim, bias=False)
        self.memory = nn.Linear(memory_dim, attn_dim, bias=False)
        self.location_conv = nn.Conv1d(2, filters, kernel, padding=kernel // 2, bias=False)
        self.location = nn.Linear(filters, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=True)

    def forward(self, query, processed_memory, memory, att_prev, att_cum, mask):
        loc = self.location(self.location_conv(torch.stack([att_prev, att_cum], dim=1)).transpose(1, 2))
        energies = self.v(torch.tanh(self.query(query)[:, None, :] + processed_memory + loc)).squeeze(-1)
        energies = energies.float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(energies, dim=-1).to(memory.dtype)
        context = torch.bmm(weights[:, None, :], memory).squeeze(1)
        return context, weights


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


class Prenet(nn.Module):
    def __init__(self, in_dim: int, dims: list[int], dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip([in_dim] + dims[:-1], dims))
        self.dropout = dropout

    def forward(self, x):
        # Dropout stays on at inference too (as in the paper): it is the only source of
        # variation in the autoregressive input and keeps the decoder from copying frames.
        for layer in self.layers:
            x = F.dropout(F.relu(layer(x)), p=self.dropout, training=True)
        return x


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

    def forward(self, mel):  # (B, T, n_mels)
        return self.layers(mel.transpose(1, 2)).transpose(1, 2)


@MODELS.register("tacotron2")
class Tacotron2(nn.Module):
    """The model. Sizes default to the paper's; tests and small recipes shrink them."""

    def __init__(self, n_mels: int = 80, reduction: int = 1, n_symbols: int = N_SYMBOLS,
                 embed_dim: int = 512, encoder_channels: int = 512, encoder_kernel: int = 5,
                 encoder_convs: int = 3, encoder_lstm_dim: int = 512, n_speakers: int = 1,
                 speaker_dim: int = 64, attention_rnn_dim: int = 1024, attention_dim: int = 128,
                 location_filters: int = 32, location_kernel: int = 31, prenet_dims: list[int] = (256, 256),
                 prenet_dropout: float = 0.5, decoder_rnn_dim: int = 1024, postnet_channels: int = 512,
                 postnet_kernel: int = 5, postnet_layers: int = 5, dropout: float = 0.5,
                 decoder_dropout: float = 0.1, max_decoder_steps: int = 1000, stop_threshold: float = 0.5,
                 stop_on_attention: bool = True, gst_tokens: int = 0, gst_token_dim: int = 256,
                 gst_heads: int = 4, gst_ref_filters: list[int] = (32, 32, 64, 64, 128, 128),
                 gst_ref_dim: int = 128, gst_style_momentum: float = 0.01):
        super().__init__()
        self.n_mels, self.r = n_mels, reduction
        self.max_decoder_steps, self.stop_threshold = max_decoder_steps, stop_threshold
        self.stop_on_attention = stop_on_attention
        self.decoder_dropout = decoder_dropout
        self.encoder = Encoder(n_symbols, embed_dim, encoder_channels, encoder_kernel, encoder_convs,
                               encoder_lstm_dim, dropout)
        self.n_speakers = n_speakers
        self.speaker_embedding = nn.Embedding(n_speakers, speaker_dim) if n_speakers > 1 else None
        memory_dim = encoder_lstm_dim + (speaker_dim if n_speakers > 1 else 0)
        self.gst = None
        if gst_tokens:
            self.reference_encoder = ReferenceEncoder(n_mels, list(gst_ref_filters), gst_ref_dim)
            self.gst = StyleTokens(gst_ref_dim, gst_tokens, gst_token_dim, gst_heads)
            memory_dim += gst_token_dim
            # Each training speaker's mean style (an exponential moving average over the
            # training batches, like batch norm's statistics): the default style at synthesis.
            self.register_buffer("speaker_styles", torch.zeros(n_speakers, gst_token_dim))
            self.register_buffer("speaker_style_seen", torch.zeros(n_speakers, dtype=torch.bool))
            self.style_momentum = gst_style_momentum
        self.memory_dim = memory_dim
        prenet_dims = list(prenet_dims)
        self.prenet = Prenet(n_mels, prenet_dims, prenet_dropout)
        self.attention_rnn = nn.LSTMCell(prenet_dims[-1] + memory_dim, attention_rnn_dim)
        self.attention = LocationSensitiveAttention(attention_rnn_dim, memory_dim, attention_dim,
                                                    location_filters, location_kernel)
        self.decoder_rnn = nn.LSTMCell(attention_rnn_dim + memory_dim, decoder_rnn_dim)
        self.mel_proj = nn.Linear(decoder_rnn_dim + memory_dim, n_mels * reduction)
        self.stop_proj = nn.Linear(decoder_rnn_dim + memory_dim, reduction)
        self.postnet = Postnet(n_mels, postnet_channels, postnet_kernel, postnet_layers, dropout)

    # -------------------------------------------------------------- pieces
    def encode(self, ids, lengths, speakers=None, style=None):
        """Encoder outputs with the speaker and style embeddings concatenated to every position.

        ``style`` (B, gst_token_dim) is the style embedding (models with style tokens);
        None takes each speaker's mean training style."""
        memory = self.encoder(ids, lengths)
        if speakers is None:
            speakers = torch.zeros(ids.shape[0], dtype=torch.long, device=ids.device)
        parts = [memory]
        if self.speaker_embedding is not None:
            parts.append(self.speaker_embedding(speakers)[:, None, :].expand(-1, memory.shape[1], -1))
        if self.gst is not None:
            if style is None:
                style = self.speaker_styles[speakers].to(memory.dtype)
            parts.append(style[:, None, :].expand(-1, memory.shape[1], -1).to(memory.dtype))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else memory

    def style(self, mels: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
              token_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Style embedding (B, gst_token_dim) of reference mels (B, T, n_mels), or of explicit
        token weights (B, heads, tokens) or (B, tokens) (the same weights for every head)."""
        if self.gst is None:
            raise ValueError("this model has no style tokens (gst_tokens: 0)")
        if token_weights is not None:
            w = token_weights if token_weights.dim() == 3 else token_weights[:, None, :].expand(
                -1, self.gst.heads, -1)
            return self.gst.combine(w.to(self.gst.tokens.dtype))
        return self.gst(self.reference_encoder(mels, lengths))

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

    def _init_state(self, memory):
        b, n, _ = memory.shape
        z = memory.new_zeros
        return {"att_h": z(b, self.attention_rnn.hidden_size), "att_c": z(b, self.attention_rnn.hidden_size),
                "dec_h": z(b, self.decoder_rnn.hidden_size), "dec_c": z(b, self.decoder_rnn.hidden_size),
                "att": z(b, n), "att_cum": z(b, n), "context": z(b, self.memory_dim)}

    def _step(self, frame_in, s, memory, processed, mask):
        """One decoder step: prenet output -> (r frames, r stop logits, attention weights)."""
        x = torch.cat([frame_in, s["context"]], dim=-1)
        s["att_h"], s["att_c"] = self.attention_rnn(x, (s["att_h"], s["att_c"]))
        att_h = F.dropout(s["att_h"], self.decoder_dropout, self.training)
        s["context"], w = self.attention(att_h, processed, memory, s["att"], s["att_cum"], mask)
        s["att"], s["att_cum"] = w, s["att_cum"] + w
        x = torch.cat([att_h, s["context"]], dim=-1)
        s["dec_h"], s["dec_c"] = self.decoder_rnn(x, (s["dec_h"], s["dec_c"]))
        out = torch.cat([F.dropout(s["dec_h"], self.decoder_dropout, self.training), s["context"]], dim=-1)
        return self.mel_proj(out), self.stop_proj(out), w

    # -------------------------------------------------------------- training
    def forward(self, ids, id_lengths, mels, mel_lengths=None, speakers=None):
        """Teacher-forced pass.

        ``mels`` (B, T, n_mels) with T a multiple of r (the collate pads it). Returns
        ``(mel_before (B, T, n_mels), mel_after, stop_logits (B, T), alignments (B, T/r, N))``.
        """
        style = None
        if self.gst is not None:
            style = self.style(mels, mel_lengths)
            if self.training:
                self._track_speaker_styles(style.detach(), speakers if speakers is not None
                                           else torch.zeros(mels.shape[0], dtype=torch.long, device=mels.device))
        memory = self.encode(ids, id_lengths, speakers, style)
        mask = lengths_to_mask(id_lengths, ids.shape[1])
        processed = self.attention.memory(memory)
        b, t, _ = mels.shape
        steps = t // self.r
        # Decoder input of step k is the last frame of step k-1's group ("go" frame first).
        last_frames = mels[:, self.r - 1::self.r][:, :steps]
        inputs = torch.cat([mels.new_zeros(b, 1, self.n_mels), last_frames[:, :-1]], dim=1)
        inputs = self.prenet(inputs)
        s = self._init_state(memory)
        outs, stops, aligns = [], [], []
        for k in range(steps):
            m, g, w = self._step(inputs[:, k], s, memory, processed, mask)
            outs.append(m)
            stops.append(g)
            aligns.append(w)
        mel_before = torch.stack(outs, 1).view(b, steps * self.r, self.n_mels)
        stop = torch.stack(stops, 1).reshape(b, steps * self.r)
        mel_after = mel_before + self.postnet(mel_before)
        return mel_before, mel_after, stop, torch.stack(aligns, 1)

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def infer(self, ids: torch.Tensor, speaker: int = 0, max_steps: int | None = None, min_steps: int = 0,
              style: torch.Tensor | None = None):
        """Synthesize one sentence: ``ids`` (N,) ending with EOS -> ``(mel (T, n_mels), alignment (T/r, N), stopped)``.

        ``style`` (gst_token_dim,) overrides the speaker's mean style (models with style tokens).

        Decoding ends when the stop token fires or (``stop_on_attention``) when the attention
        has stayed on the final EOS symbol for 3 steps; ``stopped`` is False when it ran to
        ``max_steps`` instead. Neither criterion is heeded before ``min_steps`` decoder steps,
        so a stop token that fires at once on an unfamiliar sentence cannot cut it to nothing
        (ESPnet's ``minlenratio`` plays the same role).
        """
        ids = ids[None]
        lengths = torch.tensor([ids.shape[1]], device=ids.device)
        spk = torch.tensor([speaker], device=ids.device)
        memory = self.encode(ids, lengths, spk, None if style is None else style.reshape(1, -1))
        mask = torch.ones(1, ids.shape[1], dtype=torch.bool, device=ids.device)
        processed = self.attention.memory(memory)
        s = self._init_state(memory)
        frame = memory.new_zeros(1, self.n_mels)
        outs, aligns, stopped, at_end = [], [], False, 0
        for step in range(max_steps or self.max_decoder_steps):
            m, g, w = self._step(self.prenet(frame), s, memory, processed, mask)
            m = m.view(1, self.r, self.n_mels)
            outs.append(m)
            aligns.append(w)
            frame = m[:, -1]
            if step + 1 < min_steps:
                continue
            if torch.sigmoid(g).max() > self.stop_threshold:
                stopped = True
                break
            # Fallback for a stop token that is not confident yet: the attention has rested
            # on the end-of-sentence symbol for a while (3 steps), so the text has been read.
            at_end = at_end + 1 if int(w.argmax()) == ids.shape[1] - 1 else 0
            if self.stop_on_attention and at_end >= 3:
                stopped = True
                break
        mel = torch.cat(outs, 1)
        mel = mel + self.postnet(mel)
        return mel[0], torch.cat(aligns, 0), stopped


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
