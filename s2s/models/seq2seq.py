"""Attention encoder-decoders for text and speech: Transformer, GNMT-like RNN and ConvS2S.

One family serves translation (task ``mt``) and attention speech recognition (task
``asr`` with a ``decoder``: LAS, and joint CTC-attention with a CTC head on the encoder).

Encoders are registered in ``ENCODERS`` beside the speech encoders and keep their
interface: ``(x (B, T, D), lengths) -> (y (B, T', H), out_lengths)``, zero at padded
frames, with ``output_dim`` and ``stride``. For text, ``x`` is the token embeddings.

- ``transformer``: Vaswani et al. 2017; pre- or post-norm, sinusoidal or learned
  positions; ``subsample: 4`` puts two stride-2 2-D convolutions in front (speech,
  as ESPnet's Conv2dSubsampling).
- ``rnn``: GNMT-like (Wu et al. 2016): a bidirectional LSTM layer, then unidirectional
  LSTM layers with residual connections from the third layer on.
- ``convs2s``: Gehring et al. 2017: gated (GLU) convolutions with residual connections;
  the output holds the attention keys ``z`` and values ``z + e`` side by side.

Decoders (``DECODERS``) map target embeddings ``(B, L, E)`` and the encoder memory to
hidden states ``(B, L, H)`` (teacher forcing), and decode incrementally with ``step``:
one new token per call, carrying a state dict whose tensors all have the batch (beam)
first, so beam search reorders any decoder's state the same way (``reorder_state``).

- ``transformer``: causal self-attention with a key/value cache, cross-attention whose
  memory keys/values are projected once.
- ``rnn``: stacked LSTMs with input feeding and attention (``bahdanau``, ``luong`` or
  ``gnmt_normed``, the normalised Bahdanau attention of GNMT), the attention computed
  from the bottom layer and fed to every layer above (GNMT), residual from layer 3.
- ``convs2s``: causal GLU convolutions, each with its own attention (multi-step attention);
  the state keeps each layer's last ``kernel - 1`` inputs.

``Seq2SeqModel`` adds the embeddings (shared source/target and tied output optional),
the speech front end for speech, the output layer and an optional CTC head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.models.layers import check_choice, conv_out_lengths, lengths_to_mask
from s2s.models.registry import ENCODERS, MODELS
from s2s.registry import Registry, check_kwargs

DECODERS = Registry("decoder")

NORMS = ("pre", "post")
POSITIONS = ("sinusoidal", "learned")
ATTENTIONS = ("bahdanau", "luong", "gnmt_normed")

# Published sizes (OpenSeq2Seq example_configs/text2text/en-de at 8681d38; Vaswani et al. 2017 Table 3).
TRANSFORMER_PRESETS = {
    "transformer_base": {"d_model": 512, "num_heads": 8, "num_layers": 6, "ff_dim": 2048, "dropout": 0.1},
    "transformer_big": {"d_model": 1024, "num_heads": 16, "num_layers": 6, "ff_dim": 4096, "dropout": 0.3},
}
TRANSFORMER_DEFAULTS = {"d_model": 256, "num_heads": 4, "num_layers": 6, "ff_dim": 1024, "dropout": 0.1}


def transformer_sizes(preset: str | None, context: str, **given) -> dict:
    """The sizes of a Transformer stack: defaults <- ``preset`` <- the keys given (not None)."""
    out = dict(TRANSFORMER_DEFAULTS)
    if preset is not None:
        out.update(TRANSFORMER_PRESETS[check_choice(preset, tuple(TRANSFORMER_PRESETS), f"{context} preset")])
    out.update({k: v for k, v in given.items() if v is not None})
    return out


# ------------------------------------------------------------------------------- pieces
def sinusoid_table(max_len: int, dim: int) -> Tensor:
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class Positions(nn.Module):
    """Position encodings added at offset ``start``: fixed sinusoids or a learned table."""

    def __init__(self, dim: int, max_len: int, kind: str = "sinusoidal", context: str = "positions"):
        super().__init__()
        self.kind = check_choice(kind, POSITIONS, context)
        self.max_len = max_len
        if kind == "sinusoidal":
            self.register_buffer("table", sinusoid_table(max_len, dim), persistent=False)
        else:
            self.learned = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        end = start + x.size(1)
        if end > self.max_len:
            raise S2SError(f"a sequence of {end} positions is longer than the model's max_len {self.max_len}; "
                           f"raise max_len in the encoder/decoder conf or shorten the input")
        table = self.table if self.kind == "sinusoidal" else self.learned
        return x + table[start:end].to(x.dtype)


def single_query_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """``scaled_dot_product_attention`` for one query per row on CPU (a decoding step): ``q`` (B, h, 1,
    dk), ``k``/``v`` (B, h, S, dk), boolean ``mask`` broadcastable to (B, h, 1, S), True = attend.
    Two batched products and a softmax, in float32 whatever the inputs' type, as the fused kernel
    accumulates. That kernel is tiled for long queries and takes 1.3x (float32) to 3.4x
    (bfloat16) as long here (64 rows, 8 heads, 24 keys, 2 CPU threads). A row with nothing to
    attend to gives zeros, as the fused kernel does.

    ``k``/``v`` (and ``mask``) may have one row per group of g consecutive query rows (B = g x
    their rows: the beams of a sentence against its memory); the g queries of a group then share
    one product per head (4 x fewer, larger products for beam 4: 236 against 403 us above)."""
    n, h, _, d = q.shape
    g = n // k.size(0) if k.size(0) else 1
    if g > 1:
        q = q.reshape(k.size(0), g, h, d).transpose(1, 2)  # (B/g, h, g, dk)
    s = torch.matmul(q.float(), k.float().transpose(-1, -2)) * (d ** -0.5)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    p = torch.softmax(s, -1)
    if mask is not None:
        p = p.nan_to_num(0.0)
    y = torch.matmul(p, v.float()).to(v.dtype)
    return y.transpose(1, 2).reshape(n, h, 1, d) if g > 1 else y


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with separate projections, so keys/values can be cached."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, kv_dim: int | None = None):
        super().__init__()
        if d_model % num_heads:
            raise S2SError(f"d_model {d_model} must be a multiple of num_heads {num_heads}")
        self.h = num_heads
        self.dk = d_model // num_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(kv_dim or d_model, d_model)
        self.v = nn.Linear(kv_dim or d_model, d_model)
        self.o = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def heads(self, x: Tensor) -> Tensor:
        return x.view(x.size(0), x.size(1), self.h, self.dk).transpose(1, 2)

    def project_kv(self, kv: Tensor) -> tuple[Tensor, Tensor]:
        return self.heads(self.k(kv)), self.heads(self.v(kv))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """``q`` (B, L, d) against projected heads ``k``/``v`` (B, h, S, dk); ``mask`` (B|1, 1|L, S) True = attend."""
        qh = self.heads(self.q(q))
        if mask is not None:
            mask = mask[:, None]
        if q.size(1) == 1 and not self.training and q.device.type == "cpu":
            y = single_query_attention(qh, k, v, mask)
        else:
            g = qh.size(0) // k.size(0) if k.size(0) else 1  # > 1: keys and values per sentence, queries per beam
            if g > 1:
                k, v = k.repeat_interleave(g, 0), v.repeat_interleave(g, 0)
                mask = mask.repeat_interleave(g, 0) if mask is not None and mask.size(0) > 1 else mask
            y = F.scaled_dot_product_attention(qh, k, v, attn_mask=mask,
                                               dropout_p=self.dropout if self.training else 0.0)
        return self.o(y.transpose(1, 2).reshape(q.size(0), q.size(1), -1))

    def forward(self, q: Tensor, kv: Tensor, mask: Tensor | None) -> Tensor:
        k, v = self.project_kv(kv)
        return self.attend(q, k, v, mask)


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, ff_dim: int, dropout: float, activation: str = "relu"):
        act = nn.ReLU() if activation == "relu" else nn.GELU()
        super().__init__(nn.Linear(d_model, ff_dim), act, nn.Dropout(dropout), nn.Linear(ff_dim, d_model))


class _Sublayer(nn.Module):
    """Residual + dropout + LayerNorm around one sublayer, pre- or post-norm."""

    def __init__(self, d_model: int, dropout: float, norm: str):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.pre = norm == "pre"

    def forward(self, x: Tensor, fn) -> Tensor:
        if self.pre:
            return x + self.drop(fn(self.norm(x)))
        return self.norm(x + self.drop(fn(x)))


def masked(x: Tensor, lengths: Tensor) -> Tensor:
    return x.masked_fill(~lengths_to_mask(lengths, x.size(1))[:, :, None], 0.0)


# ----------------------------------------------------------------------------- encoders
class Conv2dSubsampling(nn.Module):
    """Two 3x3 stride-2 convolutions over (time, frequency) + ReLU, then a linear layer: stride 4."""

    def __init__(self, input_dim: int, d_model: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, 2)
        self.conv2 = nn.Conv2d(channels, channels, 3, 2)
        freq = ((input_dim - 1) // 2 - 1) // 2
        if freq < 1:
            raise S2SError(f"encoder_conf subsample: {input_dim} features are too few for two stride-2 convolutions")
        self.out = nn.Linear(channels * freq, d_model)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = masked(x, lengths)[:, None]
        x = F.relu(self.conv1(x))
        l1 = conv_out_lengths(lengths, 3, 2)
        x = x.masked_fill(~lengths_to_mask(l1, x.size(2))[:, None, :, None], 0.0)
        x = F.relu(self.conv2(x))
        l2 = conv_out_lengths(l1, 3, 2)
        b, c, t, f = x.shape
        return self.out(x.transpose(1, 2).reshape(b, t, c * f)), l2.clamp(min=0)


class _EncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, ff_dim, dropout, attention_dropout, norm, activation):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, num_heads, attention_dropout)
        self.ff = FeedForward(d_model, ff_dim, dropout, activation)
        self.sub1 = _Sublayer(d_model, dropout, norm)
        self.sub2 = _Sublayer(d_model, dropout, norm)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.sub1(x, lambda y: self.attn(y, y, mask))
        return self.sub2(x, self.ff)


@ENCODERS.register("transformer")
class TransformerEncoder(nn.Module):
    """Self-attention encoder (Vaswani et al. 2017) over embeddings or speech features.

    ``subsample``: 0 (text: the input is projected to ``d_model`` only when its size
    differs) or 4 (speech: Conv2dSubsampling with ``subsample_channels``).
    ``preset``: transformer_base or transformer_big (explicit keys override).
    """

    def __init__(self, input_dim: int, preset: str | None = None, d_model: int | None = None,
                 num_heads: int | None = None, num_layers: int | None = None, ff_dim: int | None = None,
                 dropout: float | None = None, attention_dropout: float = 0.0, norm: str = "pre",
                 positions: str = "sinusoidal", max_len: int = 4096, subsample: int = 0,
                 subsample_channels: int = 256, activation: str = "relu"):
        super().__init__()
        sizes = transformer_sizes(preset, "encoder_conf", d_model=d_model, num_heads=num_heads,
                                  num_layers=num_layers, ff_dim=ff_dim, dropout=dropout)
        d_model, num_heads, num_layers, ff_dim, dropout = (sizes[k] for k in TRANSFORMER_DEFAULTS)
        check_choice(norm, NORMS, "encoder_conf norm")
        check_choice(activation, ("relu", "gelu"), "encoder_conf activation")
        if subsample not in (0, 4):
            raise S2SError(f"encoder_conf subsample: {subsample} is not one of 0 (text), 4 (speech)")
        self.stride = subsample or 1
        self.subsample = Conv2dSubsampling(input_dim, d_model, subsample_channels) if subsample else None
        self.proj = nn.Linear(input_dim, d_model) if not subsample and input_dim != d_model else None
        self.positions = Positions(d_model, max_len, positions, "encoder_conf positions")
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(_EncoderLayer(d_model, num_heads, ff_dim, dropout, attention_dropout, norm,
                                                  activation) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.output_dim = d_model

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.subsample is not None:
            x, lengths = self.subsample(x, lengths)
        elif self.proj is not None:
            x = self.proj(x)
        x = self.drop(self.positions(x))
        mask = lengths_to_mask(lengths, x.size(1))[:, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        return masked(self.final_norm(x), lengths), lengths


def _run_lstm(rnn: nn.LSTM, x: Tensor, lengths: Tensor) -> Tensor:
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
    y, _ = rnn(packed)
    y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.size(1))
    return y


@ENCODERS.register("rnn")
class GnmtEncoder(nn.Module):
    """GNMT-like encoder (Wu et al. 2016): a bidirectional LSTM layer (``hidden / 2`` per direction),
    then ``num_layers - 1`` unidirectional LSTM layers; layer ``i >= residual_from`` adds its input
    (residual connections, GNMT's from the third layer)."""

    def __init__(self, input_dim: int, hidden: int = 512, num_layers: int = 4, dropout: float = 0.2,
                 residual_from: int = 2, bidirectional_first: bool = True):
        super().__init__()
        if num_layers < 1:
            raise S2SError("encoder_conf num_layers: at least 1")
        if bidirectional_first and hidden % 2:
            raise S2SError(f"encoder_conf hidden {hidden}: must be even (the first layer is bidirectional)")
        self.layers = nn.ModuleList()
        for i in range(num_layers):
            bi = bidirectional_first and i == 0
            self.layers.append(nn.LSTM(input_dim if i == 0 else hidden, hidden // 2 if bi else hidden,
                                       batch_first=True, bidirectional=bi))
        self.drop = nn.Dropout(dropout)
        self.residual_from = residual_from
        self.output_dim = hidden
        self.stride = 1

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        for i, rnn in enumerate(self.layers):
            y = _run_lstm(rnn, self.drop(x), lengths)
            x = y + x if i >= self.residual_from else y
        return masked(x, lengths), lengths


class _GluConv(nn.Module):
    """Conv1d from ``in_channels`` to 2C channels + GLU (Dauphin et al. 2017), Gehring et al.'s
    initialisation (std sqrt(4 (1 - dropout) / (kernel * in_channels)))."""

    def __init__(self, in_channels: int, channels: int, kernel: int, dropout: float, causal: bool):
        super().__init__()
        self.kernel = kernel
        self.causal = causal
        self.conv = nn.Conv1d(in_channels, 2 * channels, kernel, padding=0)
        std = math.sqrt(4 * (1.0 - dropout) / (kernel * in_channels))
        nn.init.normal_(self.conv.weight, std=std)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C); causal: output t sees inputs t-k+1..t, else centred (odd kernel)."""
        x = x.transpose(1, 2)
        pad = (self.kernel - 1, 0) if self.causal else ((self.kernel - 1) // 2, self.kernel // 2)
        return F.glu(self.conv(F.pad(x, pad)), dim=1).transpose(1, 2)


def _convs2s_layers(layers) -> list[tuple[int, int]]:
    out = []
    for spec in layers:
        if not (isinstance(spec, (list, tuple)) and len(spec) in (2, 3)):
            raise S2SError(f"layers: each layer is [channels, kernel] or [channels, kernel, count], got {spec!r}")
        out += [(int(spec[0]), int(spec[1]))] * (int(spec[2]) if len(spec) == 3 else 1)
    return out


def _linear_init(lin: nn.Linear, dropout: float) -> nn.Linear:
    nn.init.normal_(lin.weight, std=math.sqrt((1.0 - dropout) / lin.in_features))
    nn.init.zeros_(lin.bias)
    return lin


@ENCODERS.register("convs2s")
class ConvS2SEncoder(nn.Module):
    """Convolutional encoder (Gehring et al. 2017): learned positions, linear to the first layer's
    channels, GLU convolution blocks with scaled residuals (sqrt(0.5)), linear back to the input size.

    ``layers``: ``[channels, kernel]`` or ``[channels, kernel, count]`` entries (fairseq's
    notation). The output is ``[z, z + e]`` (size ``2 * input_dim``): the attention keys and
    values of multi-step attention; other decoders take it as a memory of that size.
    """

    def __init__(self, input_dim: int, layers: list | None = None, dropout: float = 0.2, max_len: int = 1024):
        super().__init__()
        specs = _convs2s_layers(layers or [[512, 3, 9], [1024, 3, 4], [2048, 1, 2]])
        self.positions = Positions(input_dim, max_len, "learned", "encoder_conf positions")
        self.drop = nn.Dropout(dropout)
        self.inp = _linear_init(nn.Linear(input_dim, specs[0][0]), dropout)
        self.convs = nn.ModuleList()
        self.res = nn.ModuleList()
        prev = specs[0][0]
        for ch, k in specs:
            if k % 2 == 0:
                raise S2SError(f"encoder_conf layers: kernel {k} must be odd (centred convolution)")
            self.res.append(nn.Linear(prev, ch) if ch != prev else nn.Identity())
            self.convs.append(_GluConv(prev, ch, k, dropout, causal=False))
            prev = ch
        self.out = _linear_init(nn.Linear(prev, input_dim), dropout)
        self.output_dim = 2 * input_dim
        self.stride = 1

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        e = self.drop(self.positions(x))
        h = masked(self.inp(e), lengths)
        for conv, res in zip(self.convs, self.res):
            r = res(h)
            h = masked((conv(self.drop(h)) + r) * math.sqrt(0.5), lengths)
        z = self.out(h)
        # Gradient scaling of the paper (1 / (2 * decoder attention layers)) is left to the optimiser.
        return masked(torch.cat([z, z + e], dim=-1), lengths), lengths


# ----------------------------------------------------------------------------- decoders
# Decoder state entries computed once from the encoder memory: identical for every beam of a
# sentence, so a reordering that keeps each beam within its sentence (beam search's) leaves them be.
STATIC_STATE = frozenset({"cross_k", "cross_v", "mem_mask", "memory", "keys", "mask", "values"})
# Entries whose reordering is deferred: the decoder's next step copies them once, reordered, into
# the larger tensors it writes anyway (a Transformer's self-attention keys and values), instead of
# a copy to reorder and another to append. The pending row order is kept under DEFERRED_ORDER.
DEFERRED_STATE = frozenset({"self_k", "self_v"})
DEFERRED_ORDER = "self_order"


def reorder_state(state, index: Tensor, within_sentence: bool = False, sentences: Tensor | None = None):
    """Select beams ``index`` of every tensor (batch first) in a nested state. With ``within_sentence``
    (every new row comes from a row of the same sentence) the memory-derived ``STATIC_STATE`` entries
    are kept as they are. ``sentences`` (the sentences kept, when some leave): static entries with
    one row per sentence (a decoder whose ``per_sentence_state`` is true keeps them so during beam
    search) are selected by it instead. ``DEFERRED_STATE`` entries are left as they are and the
    selection is recorded (composed with any pending one) for the decoder step that reads them."""
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, dict):
        out = {}
        for k, v in state.items():
            if k in DEFERRED_STATE or (within_sentence and k in STATIC_STATE):
                out[k] = v
            elif sentences is not None and k in STATIC_STATE:
                out[k] = reorder_state(v, sentences)
            elif k != DEFERRED_ORDER:
                out[k] = reorder_state(v, index)
        if not DEFERRED_STATE.isdisjoint(state):
            pending = state.get(DEFERRED_ORDER)
            out[DEFERRED_ORDER] = index if pending is None else pending.index_select(0, index)
        return out
    if isinstance(state, (list, tuple)):
        return type(state)(reorder_state(v, index) for v in state)
    return state


def append_reordered(cache: Tensor, new: Tensor, order: Tensor | None) -> Tensor:
    """``cache`` (N, H, t, D) with rows ``order`` (all when None), then ``new`` (N', H, 1, D) appended
    on the time axis: one copy of the cache."""
    if order is None:
        return torch.cat([cache, new], dim=2)
    n, h, t, d = cache.shape
    out = cache.new_empty(len(order), h, t + new.size(2), d)
    torch.index_select(cache, 0, order, out=out[:, :, :t])
    out[:, :, t:] = new
    return out


class _DecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, ff_dim, dropout, attention_dropout, norm, activation, memory_dim):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, attention_dropout)
        self.cross = MultiHeadAttention(d_model, num_heads, attention_dropout, kv_dim=memory_dim)
        self.ff = FeedForward(d_model, ff_dim, dropout, activation)
        self.sub1 = _Sublayer(d_model, dropout, norm)
        self.sub2 = _Sublayer(d_model, dropout, norm)
        self.sub3 = _Sublayer(d_model, dropout, norm)


@DECODERS.register("transformer")
class TransformerDecoder(nn.Module):
    """Causal self-attention + cross-attention decoder; ``step`` caches keys/values per layer.

    ``per_sentence_state``: beam search may keep the memory-derived state (cross-attention keys,
    values and mask) with one row per sentence while the queries have one per beam."""

    per_sentence_state = True

    def __init__(self, embed_dim: int, memory_dim: int, preset: str | None = None, d_model: int | None = None,
                 num_heads: int | None = None, num_layers: int | None = None, ff_dim: int | None = None,
                 dropout: float | None = None, attention_dropout: float = 0.0, norm: str = "pre",
                 positions: str = "sinusoidal", max_len: int = 1024, activation: str = "relu"):
        super().__init__()
        sizes = transformer_sizes(preset, "decoder_conf", d_model=d_model, num_heads=num_heads,
                                  num_layers=num_layers, ff_dim=ff_dim, dropout=dropout)
        d_model, num_heads, num_layers, ff_dim, dropout = (sizes[k] for k in TRANSFORMER_DEFAULTS)
        check_choice(norm, NORMS, "decoder_conf norm")
        check_choice(activation, ("relu", "gelu"), "decoder_conf activation")
        self.proj = nn.Linear(embed_dim, d_model) if embed_dim != d_model else None
        self.positions = Positions(d_model, max_len, positions, "decoder_conf positions")
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(_DecoderLayer(d_model, num_heads, ff_dim, dropout, attention_dropout, norm,
                                                  activation, memory_dim) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.output_dim = d_model

    def _input(self, y: Tensor, start: int) -> Tensor:
        if self.proj is not None:
            y = self.proj(y)
        return self.drop(self.positions(y, start))

    def forward(self, y: Tensor, memory: Tensor, mem_lengths: Tensor) -> Tensor:
        x = self._input(y, 0)
        length = x.size(1)
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()[None]
        mem_mask = lengths_to_mask(mem_lengths, memory.size(1))[:, None, :]
        for layer in self.layers:
            x = layer.sub1(x, lambda q, layer=layer: layer.self_attn(q, q, causal))
            x = layer.sub2(x, lambda q, layer=layer: layer.cross(q, memory, mem_mask))
            x = layer.sub3(x, layer.ff)
        return self.final_norm(x)

    def init_state(self, memory: Tensor, mem_lengths: Tensor) -> dict:
        # Stored contiguous (B, h, S, dk): every step reads them, and the batched products of a
        # transposed view took 3.7x as long (64 rows, 8 heads, 24 keys, 2 threads). Beam search's
        # reordering copies them contiguous anyway; greedy search reads them as made here.
        cross = [tuple(t.contiguous() for t in layer.cross.project_kv(memory)) for layer in self.layers]
        empty = memory.new_zeros(memory.size(0), self.layers[0].self_attn.h, 0, self.layers[0].self_attn.dk)
        return {"cross_k": [k for k, _ in cross], "cross_v": [v for _, v in cross],
                "self_k": [empty] * len(self.layers), "self_v": [empty] * len(self.layers),
                "mem_mask": lengths_to_mask(mem_lengths, memory.size(1))[:, None, :]}

    def step(self, y: Tensor, state: dict, pos: int) -> tuple[Tensor, dict]:
        """One token's embedding ``y`` (N, 1, E) at position ``pos`` -> (hidden (N, H), state)."""
        x = self._input(y, pos)
        order = state.get(DEFERRED_ORDER)  # a pending reordering of the cached keys and values
        new = {k: list(v) if isinstance(v, list) else v for k, v in state.items() if k != DEFERRED_ORDER}
        for i, layer in enumerate(self.layers):
            def self_attn(q, i=i, layer=layer):
                k, v = layer.self_attn.project_kv(q)
                new["self_k"][i] = append_reordered(state["self_k"][i], k, order)
                new["self_v"][i] = append_reordered(state["self_v"][i], v, order)
                return layer.self_attn.attend(q, new["self_k"][i], new["self_v"][i], None)

            x = layer.sub1(x, self_attn)
            x = layer.sub2(x, lambda q, i=i, layer=layer: layer.cross.attend(q, state["cross_k"][i],
                                                                               state["cross_v"][i], state["mem_mask"]))
            x = layer.sub3(x, layer.ff)
        return self.final_norm(x)[:, 0], new


class Attention(nn.Module):
    """RNN attention: ``bahdanau`` (additive), ``luong`` (general: q^T W k) or ``gnmt_normed``
    (additive with a weight-normalised score vector, GNMT's normalised Bahdanau)."""

    def __init__(self, query_dim: int, memory_dim: int, units: int, kind: str):
        super().__init__()
        self.kind = check_choice(kind, ATTENTIONS, "decoder_conf attention")
        if kind == "luong":
            self.w = nn.Linear(memory_dim, query_dim, bias=False)
        else:
            self.wq = nn.Linear(query_dim, units, bias=False)
            self.wk = nn.Linear(memory_dim, units, bias=kind == "gnmt_normed")
            self.v = nn.Parameter(torch.randn(units) / math.sqrt(units))
            if kind == "gnmt_normed":
                self.g = nn.Parameter(torch.tensor(1.0 / math.sqrt(units)))

    def keys(self, memory: Tensor) -> Tensor:
        return self.w(memory) if self.kind == "luong" else self.wk(memory)

    def forward(self, q: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> Tensor:
        """Query (N, Q), precomputed keys (N, S, *), memory (N, S, M), mask (N, S) -> context (N, M)."""
        if self.kind == "luong":
            scores = torch.einsum("nq,nsq->ns", q, keys)
        else:
            v = self.v if self.kind == "bahdanau" else self.g * self.v / self.v.norm()
            scores = torch.tanh(keys + self.wq(q)[:, None]) @ v
        scores = scores.float().masked_fill(~mask, float("-inf"))
        return torch.einsum("ns,nsm->nm", torch.softmax(scores, -1).to(memory.dtype), memory)


@DECODERS.register("rnn")
class RnnDecoder(nn.Module):
    """LSTM decoder with attention (GNMT-like / LAS): the bottom layer reads ``[e_t, c_{t-1}]``
    (input feeding), attention over the memory is computed from its output, and every layer
    above reads ``[h, c_t]``; layers ``i >= residual_from`` add their input. Output
    ``[h_top, c_t]`` projected to ``hidden``."""

    def __init__(self, embed_dim: int, memory_dim: int, hidden: int = 512, num_layers: int = 4,
                 attention: str = "gnmt_normed", attention_units: int = 0, dropout: float = 0.2,
                 residual_from: int = 2):
        super().__init__()
        self.cells = nn.ModuleList(nn.LSTMCell((embed_dim if i == 0 else hidden) + memory_dim, hidden)
                                   for i in range(num_layers))
        self.attn = Attention(hidden, memory_dim, attention_units or hidden, attention)
        self.out = nn.Linear(hidden + memory_dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.residual_from = residual_from
        self.memory_dim = memory_dim
        self.output_dim = hidden

    def init_state(self, memory: Tensor, mem_lengths: Tensor) -> dict:
        n, h = memory.size(0), self.output_dim
        zeros = memory.new_zeros(n, h)
        return {"h": [zeros] * len(self.cells), "c": [zeros] * len(self.cells),
                "ctx": memory.new_zeros(n, self.memory_dim), "memory": memory,
                "keys": self.attn.keys(memory), "mask": lengths_to_mask(mem_lengths, memory.size(1))}

    def step(self, y: Tensor, state: dict, pos: int = 0) -> tuple[Tensor, dict]:
        x = self.drop(y[:, 0])
        hs, cs = [], []
        ctx = state["ctx"]
        for i, cell in enumerate(self.cells):
            h, c = cell(torch.cat([x, ctx], -1), (state["h"][i], state["c"][i]))
            hs.append(h)
            cs.append(c)
            if i == 0:
                ctx = self.attn(h, state["keys"], state["memory"], state["mask"])
            h = self.drop(h)
            x = h + x if i >= self.residual_from else h
        out = torch.tanh(self.out(torch.cat([x, ctx], -1)))
        return out, {**state, "h": hs, "c": cs, "ctx": ctx}

    def forward(self, y: Tensor, memory: Tensor, mem_lengths: Tensor) -> Tensor:
        state = self.init_state(memory, mem_lengths)
        outs = []
        for t in range(y.size(1)):
            o, state = self.step(y[:, t: t + 1], state, t)
            outs.append(o)
        return torch.stack(outs, 1)


@DECODERS.register("convs2s")
class ConvS2SDecoder(nn.Module):
    """Convolutional decoder with multi-step attention (Gehring et al. 2017): causal GLU convolutions,
    each followed by attention of ``d = W h + g`` (``g`` the target embedding) over the encoder's
    keys, adding the attended values (``z + e``) to the layer's output. With a memory that is not
    a ConvS2S encoder's ``[z, z + e]``, keys and values are both a projection of the memory."""

    def __init__(self, embed_dim: int, memory_dim: int, layers: list | None = None, dropout: float = 0.2,
                 max_len: int = 1024, out_dim: int = 512):
        super().__init__()
        specs = _convs2s_layers(layers or [[512, 3, 9], [1024, 3, 4], [2048, 1, 2]])
        self.embed_dim = embed_dim
        self.split = memory_dim == 2 * embed_dim
        self.mem_proj = None if self.split else nn.Linear(memory_dim, embed_dim)
        self.positions = Positions(embed_dim, max_len, "learned", "decoder_conf positions")
        self.drop = nn.Dropout(dropout)
        self.inp = _linear_init(nn.Linear(embed_dim, specs[0][0]), dropout)
        self.convs, self.res, self.att_in, self.att_out = (nn.ModuleList() for _ in range(4))
        prev = specs[0][0]
        for ch, k in specs:
            self.res.append(nn.Linear(prev, ch) if ch != prev else nn.Identity())
            self.convs.append(_GluConv(prev, ch, k, dropout, causal=True))
            self.att_in.append(_linear_init(nn.Linear(ch, embed_dim), 0.0))
            self.att_out.append(_linear_init(nn.Linear(embed_dim, ch), 0.0))
            prev = ch
        self.kernels = [k for _, k in specs]
        self.out = _linear_init(nn.Linear(prev, out_dim), dropout)
        self.output_dim = out_dim

    def _memory(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        if self.split:
            return memory[..., : self.embed_dim], memory[..., self.embed_dim:]
        m = self.mem_proj(memory)
        return m, m

    def _attend(self, i: int, h: Tensor, g: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> Tensor:
        d = (self.att_in[i](h) + g) * math.sqrt(0.5)
        scores = torch.bmm(d, keys.transpose(1, 2)).float().masked_fill(~mask[:, None, :], float("-inf"))
        a = torch.softmax(scores, -1).to(values.dtype)
        n = mask.sum(1).to(values.dtype).clamp(min=1)
        c = torch.bmm(a, values) * torch.sqrt(n)[:, None, None]  # the paper's scaling by sqrt(source length)
        return (h + self.att_out[i](c)) * math.sqrt(0.5)

    def forward(self, y: Tensor, memory: Tensor, mem_lengths: Tensor) -> Tensor:
        g = self.drop(self.positions(y))
        keys, values = self._memory(memory)
        mask = lengths_to_mask(mem_lengths, memory.size(1))
        h = self.inp(g)
        for i, (conv, res) in enumerate(zip(self.convs, self.res)):
            r = res(h)
            h = conv(self.drop(h))
            h = self._attend(i, h, g, keys, values, mask)
            h = (h + r) * math.sqrt(0.5)
        return self.out(self.drop(h))

    def init_state(self, memory: Tensor, mem_lengths: Tensor) -> dict:
        keys, values = self._memory(memory)
        bufs = [memory.new_zeros(memory.size(0), k - 1, conv.conv.in_channels)
                for k, conv in zip(self.kernels, self.convs)]
        return {"keys": keys, "values": values, "mask": lengths_to_mask(mem_lengths, memory.size(1)), "bufs": bufs}

    def step(self, y: Tensor, state: dict, pos: int) -> tuple[Tensor, dict]:
        g = self.drop(self.positions(y, pos))
        h = self.inp(g)
        bufs = []
        for i, (conv, res) in enumerate(zip(self.convs, self.res)):
            r = res(h)
            window = torch.cat([state["bufs"][i], self.drop(h)], 1)  # the last k inputs
            bufs.append(window[:, 1:])
            h = F.glu(conv.conv(window.transpose(1, 2)), dim=1).transpose(1, 2)
            h = self._attend(i, h, g, state["keys"], state["values"], state["mask"])
            h = (h + r) * math.sqrt(0.5)
        return self.out(self.drop(h))[:, 0], {**state, "bufs": bufs}


# ------------------------------------------------------------------------------- model
class Seq2SeqModel(nn.Module):
    """Embeddings (text) or a speech front end -> encoder -> attention decoder -> output layer.

    ``forward(src, src_lengths, prev_tokens)`` gives the decoder's log-probabilities
    ``(B, L, V)`` in fp32 (teacher forcing) and, with a CTC head, the encoder's CTC
    log-probabilities and their lengths. ``encode`` + ``init_state`` + ``step`` decode
    one token at a time (``s2s.decode.seq2seq``).
    """

    def __init__(self, encoder: nn.Module, decoder_name: str, decoder_conf: dict, vocab_size: int,
                 embed_dim: int, frontend: nn.Module | None = None, share_embeddings: bool = False,
                 tie_embeddings: bool = True, scale_embeddings: bool = True, ctc: bool = False,
                 dropout: float = 0.1, pad_id: int = 1):
        super().__init__()
        self.frontend = frontend
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.scale = math.sqrt(embed_dim) if scale_embeddings else 1.0
        self.tgt_embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        nn.init.normal_(self.tgt_embed.weight, std=embed_dim ** -0.5)
        with torch.no_grad():
            self.tgt_embed.weight[pad_id].zero_()
        self.src_embed = None
        if frontend is None:
            self.src_embed = self.tgt_embed if share_embeddings else nn.Embedding(vocab_size, embed_dim,
                                                                                   padding_idx=pad_id)
            if not share_embeddings:
                nn.init.normal_(self.src_embed.weight, std=embed_dim ** -0.5)
                with torch.no_grad():
                    self.src_embed.weight[pad_id].zero_()
        self.encoder = encoder
        self.decoder = DECODERS.build(decoder_name, decoder_conf, context="decoder_conf", embed_dim=embed_dim,
                                      memory_dim=encoder.output_dim)
        self.drop = nn.Dropout(dropout)
        if tie_embeddings and self.decoder.output_dim != embed_dim:
            self.out_proj: nn.Module = nn.Linear(self.decoder.output_dim, embed_dim, bias=False)
        else:
            self.out_proj = nn.Identity()
        self.out = nn.Linear(embed_dim if tie_embeddings else self.decoder.output_dim, vocab_size)
        if tie_embeddings:
            self.out.weight = self.tgt_embed.weight
        self.ctc = nn.Linear(encoder.output_dim, vocab_size) if ctc else None

    @property
    def sample_rate(self) -> int | None:
        return None if self.frontend is None else self.frontend.sample_rate

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Source token ids (B, S) or speech (waveforms / features) -> (memory (B, S', M), lengths)."""
        if self.frontend is not None:
            x, lengths = self.frontend(src, src_lengths)
        else:
            x, lengths = self.src_embed(src) * self.scale, src_lengths
        return self.encoder(x, lengths)

    def ctc_logprobs(self, memory: Tensor) -> Tensor:
        return torch.log_softmax(self.ctc(memory).float(), -1)

    def logprobs(self, hidden: Tensor) -> Tensor:
        return torch.log_softmax(self.out(self.out_proj(self.drop(hidden))).float(), -1)

    def forward(self, src: Tensor, src_lengths: Tensor, prev_tokens: Tensor):
        memory, mem_lengths = self.encode(src, src_lengths)
        hidden = self.decoder(self.tgt_embed(prev_tokens) * self.scale, memory, mem_lengths)
        ctc = (self.ctc_logprobs(memory), mem_lengths) if self.ctc is not None else None
        return self.logprobs(hidden), ctc

    def init_state(self, memory: Tensor, mem_lengths: Tensor) -> dict:
        return self.decoder.init_state(memory, mem_lengths)

    def step(self, tokens: Tensor, state: dict, memory: Tensor | None = None, mem_lengths: Tensor | None = None,
             use_cache: bool = True) -> tuple[Tensor, dict]:
        """Next-token log-probs (N, V) after the prefixes ``tokens`` (N, t).

        With ``use_cache`` only the last token is fed and the decoder state carries the rest;
        without, the whole prefix is recomputed from ``memory`` (the reference the cache is
        tested against).
        """
        if use_cache:
            hidden, state = self.decoder.step(self.tgt_embed(tokens[:, -1:]) * self.scale, state, tokens.size(1) - 1)
            return self.logprobs(hidden), state
        hidden = self.decoder(self.tgt_embed(tokens) * self.scale, memory, mem_lengths)[:, -1]
        return self.logprobs(hidden), state


class PackedLinear(nn.Module):
    """An inference-only ``nn.Linear`` on CPU whose weight oneDNN has packed once, at construction,
    into the blocked layout its matrix products read (``mkldnn._reorder_linear_weight``), run by
    ``mkldnn._linear_pointwise`` (an operator TorchInductor's CPU passes emit for packed linear
    layers, e.g. in bfloat16; for float32 they prefer MKL's ``mkl._mkl_linear``, which measured
    19.7 ms here where this takes 10.7 ms, 64 rows x 512 x 32,004). Inputs and
    outputs are ordinary tensors (``torch.utils.mkldnn.MkldnnLinear`` converts both to and from
    oneDNN's layout at every call, which costs more than the product for small batches).
    ``relu`` applies a ReLU inside the same call. The packed weight is an opaque oneDNN tensor:
    a model holding one cannot be copied, pickled or moved with ``.to()``, and its state dict
    has no weight for the layer."""

    def __init__(self, linear: nn.Linear, relu: bool = False):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.register_buffer("packed", torch.ops.mkldnn._reorder_linear_weight(weight, None), persistent=False)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone(), persistent=False)
        self.attr = "relu" if relu else "none"

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, self.attr, [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.attr}"


def quantize_linears(model: nn.Module) -> int:
    """Prepare a float32 model for int8 inference on CPU: every ``nn.Linear`` becomes PyTorch's
    dynamically quantized linear layer (int8 weights, one scale per tensor; activations quantized
    to int8 per call from their range; PyTorch's x86/fbgemm kernels), the kind of precision
    CTranslate2's ``int8`` compute type uses. Returns the number of layers quantized; the model is
    for inference only afterwards."""
    n = sum(type(m) is nn.Linear for m in model.modules())
    torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return n


def pack_linears(model: nn.Module) -> int:
    """Prepare a model for inference on CPU: every ``nn.Linear`` becomes a ``PackedLinear``, its
    weight packed by oneDNN once instead of at every call, and a ReLU right after a linear layer in
    an ``nn.Sequential`` (the Transformer's feed-forward block) runs inside its matrix product.
    Measured on the 2-core machine (benchmarks/README.md), 64 rows through a 512 x 32,004 layer
    (the output layer of a Transformer-base beam search at batch 16): 10.7 ms against 23.6 ms for
    ``nn.Linear``; 4 rows (batch 1): 1.9 ms against 9.6 ms. Same precision as the model (float32,
    or bfloat16 where the CPU has oneDNN's bf16 kernels: AVX512 BW/VL/DQ; other layers stay as
    they are), results equal to about 1e-6. The model is for inference only afterwards (the
    packed weights are buffers outside the state dict, not parameters, and tied weights are no
    longer shared); returns the number of layers packed, 0 when oneDNN is not available."""
    if not torch.backends.mkldnn.is_available():
        return 0
    dtypes = [torch.float32]
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        dtypes.append(torch.bfloat16)
    n = 0
    for parent in list(model.modules()):
        # Slots in order (named_children() would skip a module held twice); a ReLU is fused only
        # into a plain nn.Sequential, whose forward runs its slots one after the other.
        slots = list(parent._modules.items())
        sequential = type(parent).forward is nn.Sequential.forward
        for j, (name, child) in enumerate(slots):
            if type(child) is nn.Linear and child.weight.device.type == "cpu" and child.weight.dtype in dtypes:
                relu = sequential and j + 1 < len(slots) and type(slots[j + 1][1]) is nn.ReLU
                setattr(parent, name, PackedLinear(child, relu=relu))
                if relu:
                    setattr(parent, slots[j + 1][0], nn.Identity())
                n += 1
    return n


def build_seq2seq(encoder: str, encoder_conf: dict, decoder: str, decoder_conf: dict, vocab_size: int,
                  input_dim: int | None = None, frontend: dict | None = None, cmvn: str = "global",
                  specaug: dict | None = None, model_conf: dict | None = None, ctc: bool = False,
                  pad_id: int = 1) -> Seq2SeqModel:
    """A text (``input_dim`` None: token embeddings) or speech (a front end giving ``input_dim``
    features) encoder-decoder. ``model_conf``: embed_dim, share_embeddings, tie_embeddings,
    scale_embeddings, dropout (before the output layer)."""
    model_conf = dict(model_conf or {})
    check_kwargs(Seq2SeqModel, model_conf, "model_conf",
                 skip={k: None for k in ("encoder", "decoder_name", "decoder_conf", "vocab_size", "frontend", "ctc",
                                         "pad_id")})
    encoder_conf, decoder_conf = dict(encoder_conf or {}), dict(decoder_conf or {})
    embed_dim = model_conf.pop("embed_dim", None)
    if embed_dim is None:
        # The decoder's width (a Transformer's d_model, preset included), else 256.
        if decoder == "transformer":
            embed_dim = transformer_sizes(decoder_conf.get("preset"), "decoder_conf",
                                          d_model=decoder_conf.get("d_model"))["d_model"]
        else:
            embed_dim = int(decoder_conf.get("hidden", 256))
    front = None
    if input_dim is None:
        enc_in = embed_dim
    else:
        from s2s.models.frontend import SpeechFrontEnd

        front = SpeechFrontEnd(input_dim, frontend, cmvn, specaug)
        enc_in = input_dim
    enc = ENCODERS.build(encoder, encoder_conf, context="encoder_conf", input_dim=enc_in)
    return Seq2SeqModel(enc, decoder, decoder_conf, vocab_size, embed_dim, frontend=front, ctc=ctc, pad_id=pad_id,
                        **model_conf)


MODELS.register("seq2seq")(build_seq2seq)
