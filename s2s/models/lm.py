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
from s2s.registry import Registry, check_kwargs

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


class FactorizedLSTM(nn.Module):
    """One F-LSTM layer (Kuchaiev & Ginsburg 2017, "Factorization tricks for LSTM networks"): the
    gate matrix ``W`` (4n x (p+n)) of an LSTM is the product of two smaller ones, ``W2 W1`` with
    ``W1`` (r x (p+n)) and ``W2`` (4n x r), so a layer has ``r (p + 5n)`` weights instead of
    ``4n (p + n)``. The input half of ``W1`` runs over the whole sequence at once; the recurrence
    runs step by step. Gates in the order i, f, g, o, as ``nn.LSTM``."""

    def __init__(self, input_size: int, hidden: int, rank: int):
        super().__init__()
        self.hidden_size = hidden
        self.w1_input = nn.Linear(input_size, rank, bias=False)
        self.w1_hidden = nn.Linear(hidden, rank, bias=False)
        self.w2 = nn.Linear(rank, 4 * hidden)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, lengths: Tensor | None = None):
        """x (B, T, p) -> outputs (B, T, n) and the last (h, c), each (B, n); with ``lengths`` the last
        state of each row is the one after its last valid step (right padding)."""
        b = x.size(0)
        h, c = state if state is not None else (x.new_zeros(b, self.hidden_size), x.new_zeros(b, self.hidden_size))
        xr = self.w1_input(x)
        out = []
        for t in range(x.size(1)):
            i, f, g, o = self.w2(xr[:, t] + self.w1_hidden(h)).chunk(4, -1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
            if lengths is not None:
                live = (t < lengths).to(x.device)[:, None]
                c_new, h_new = torch.where(live, c_new, c), torch.where(live, h_new, h)
            h, c = h_new, c_new
            out.append(h)
        return torch.stack(out, 1), (h, c)


class GroupLSTM(nn.Module):
    """One G-LSTM layer (Kuchaiev & Ginsburg 2017): input and hidden state split into ``groups``
    independent LSTMs of ``n / groups`` units on ``p / groups`` inputs each, so the layer has
    ``1 / groups`` of an LSTM's gate weights; the outputs are concatenated. The groups run as
    ``nn.LSTM`` (its fast kernels)."""

    def __init__(self, input_size: int, hidden: int, groups: int):
        super().__init__()
        if input_size % groups or hidden % groups:
            raise S2SError(f"lm_conf: groups {groups} must divide the layer's input ({input_size}) and "
                           f"hidden ({hidden}) sizes")
        self.hidden_size = hidden
        self.groups = nn.ModuleList(nn.LSTM(input_size // groups, hidden // groups, batch_first=True)
                                    for _ in range(groups))

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, lengths: Tensor | None = None):
        """x (B, T, p) -> outputs (B, T, n) and the last (h, c), each (B, n) (after each row's last valid
        step with ``lengths``)."""
        k = len(self.groups)
        xs = x.chunk(k, -1)
        hs = state[0].chunk(k, -1) if state is not None else [None] * k
        cs = state[1].chunk(k, -1) if state is not None else [None] * k
        outs, hn, cn = [], [], []
        for rnn, xi, hi, ci in zip(self.groups, xs, hs, cs):
            y, (h, c) = run_rnn(rnn, xi, None if hi is None else (hi[None].contiguous(), ci[None].contiguous()),
                                lengths)
            outs.append(y)
            hn.append(h[0])
            cn.append(c[0])
        return torch.cat(outs, -1), (torch.cat(hn, -1), torch.cat(cn, -1))


def run_rnn(rnn: nn.LSTM, x: Tensor, hc, lengths: Tensor | None):
    """A batch-first ``nn.LSTM`` over right-padded ``x``; with ``lengths`` the sequences are packed so
    that the returned (h, c) are each row's state after its own last step."""
    if lengths is None:
        return rnn(x, hc)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    y, hc = rnn(packed, hc)
    return nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.size(1))[0], hc


