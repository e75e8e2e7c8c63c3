"""Attention encoder-decoders: incremental decoding, beam search, label smoothing, CTC prefix scores, sizes."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import s2s.models  # noqa: F401  (registers the networks)
from s2s.decode.seq2seq import CtcPrefixScorer, beam_search, greedy_search
from s2s.errors import S2SError
from s2s.models.registry import build_model
from s2s.tasks.mt import smoothed_nll

KINDS = ("transformer", "rnn", "convs2s")
ENC = {"transformer": {"d_model": 32, "num_heads": 4, "num_layers": 2, "ff_dim": 64},
       "rnn": {"hidden": 32, "num_layers": 3},
       "convs2s": {"layers": [[32, 3, 2], [48, 3, 1]]}}
DEC = {"transformer": ENC["transformer"], "rnn": {"hidden": 32, "num_layers": 3},
       "convs2s": {"layers": [[32, 3, 2], [48, 3, 1]], "out_dim": 32}}
BOS, EOS, V = 2, 3, 14


def small(enc: str, dec: str, ctc: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    return build_model("seq2seq", dict(encoder=enc, encoder_conf=ENC[enc], decoder=dec, decoder_conf=DEC[dec],
                                       vocab_size=V, model_conf={"embed_dim": 32}, ctc=ctc)).eval()


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 4, 6, 2])
    src = torch.randint(5, V, (4, 9), generator=g)
    src[torch.arange(9)[None, :] >= lengths[:, None]] = 1  # <pad>
    return src, lengths


@pytest.mark.parametrize("enc,dec", list(itertools.product(KINDS, KINDS)))
def test_cached_steps_equal_teacher_forcing(enc, dec):
    """Decoding one token at a time with the carried state gives the full forward pass's log-probs."""
    model = small(enc, dec)
    src, lengths = batch()
    prev = torch.cat([torch.full((4, 1), BOS), torch.randint(5, V, (4, 6))], 1)
    full, _ = model(src, lengths, prev)
    memory, mem_lengths = model.encode(src, lengths)
    state = model.init_state(memory, mem_lengths)
    steps = []
    for t in range(1, prev.size(1) + 1):
        logp, state = model.step(prev[:, :t], state)
        steps.append(logp)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("enc,dec", [(k, k) for k in KINDS])
def test_beam_search_cache_beam1_and_batching(enc, dec):
    model = small(enc, dec)
    src, lengths = batch()
    cached = beam_search(model, src, lengths, BOS, EOS, beam=4, nbest=3, max_len_b=6)
    full = beam_search(model, src, lengths, BOS, EOS, beam=4, nbest=3, max_len_b=6, use_cache=False)
    # The cache changes nothing: same n-best tokens and scores as recomputing every prefix.
    for a, b in zip(cached, full):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)
    # Each sentence alone (no padding) gives what it gives in the batch.
    for i in range(len(lengths)):
        n = int(lengths[i])
        alone = beam_search(model, src[i:i + 1, :n], lengths[i:i + 1], BOS, EOS, beam=4, nbest=3, max_len_b=6)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in cached[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in cached[i]], abs=1e-4)
    # n-best is sorted best first; beam 1 is greedy search, token for token and score for score.
    assert all(nb[k].score >= nb[k + 1].score for nb in cached for k in range(len(nb) - 1))
    greedy = greedy_search(model, src, lengths, BOS, EOS, max_len_b=6)
    beam1 = beam_search(model, src, lengths, BOS, EOS, beam=1, lenpen=0.0, max_len_b=6)
    assert [h.tokens for h in greedy] == [nb[0].tokens for nb in beam1]
    assert [h.logprob for h in greedy] == pytest.approx([nb[0].logprob for nb in beam1], abs=1e-5)
    # No special symbol but </s> is ever produced.
    assert all(t >= 4 for nb in cached for h in nb for t in h.tokens)


def test_beam_search_respects_max_length_and_length_penalty():
    model = small("transformer", "transformer")
    src, lengths = batch()
    out = beam_search(model, src, lengths, BOS, EOS, beam=3, max_len_a=0.0, max_len_b=3, nbest=3)
    assert all(h.steps <= 3 and len(h.tokens) <= 2 for nb in out for h in nb)
    raw = beam_search(model, src, lengths, BOS, EOS, beam=3, lenpen=0.0, nbest=3, max_len_b=6)
    assert all(h.score == pytest.approx(h.logprob) for nb in raw for h in nb)
    pen = beam_search(model, src, lengths, BOS, EOS, beam=3, lenpen=1.0, nbest=3, max_len_b=6)
    assert all(h.score == pytest.approx(h.logprob / ((5 + h.steps) / 6)) for nb in pen for h in nb)


def test_label_smoothing():
    torch.manual_seed(0)
    logp = torch.log_softmax(torch.randn(3, 5, V), -1)
    gold = torch.randint(4, V, (3, 5))
    gold[0, 3:] = 1
    plain, n, _ = smoothed_nll(logp, gold, pad=1, smoothing=0.0)
    mask = gold != 1
    nll = -logp.gather(2, gold[..., None])[..., 0][mask].sum()
    assert n == int(mask.sum())
    torch.testing.assert_close(plain, nll)
    smooth, _, _ = smoothed_nll(logp, gold, pad=1, smoothing=0.1)
    expect = 0.9 * nll + 0.1 * (-logp.mean(-1))[mask].sum()
    torch.testing.assert_close(smooth, expect)


