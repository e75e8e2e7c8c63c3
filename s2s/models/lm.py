"""Neural language models over token sequences: a causal Transformer and an LSTM.

Both map token ids ``(B, L)`` to next-token logits ``(B, L, V)``: the output at
position ``t`` depends on ``tokens[:, :t+1]`` only, so a right-padded batch gives
every sequence exactly what it gives alone (padding comes after the real
tokens and nothing looks ahead). For decoding, both also run one token at a time
(``init_state(n, device)``, then ``step(tokens (N,), state) -> (logits (N, V), state)``):
the Transformer keeps each layer's keys and values, the LSTM its hidden and cell
states, all batch-first, so a beam search reorders them with
``s2s.models.seq2seq.reorder_state``. Configs choose one by name from ``LMS``:

    lm: transformer
    lm_conf: {d_model: 256, num_heads: 4, num_layers: 4}

``LMS.build(name, lm_conf, vocab_size=V)`` validates the keys against the
constructor signatures below.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from s2s.errors import S2SError
from s2s.models.registry import MODELS
from s2s.registry import Registry

LMS = Registry("lm")


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine position encodings (Vaswani et al. 2017), added to the embeddings."""

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        from s2s.models.seq2seq import sinusoid_table

        # Not a parameter and not saved: it is a pure function of (dim, max_len).
        self.register_buffer("table", sinusoid_table(max_len, dim), persistent=False)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        return x + self.table[start:start + x.size(1)].to(x.dtype)


