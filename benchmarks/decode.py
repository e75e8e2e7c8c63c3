"""Beam search + KenLM: s2s's CtcBeamDecoder (flashlight-text, C++) vs pyctcdecode (Python).

    python benchmarks/decode.py [--utts 200] [--beams 16 64 128] [--order 3] [--corpus FILE]

Both decoders get the same synthetic CTC log-probabilities and the same KenLM
model. The text is English prose (Vim's documentation when installed, else a
generated Markov text); the n-gram is trained with lmplz on sentences disjoint
from the test sentences. Log-probabilities are peaky CTC posteriors at 10 ms
frames (about 15 characters a second) with noise and letter confusions, so the
greedy path has errors an LM can fix. Prints a table and ends with
``RESULT speedup=X wer_s2s=Y wer_pyctcdecode=Z`` (speedup in utterances/s at beam 64).

Pruning is matched: pyctcdecode runs with its defaults (drop beams 10 below the
best, tokens below log-prob -5), s2s with ``beam_threshold=10, token_beam=5``
(``--threshold``/``--token-beam``); a second s2s row per beam uses the
decoder's own defaults (threshold 25, every token).

Latest run (``--utts 120``, 2-core machine shared with other jobs, so absolute
speeds are noisy; both decoders ran in the same process one after the other)::

    corpus: 96853 sentences; LM: 96654 sentences, 16781 words, order 3, 14.0 s;
    test: 120 utterances, 5.7 min of frames, OOV rate 0.7%
    greedy WER 36.90%
    load: s2s 1.03 s, pyctcdecode 0.74 s

    alpha 0.5 beta 1.0; RTF = decoding time / duration of the frames (10 ms each)
    | beam | s2s setting | s2s utt/s | s2s RTF | s2s WER % | pyctcdecode utt/s | pyctcdecode RTF | pyctcdecode WER % | speedup |
    |---:|---|---:|---:|---:|---:|---:|---:|---:|
    | 16 | matched pruning | 69.4 | 0.0051 | 1.76 | 2.0 | 0.1732 | 8.12 | 34.1x |
    | 16 | defaults | 20.2 | 0.0175 | 2.01 | 2.0 | 0.1732 | 8.12 | 9.9x |
    | 64 | matched pruning | 72.4 | 0.0049 | 1.76 | 1.2 | 0.2840 | 8.70 | 58.4x |
    | 64 | defaults | 12.8 | 0.0275 | 2.01 | 1.2 | 0.2840 | 8.70 | 10.3x |
    | 128 | matched pruning | 56.4 | 0.0062 | 1.76 | 0.7 | 0.4762 | 8.87 | 76.2x |
    | 128 | defaults | 5.6 | 0.0626 | 1.92 | 0.7 | 0.4762 | 8.87 | 7.6x |
    RESULT speedup=58.4 wer_s2s=1.76 wer_pyctcdecode=8.70
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2s.data.tokens import character_vocabulary  # noqa: E402

CHARS = list("abcdefghijklmnopqrstuvwxyz'")
VOCAB = character_vocabulary(CHARS)
TOKENS = VOCAB.tokens
FRAME_SHIFT = 0.01
# Letters a CTC model tends to mix up (similar sounds), used for the confusions.
CONFUSABLE = ["aeiou", "bp", "dt", "gk", "fv", "sz", "mn", "lr", "cks", "wv", "ie", "ao"]


def corpus_sentences(path: str | None, rng) -> list[str]:
    """Normalised sentences (a-z, apostrophe), 4 to 20 words."""
    files = [path] if path else sorted(glob.glob("/usr/share/vim/vim*/doc/*.txt"))
    text = " ".join(Path(f).read_text(encoding="utf-8", errors="ignore") for f in files) if files else ""
    sents = []
    for s in re.split(r"[.!?:;\n]\s*\n|[.!?]\s+", text):
        words = re.sub(r"[^a-z' ]", " ", s.lower()).split()
        words = [w.strip("'") for w in words if w.strip("'")]
        if 4 <= len(words) <= 20:
            sents.append(" ".join(words))
    if len(sents) < 2000:
        sents = markov_sentences(rng, 20000)
    return sents


def markov_sentences(rng, n: int) -> list[str]:
    """A fallback: a random bigram language over pronounceable made-up words (Zipfian)."""
    cons, vows = "bcdfghklmnprstvw", "aeiou"
    vocab = sorted({"".join(rng.choice(list(cons)) + rng.choice(list(vows)) for _ in range(rng.integers(1, 4)))
                    for _ in range(3000)})
    V = len(vocab)
    zipf = 1.0 / np.arange(1, V + 1)
    nexts = [rng.permutation(V)[:30] for _ in range(V)]
    out = []
    for _ in range(n):
        w = rng.choice(V, p=zipf / zipf.sum())
        words = [vocab[w]]
        for _ in range(rng.integers(4, 16)):
            w = nexts[w][min(int(rng.exponential(4)), 29)]
            words.append(vocab[w])
        out.append(" ".join(words))
    return out


def synth_logprobs(sentence: str, rng) -> np.ndarray:
    """Peaky CTC posteriors for ``sentence`` with noise and confusions."""
    index = {t: i for i, t in enumerate(TOKENS)}
    V = len(TOKENS)
    units = ["<space>" if c == " " else c for c in sentence]
    rows = []

    def frame(main: int, p_main: float, alt: int | None = None, p_alt: float = 0.0):
        logits = rng.normal(0.0, 1.0, V) - 6.0  # a noise floor
        probs = np.exp(logits)
        probs *= (1 - p_main - p_alt) / probs.sum()
        probs[main] += p_main
        if alt is not None:
            probs[alt] += p_alt
        rows.append(np.log(probs))

    for _ in range(rng.integers(2, 8)):  # leading silence
        frame(0, 0.97)
    for u in units:
        i = index[u]
        alt = None
        if u != "<space>" and rng.random() < 0.25:
            group = [g for g in CONFUSABLE if u in g]
            pool = [c for c in (group[rng.integers(len(group))] if group else "".join(CHARS[:-1])) if c != u]
            alt = index[pool[rng.integers(len(pool))]]
        for k in range(rng.integers(1, 3)):  # the token itself, 1-2 frames
            if alt is not None:
                share = rng.uniform(0.25, 0.6)  # sometimes the confusion wins
                frame(alt, 0.85 * share, i, 0.85 * (1 - share))
            else:
                frame(i, rng.uniform(0.6, 0.95))
        for _ in range(rng.integers(2, 6)):  # blanks up to the next token: ~7 frames a character
            frame(0, rng.uniform(0.7, 0.98))
    return np.asarray(rows, dtype=np.float32)


def wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    return 100.0 * jiwer.wer(refs, hyps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=200)
    p.add_argument("--beams", type=int, nargs="+", default=[16, 64, 128])
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--corpus", help="plain English text (default: Vim's documentation, else generated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threshold", type=float, default=10.0, help="s2s beam_threshold (pyctcdecode prunes at 10)")
    p.add_argument("--token-beam", type=int, default=5, help="s2s tokens tried per frame")
    args = p.parse_args(argv)

    from pyctcdecode import build_ctcdecoder

    from s2s.decode.beam import CtcBeamDecoder
    from s2s.decode.ngram import read_arpa_vocab, train_ngram

    rng = np.random.default_rng(args.seed)
    sents = corpus_sentences(args.corpus, rng)
    order = rng.permutation(len(sents))
    test = [sents[i] for i in order[: args.utts]]
    test_set = set(test)
    lm_text = [sents[i] for i in order[args.utts:] if sents[i] not in test_set]
    logps = [synth_logprobs(s, rng) for s in test]
    audio_s = sum(len(x) for x in logps) * FRAME_SHIFT

    with tempfile.TemporaryDirectory(prefix="s2s_bench_decode_") as tmp:
        tmp = Path(tmp)
        (tmp / "lang").mkdir()
        (tmp / "lang" / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(TOKENS)))
        (tmp / "lm.txt").write_text("\n".join(lm_text) + "\n")
        t0 = time.perf_counter()
        res = train_ngram(tmp / "lm", order=args.order, corpora=[str(tmp / "lm.txt")],
                          tokens=str(tmp / "lang" / "tokens.txt"))
        t_lm = time.perf_counter() - t0
        lm = str(res["binary"])
        unigrams = [w for w in read_arpa_vocab(res["arpa"]) if w not in ("<s>", "</s>", "<unk>")]
        oov = sum(w not in set(unigrams) for s in test for w in s.split()) / sum(len(s.split()) for s in test)
        print(f"corpus: {len(sents)} sentences; LM: {len(lm_text)} sentences, {len(unigrams)} words, order "
              f"{args.order}, {t_lm:.1f} s; test: {len(test)} utterances, {audio_s / 60:.1f} min of frames, "
              f"OOV rate {100 * oov:.1f}%")

        greedy = []
        for x in logps:
            best = x.argmax(1)
            ids = [t for k, t in enumerate(best) if t != 0 and (k == 0 or t != best[k - 1])]
            greedy.append(" ".join("".join(" " if t == 2 else TOKENS[t] for t in ids).split()))
        print(f"greedy WER {wer(test, greedy):.2f}%")

        labels = ["", "<pad>", "<s>", "</s>", "⁇", " "] + TOKENS[6:]
        t0 = time.perf_counter()
        ref_dec = build_ctcdecoder(labels, kenlm_model_path=lm, unigrams=unigrams, alpha=args.alpha, beta=args.beta)
        t_load_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        CtcBeamDecoder(VOCAB, lm=lm, beam=64, lm_weight=args.alpha, word_score=args.beta)
        t_load_s2s = time.perf_counter() - t0
        print(f"load: s2s {t_load_s2s:.2f} s, pyctcdecode {t_load_ref:.2f} s")

        rows = []
        for beam in args.beams:
            t0 = time.perf_counter()
            hyp_ref = [ref_dec.decode(x, beam_width=beam) for x in logps]
            t_ref = time.perf_counter() - t0
            ref_stats = (len(logps) / t_ref, t_ref / audio_s, wer(test, hyp_ref))
            for name, kw in (("matched pruning", dict(beam_threshold=args.threshold, token_beam=args.token_beam)),
                             ("defaults", {})):
                dec = CtcBeamDecoder(VOCAB, lm=lm, beam=beam, lm_weight=args.alpha, word_score=args.beta, **kw)
                t0 = time.perf_counter()
                hyp_s2s = [r[0].text if (r := dec(x)) else "" for x in logps]
                t_s2s = time.perf_counter() - t0
                rows.append((beam, name, len(logps) / t_s2s, t_s2s / audio_s, wer(test, hyp_s2s), *ref_stats))

    print()
    print(f"alpha {args.alpha} beta {args.beta}; RTF = decoding time / duration of the frames (10 ms each)")
    print("| beam | s2s setting | s2s utt/s | s2s RTF | s2s WER % | pyctcdecode utt/s | pyctcdecode RTF "
          "| pyctcdecode WER % | speedup |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for b, name, u1, r1, w1, u2, r2, w2 in rows:
        print(f"| {b} | {name} | {u1:.1f} | {r1:.4f} | {w1:.2f} | {u2:.1f} | {r2:.4f} | {w2:.2f} | {u1 / u2:.1f}x |")
    pick = [r for r in rows if r[0] == 64 and r[1] == "matched pruning"] or rows[:1]
    r = pick[0]
    print(f"RESULT speedup={r[2] / r[5]:.1f} wer_s2s={r[4]:.2f} wer_pyctcdecode={r[7]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