def test_ctc_prefix_score_of_a_whole_hypothesis_is_the_ctc_likelihood():
    """Extending a hypothesis token by token and closing it with </s> gives log p_ctc(y | x)."""
    torch.manual_seed(0)
    T = 12
    x = torch.log_softmax(torch.randn(2, T, V), -1)
    lengths = torch.tensor([12, 9])
    y = [[5, 7, 7, 9], [6, 8, 6]]  # a repeated token needs a blank between
    scorer = CtcPrefixScorer(x, lengths, blank=0, eos=EOS)
    for i in range(2):
        st = {k: v[i:i + 1] for k, v in scorer.initial().items()}
        sc = CtcPrefixScorer(x[i:i + 1], lengths[i:i + 1], blank=0, eos=EOS)
        for t, tok in enumerate(y[i]):
            psi, r = sc.score(st, torch.tensor([[tok, EOS]]), first=t == 0)
            st = {"r": r[:, 0], "psi": psi[:, 0], "last": torch.tensor([tok])}
        psi_end, _ = sc.score(st, torch.tensor([[EOS]]), first=False)
        expect = -F.ctc_loss(x[i:i + 1, : lengths[i]].transpose(0, 1), torch.tensor([y[i]]), lengths[i:i + 1],
                             torch.tensor([len(y[i])]), blank=0, reduction="sum")
        torch.testing.assert_close(psi_end[0, 0], expect, atol=1e-4, rtol=1e-4)


def test_joint_ctc_attention_decoding_runs_and_needs_a_ctc_head():
    model = small("transformer", "transformer", ctc=True)
    src, lengths = batch()
    out = beam_search(model, src, lengths, BOS, EOS, beam=3, ctc_weight=0.5, max_len_b=4)
    assert len(out) == 4 and all(t >= 4 for nb in out for h in nb for t in h.tokens)
    with pytest.raises(S2SError, match="CTC head"):
        beam_search(small("rnn", "rnn"), src, lengths, BOS, EOS, beam=2, ctc_weight=0.3)


def test_published_transformer_sizes():
    """transformer_base / transformer_big with one shared 32k SentencePiece vocabulary (+ our 4 specials):
    embeddings shared by source, target and output layer (32004 x d counted once)."""
    sizes = {}
    for preset in ("transformer_base", "transformer_big"):
        m = build_model("seq2seq", dict(encoder="transformer", encoder_conf={"preset": preset}, decoder="transformer",
                                        decoder_conf={"preset": preset}, vocab_size=32004,
                                        model_conf={"share_embeddings": True}))
        sizes[preset] = sum(p.numel() for p in m.parameters())
    assert sizes == {"transformer_base": 60_558_596, "transformer_big": 209_165_572}


def test_unknown_and_bad_options_name_the_key():
    with pytest.raises(S2SError, match="decoder_conf.*unknown key 'hiden'.*did you mean 'hidden'"):
        build_model("seq2seq", dict(encoder="rnn", encoder_conf={}, decoder="rnn", decoder_conf={"hiden": 3},
                                    vocab_size=V))
    with pytest.raises(S2SError, match="attention"):
        build_model("seq2seq", dict(encoder="rnn", encoder_conf={}, decoder="rnn",
                                    decoder_conf={"attention": "dot"}, vocab_size=V))
    with pytest.raises(S2SError, match="preset"):
        build_model("seq2seq", dict(encoder="transformer", encoder_conf={"preset": "transformer_huge"},
                                    decoder="transformer", decoder_conf={}, vocab_size=V))


@pytest.mark.parametrize("enc,dec", [("transformer", "transformer"), ("rnn", "rnn"), ("convs2s", "convs2s")])
def test_packed_linear_layers_decode_the_same(enc, dec):
    """pack_linears (oneDNN's prepacked weights, what s2s-translate does on CPU) changes no
    hypothesis and moves scores by rounding only, with and without the CTC head."""
    from s2s.models.seq2seq import pack_linears

    src, lengths = batch()
    ref = beam_search(small(enc, dec, ctc=True), src, lengths, BOS, EOS, beam=4, nbest=3, max_len_b=6, ctc_weight=0.3)
    model = small(enc, dec, ctc=True)
    n = pack_linears(model)
    if not torch.backends.mkldnn.is_available():
        assert n == 0
        return
    assert n > 0 and not any(type(m) is torch.nn.Linear for m in model.modules())
    from s2s.models.seq2seq import FeedForward, PackedLinear

    packed = [m for m in model.modules() if isinstance(m, PackedLinear)]
    assert len(packed) == n
    # Every Transformer feed-forward ReLU runs inside its first linear layer's product.
    blocks = sum(isinstance(m, FeedForward) for m in model.modules())
    assert sum(m.attr == "relu" for m in packed) == blocks
    assert blocks == (4 if enc == "transformer" else 0)
    assert not any(isinstance(m, FeedForward) and type(m[1]) is torch.nn.ReLU for m in model.modules())
    out = beam_search(model, src, lengths, BOS, EOS, beam=4, nbest=3, max_len_b=6, ctc_weight=0.3)
    for a, b in zip(ref, out):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)