@LMS.register("transformer")
class TransformerLM(nn.Module):
    """Decoder-only Transformer: token embedding + positions, pre-norm causal self-attention blocks.

    ``positions`` is ``sinusoidal`` (fixed) or ``learned``; ``max_len`` bounds the
    sequence length either way. ``tie_embeddings`` shares the input embedding with
    the output projection (Press & Wolf 2017), which saves V*d parameters and
    usually helps small-data LMs.
    """

    def __init__(self, vocab_size: int, d_model: int = 256, num_heads: int = 4, num_layers: int = 4,
                 ff_dim: int = 1024, dropout: float = 0.1, max_len: int = 1024, positions: str = "sinusoidal",
                 tie_embeddings: bool = True):
        super().__init__()
        if d_model % num_heads:
            raise S2SError(f"lm_conf: d_model {d_model} must be a multiple of num_heads {num_heads}")
        if positions not in ("sinusoidal", "learned"):
            raise S2SError(f"lm_conf: positions must be sinusoidal or learned, got {positions!r}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.embed = nn.Embedding(vocab_size, d_model)
        self.scale = math.sqrt(d_model)
        if positions == "sinusoidal":
            self.positions: nn.Module = SinusoidalPositions(d_model, max_len)
        else:
            self.positions = _LearnedPositions(d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        # enable_nested_tensor only matters with a padding mask, which a causal LM does not need.
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)
        nn.init.normal_(self.embed.weight, std=d_model ** -0.5)
        if tie_embeddings:
            self.out.weight = self.embed.weight

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits (B, L, V) for token ids (B, L)."""
        length = tokens.size(1)
        if length > self.max_len:
            raise S2SError(f"sequence of {length} tokens is longer than the LM's max_len {self.max_len}; "
                           f"train with a larger lm_conf.max_len or drop long sentences (max_tokens)")
        x = self.dropout(self.positions(self.embed(tokens) * self.scale))
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device, dtype=x.dtype)
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.out(self.norm(x))

    def init_state(self, n: int, device=None) -> dict:
        """The state before any token: every layer's keys and values, (n, heads, 0, head_dim)."""
        attn = self.blocks.layers[0].self_attn
        empty = self.embed.weight.new_zeros(n, attn.num_heads, 0, attn.head_dim, device=device)
        return {"k": [empty] * len(self.blocks.layers), "v": [empty] * len(self.blocks.layers)}

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Next-token logits (N, V) after feeding ``tokens`` (N,) to the prefixes ``state`` holds;
        the same as ``forward`` over the whole prefix, with the new keys and values appended."""
        from s2s.models.seq2seq import single_query_attention

        pos = state["k"][0].size(2)
        if pos >= self.max_len:
            raise S2SError(f"sequence of {pos + 1} tokens is longer than the LM's max_len {self.max_len}; "
                           f"train with a larger lm_conf.max_len or drop long sentences (max_tokens)")
        x = self.dropout(self.positions(self.embed(tokens)[:, None] * self.scale, pos))
        n = x.size(0)
        new = {"k": list(state["k"]), "v": list(state["v"])}
        for i, layer in enumerate(self.blocks.layers):
            # nn.TransformerEncoderLayer, norm_first: x + SA(norm1(x)), then x + FF(norm2(x)).
            attn = layer.self_attn
            q, k, v = (t.view(n, 1, attn.num_heads, attn.head_dim).transpose(1, 2)
                       for t in F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1))
            new["k"][i] = torch.cat([state["k"][i], k], 2)
            new["v"][i] = torch.cat([state["v"][i], v], 2)
            if x.device.type == "cpu":
                y = single_query_attention(q, new["k"][i], new["v"][i])
            else:
                y = F.scaled_dot_product_attention(q, new["k"][i], new["v"][i])
            x = x + layer.dropout1(attn.out_proj(y.transpose(1, 2).reshape(n, 1, -1)))
            x = x + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm2(x))))))
        return self.out(self.norm(x))[:, 0], new


class _LearnedPositions(nn.Module):
    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.table = nn.Embedding(max_len, dim)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        return x + self.table.weight[start:start + x.size(1)].to(x.dtype)


@LMS.register("lstm")
class LstmLM(nn.Module):
    """Embedding -> unidirectional LSTM layers -> (projection) -> logits.

    With ``tie_embeddings`` the LSTM output is projected to ``embed_dim`` (when it
    differs from ``hidden``) so the output layer can share the embedding matrix.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 256, hidden: int = 512, num_layers: int = 2,
                 dropout: float = 0.1, tie_embeddings: bool = True):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(embed_dim, hidden, num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)
        out_dim = hidden
        self.proj: nn.Module = nn.Identity()
        if tie_embeddings and hidden != embed_dim:
            self.proj = nn.Linear(hidden, embed_dim)
            out_dim = embed_dim
        self.out = nn.Linear(out_dim, vocab_size)
        if tie_embeddings:
            self.out.weight = self.embed.weight

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits (B, L, V) for token ids (B, L)."""
        y, _ = self.rnn(self.dropout(self.embed(tokens)))
        return self.out(self.proj(self.dropout(y)))

    def init_state(self, n: int, device=None) -> dict:
        """The state before any token: zero hidden and cell states, batch-first (n, layers, hidden)."""
        zeros = self.embed.weight.new_zeros(n, self.rnn.num_layers, self.rnn.hidden_size, device=device)
        return {"h": zeros, "c": zeros}

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Next-token logits (N, V) after feeding ``tokens`` (N,) to the prefixes ``state`` holds."""
        hc = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())
        y, (h, c) = self.rnn(self.dropout(self.embed(tokens)[:, None]), hc)
        return self.out(self.proj(self.dropout(y[:, 0]))), {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}


@MODELS.register("lm")
def build_lm(lm: str, lm_conf: dict | None, vocab_size: int) -> nn.Module:
    """The LM ``lm`` with ``lm_conf`` (validated against its constructor) over ``vocab_size`` tokens."""
    return LMS.build(lm, lm_conf or {}, context="lm_conf", vocab_size=vocab_size)


def pad_sentences(seqs: list[Tensor], pad_id: int) -> dict:
    """Teacher-forcing batch of ``<s> w </s>`` id sequences: inputs ``<s> w`` and targets ``w </s>``,
    right-padded with ``pad_id``; ``mask`` marks real targets, ``num_tokens`` counts them."""
    inputs = nn.utils.rnn.pad_sequence([s[:-1] for s in seqs], batch_first=True, padding_value=pad_id)
    targets = nn.utils.rnn.pad_sequence([s[1:] for s in seqs], batch_first=True, padding_value=pad_id)
    ntok = torch.tensor([len(s) - 1 for s in seqs], dtype=torch.long)
    mask = torch.arange(inputs.size(1))[None, :] < ntok[:, None]
    return {"inputs": inputs, "targets": targets, "mask": mask, "num_tokens": ntok}


def sequence_nll(model: nn.Module, inputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Negative log-likelihood (nats) of each sequence's targets, (B,), in fp32 whatever autocast does."""
    logits = model(inputs).float()
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return (nll * mask).sum(1)