@LMS.register("lstm")
class LstmLM(nn.Module):
    """Embedding -> unidirectional LSTM layers -> (projection) -> logits.

    ``cell``: ``lstm`` (``nn.LSTM``), ``flstm`` (factorized, inner size ``rank``) or ``glstm``
    (``groups`` independent groups), the cells of Kuchaiev & Ginsburg 2017 (see the classes above).
    With ``tie_embeddings`` the LSTM output is projected to ``embed_dim`` (when it differs from
    ``hidden``) so the output layer can share the embedding matrix (Press & Wolf 2017; Inan et al.
    2017). ``embed_dropout`` drops whole words' embeddings (rows of the matrix, Gal & Ghahramani
    2016, as AWD-LSTM and OpenSeq2Seq's ``encoder_emb_keep_prob``), ``dropout`` the activations
    between layers.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 256, hidden: int = 512, num_layers: int = 2,
                 dropout: float = 0.1, tie_embeddings: bool = True, cell: str = "lstm", rank: int = 0,
                 groups: int = 1, embed_dropout: float = 0.0):
        super().__init__()
        if cell not in ("lstm", "flstm", "glstm"):
            raise S2SError(f"lm_conf: cell must be lstm, flstm or glstm, got {cell!r}")
        if cell == "flstm" and rank <= 0:
            raise S2SError("lm_conf: cell flstm needs its factorization size, e.g. rank: 128")
        if cell == "glstm" and groups < 2:
            raise S2SError("lm_conf: cell glstm needs groups >= 2, e.g. groups: 2")
        self.vocab_size = vocab_size
        self.cell = cell
        self.num_layers = num_layers
        self.hidden = hidden
        self.embed_dropout = embed_dropout
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        if cell == "lstm":
            self.rnn: nn.Module = nn.LSTM(embed_dim, hidden, num_layers, batch_first=True,
                                          dropout=dropout if num_layers > 1 else 0.0)
        else:
            sizes = [embed_dim] + [hidden] * (num_layers - 1)
            self.rnn = nn.ModuleList(FactorizedLSTM(p, hidden, rank) if cell == "flstm" else GroupLSTM(p, hidden, groups)
                                     for p in sizes)
        out_dim = hidden
        self.proj: nn.Module = nn.Identity()
        if tie_embeddings and hidden != embed_dim:
            self.proj = nn.Linear(hidden, embed_dim)
            out_dim = embed_dim
        self.out = nn.Linear(out_dim, vocab_size)
        if tie_embeddings:
            self.out.weight = self.embed.weight

    def _embed(self, tokens: Tensor) -> Tensor:
        weight = self.embed.weight
        if self.training and self.embed_dropout > 0:
            keep = 1.0 - self.embed_dropout
            weight = weight * weight.new_empty(weight.size(0), 1).bernoulli_(keep) / keep
        return self.dropout(F.embedding(tokens, weight))

    def _layers(self, x: Tensor, state: dict | None, lengths: Tensor | None = None):
        """Run the recurrent layers; returns outputs (B, T, n) and the new state (h, c: (B, layers, n)),
        with ``lengths`` each row's state after its last valid step."""
        if self.cell == "lstm":
            hc = None if state is None else (state["h"].transpose(0, 1).contiguous(),
                                             state["c"].transpose(0, 1).contiguous())
            y, (h, c) = run_rnn(self.rnn, x, hc, lengths)
            return y, {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}
        hs, cs = [], []
        for k, layer in enumerate(self.rnn):
            if k:
                x = self.dropout(x)
            x, (h, c) = layer(x, None if state is None else (state["h"][:, k], state["c"][:, k]), lengths)
            hs.append(h)
            cs.append(c)
        return x, {"h": torch.stack(hs, 1), "c": torch.stack(cs, 1)}

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits (B, L, V) for token ids (B, L)."""
        y, _ = self._layers(self._embed(tokens), None)
        return self.out(self.proj(self.dropout(y)))

    def init_state(self, n: int, device=None) -> dict:
        """The state before any token: zero hidden and cell states, batch-first (n, layers, hidden)."""
        zeros = self.embed.weight.new_zeros(n, self.num_layers, self.hidden, device=device)
        return {"h": zeros, "c": zeros}

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Next-token logits (N, V) after feeding ``tokens`` (N,) to the prefixes ``state`` holds."""
        y, new = self._layers(self._embed(tokens[:, None]), state)
        return self.out(self.proj(self.dropout(y[:, 0]))), new


class LstmClassifier(LstmLM):
    """The LSTM LM with its output layer replaced by a classification head (OpenSeq2Seq's sentiment
    model, "the same one we use for the LSTM language model, except that the last output dimension is
    the number of classes"): the last layer's hidden state after each sequence's last token (and, with
    ``use_cell_state``, its cell state too) -> dropout -> linear -> class logits (B, C).

    Parameter names are the LM's (``embed.``, ``rnn.``), so ``init_from`` an LM checkpoint copies the
    embedding and the recurrent layers; the LM's ``out.`` and ``proj.`` are not part of this model.
    """

    def __init__(self, vocab_size: int, num_classes: int, use_cell_state: bool = False, head_dropout: float = 0.0,
                 **lm_conf):
        super().__init__(vocab_size, **lm_conf)
        del self.out
        self.proj = nn.Identity()
        self.use_cell_state = use_cell_state
        self.head_dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(self.hidden * (2 if use_cell_state else 1), num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Class logits (B, C) of right-padded token ids (B, L) with ``lengths`` (B,)."""
        _, state = self._layers(self._embed(tokens), None, lengths)
        feats = state["h"][:, -1]
        if self.use_cell_state:
            feats = torch.cat([feats, state["c"][:, -1]], -1)
        return self.head(self.head_dropout(feats))


@MODELS.register("text_classifier")
def build_text_classifier(lm_conf: dict | None, vocab_size: int, num_classes: int, use_cell_state: bool = False,
                          head_dropout: float = 0.0) -> LstmClassifier:
    """An ``LstmClassifier`` whose body is the ``lstm`` LM with ``lm_conf`` (keys checked against it)."""
    lm_conf = dict(lm_conf or {})
    check_kwargs(LstmLM, lm_conf, "lm_conf", skip={"vocab_size": None})
    return LstmClassifier(vocab_size, num_classes, use_cell_state, head_dropout, **lm_conf)


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