MKLDNN = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="oneDNN not in this torch build")


@MKLDNN
def test_packed_linear_equals_linear():
    """A packed layer computes what its nn.Linear did, for 2-D and 3-D (non-contiguous) inputs,
    without a bias, with the fused ReLU, and in bfloat16 where oneDNN has the kernels."""
    from s2s.models.seq2seq import PackedLinear

    torch.manual_seed(0)
    for bias in (True, False):
        lin = torch.nn.Linear(48, 40, bias=bias).eval()
        for x in (torch.randn(5, 48), torch.randn(7, 3, 48).transpose(0, 1)):
            with torch.no_grad():
                assert torch.allclose(PackedLinear(lin)(x), lin(x), atol=1e-5)
                assert torch.allclose(PackedLinear(lin, relu=True)(x), torch.relu(lin(x)), atol=1e-5)
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        lin, x = lin.to(torch.bfloat16), torch.randn(6, 48, dtype=torch.bfloat16)
        with torch.no_grad():
            y = PackedLinear(lin)(x)
            assert y.dtype == torch.bfloat16
            assert torch.allclose(y.float(), lin(x).float(), atol=0.05)


@MKLDNN
def test_pack_linears_fuses_only_a_relu_that_runs_next():
    """A ReLU is fused only where it is the next slot of a plain nn.Sequential: not a GELU, not a
    ReLU after another module, and a layer held twice is packed in each slot as it runs there."""
    from s2s.models.seq2seq import PackedLinear, pack_linears

    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 16)

    class Reversed(torch.nn.Sequential):   # runs its slots in reverse: nothing may be fused
        def forward(self, x):
            for m in reversed(self):
                x = m(x)
            return x

    model = torch.nn.ModuleDict({
        "twice": torch.nn.Sequential(lin, lin, torch.nn.ReLU()),
        "gelu": torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.GELU()),
        "gap": torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Dropout(0.0), torch.nn.ReLU()),
        "reversed": Reversed(torch.nn.ReLU(), torch.nn.Linear(16, 16)),
    }).eval()
    x = torch.randn(3, 16)
    with torch.no_grad():
        ref = {k: m(x) for k, m in model.items()}
        assert pack_linears(model) == 5
        for k, m in model.items():
            assert torch.allclose(m(x), ref[k], atol=1e-5), k
    assert [m.attr for m in model["twice"] if isinstance(m, PackedLinear)] == ["none", "relu"]
    assert type(model["twice"][2]) is torch.nn.Identity
    for k in ("gelu", "gap", "reversed"):
        assert all(m.attr == "none" for m in model[k] if isinstance(m, PackedLinear))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_single_query_attention_equals_fused_kernel(dtype):
    """A decoding step's attention (one query per row, eval mode, CPU: batched products and a
    float32 softmax) equals scaled_dot_product_attention's, masks included, and a row with
    nothing to attend to gives zeros as the fused kernel does."""
    from s2s.models.seq2seq import MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4, dropout=0.0).to(dtype)
    q, kv = torch.randn(3, 1, 32, dtype=dtype), torch.randn(3, 7, 32, dtype=dtype)
    mask = (torch.arange(7)[None, :] < torch.tensor([7, 3, 0])[:, None])[:, None, :]
    with torch.no_grad():
        for m in (None, mask):
            fused = mha.train()(q, kv, m)           # dropout 0: the fused kernel, same numbers
            step = mha.eval()(q, kv, m)
            assert not step.isnan().any()
            tol = 1e-5 if dtype == torch.float32 else 0.05
            assert torch.allclose(step.float(), fused.float(), atol=tol)


def test_attention_with_keys_per_sentence_equals_keys_per_beam():
    """Beam search keeps a Transformer's cross-attention keys/values/mask with one row per sentence
    while the queries have one per beam: both attention paths (the CPU single-query one, eval; the
    fused kernel, train with dropout 0) give what the keys copied to every beam give."""
    from s2s.models.seq2seq import MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4, dropout=0.0)
    beams = 3
    q, kv = torch.randn(2 * beams, 1, 32), torch.randn(2, 7, 32)
    mask = (torch.arange(7)[None, :] < torch.tensor([7, 3])[:, None])[:, None, :]
    with torch.no_grad():
        k, v = mha.project_kv(kv)
        k_rows, v_rows = k.repeat_interleave(beams, 0), v.repeat_interleave(beams, 0)
        for train in (False, True):
            mha.train(train)
            for m in (None, mask):
                m_rows = None if m is None else m.repeat_interleave(beams, 0)
                grouped = mha.attend(q, k, v, m)
                expanded = mha.attend(q, k_rows, v_rows, m_rows)
                assert grouped.shape == (2 * beams, 1, 32)
                assert torch.allclose(grouped, expanded, atol=1e-6), (train, m is None)
