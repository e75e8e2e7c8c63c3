"""Tacotron 2 (Shen et al., 2018, arXiv 1712.05884): characters -> mel spectrogram.

    text ids -> embedding -> 3 x (conv, batch norm, ReLU, dropout) -> BiLSTM      (encoder)
             [+ speaker embedding concatenated to every encoder output]           (multi-speaker)
             [+ style embedding concatenated to every encoder output]             (Global Style Tokens)
    previous frame -> prenet (2 x linear+ReLU, dropout always on) -> attention LSTM
             -> location-sensitive attention over the encoder outputs -> context
             -> decoder LSTM -> linear projection to r mel frames + r stop-token logits
    mel -> postnet (5 x conv + tanh, batch norm) -> residual added                (refinement)

Speakers, Global Style Tokens (Wang et al., 2018: a reference encoder reads a mel spectrogram,
during training the target itself, into one vector that attends over learned tokens) and
normalised log-mels come from the base class, s2s.models.tts.SpeakerStyleTts. Inputs and outputs
of ``forward`` and ``infer`` are plain log-mels; the task compares ``normalize``d ones.

``reduction`` (r) frames are predicted per decoder step, as in Tacotron 1 and
OpenSeq2Seq's Tacotron: r = 2..3 shortens the autoregressive loop and makes the
attention learn much faster on small data; r = 1 is the paper's model.
Training uses teacher forcing; ``infer`` runs the decoder on its own output until the
stop token fires.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data.text import tts_vocabulary
from s2s.data.tokens import Vocabulary
from s2s.models.registry import MODELS
from s2s.models.tts import Postnet, SpeakerStyleTts, lengths_to_mask

# Symbols: the TTS vocabulary of s2s.data.text (lower-case letters, apostrophe and the word
# boundary after the specials); <pad> pads and </s> ends every sentence.
N_SYMBOLS = len(tts_vocabulary())


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


@MODELS.register("tacotron2")
class Tacotron2(SpeakerStyleTts):
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
                 gst_ref_dim: int = 128, gst_style_momentum: float = 0.01, normalize_mels: bool = False):
        super().__init__()
        self.r = reduction
        self.max_decoder_steps, self.stop_threshold = max_decoder_steps, stop_threshold
        self.stop_on_attention = stop_on_attention
        self.decoder_dropout = decoder_dropout
        self.encoder = Encoder(n_symbols, embed_dim, encoder_channels, encoder_kernel, encoder_convs,
                               encoder_lstm_dim, dropout)
        memory_dim = encoder_lstm_dim + self._init_conditioning(
            n_mels, n_speakers, speaker_dim, gst_tokens, gst_token_dim, gst_heads, gst_ref_filters, gst_ref_dim,
            gst_style_momentum, normalize_mels)
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
        """Encoder outputs, conditioned on the speakers and styles (``condition``)."""
        return self.condition(self.encoder(ids, lengths), speakers, style)

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
        ``(mel_before (B, T, n_mels), mel_after, stop_logits (B, T), alignments (B, T/r, N))``,
        the mels as the decoder predicts them (compare with ``normalize(mels)``).
        """
        mels = self.normalize(mels)
        style = self._training_style(mels, mel_lengths, speakers)
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
        return self.denormalize(mel[0]), torch.cat(aligns, 0), stopped
