"""N-best rescoring with a neural LM, and tuning of its weight on a dev set.

Each hypothesis of an n-best list (``nbest.jsonl`` from ``s2s.bin.decode
--decoder beam --nbest N``) gets

    total = am_score + α·ngram_score + λ·nlm_score + β·num_words

where ``nlm_score`` is the neural LM's log-probability (natural log, sentence
end included) of the hypothesis text in the LM's tokens. When α and β are not
given, ``am_score + α·ngram_score + β·num_words`` is the decoder's own ``score``
(the α/β it decoded with) and only ``λ·nlm_score`` (plus any extra length bonus)
is added. The best total of each utterance is its new transcript.

Tuning scores every hypothesis with the neural LM once; a grid over λ (and β)
then only re-ranks numbers, so it costs nothing next to the LM. Word errors of
every hypothesis against the reference are counted once as well (``s2s.score.wer``).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from s2s.errors import S2SError
from s2s.score.wer import word_errors

NBEST_KEYS = {"utt": str, "text": str, "am_score": (int, float), "lm_score": (int, float),
              "score": (int, float), "num_words": int}


@dataclass
class NbestEntry:
    """One hypothesis of an n-best list, with its neural-LM score once computed."""

    utt: str
    rank: int
    text: str
    score: float
    am_score: float
    lm_score: float
    num_words: int
    nlm_score: float = 0.0


# ---------------------------------------------------------------------------- n-best files
def read_nbest(paths) -> dict[str, list[NbestEntry]]:
    """Read one or more ``nbest.jsonl`` files into ``utt -> hypotheses`` (in rank order).

    Raises S2SError naming the file and line for invalid JSON, a missing or
    mistyped field, and for a file with no hypotheses.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, list[NbestEntry]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise S2SError(f"{path}: n-best list not found; decode with s2s.bin.decode --decoder beam --nbest N")
        with open(path, encoding="utf-8", errors="strict") as f:
            try:
                lines = f.read().splitlines()
            except UnicodeDecodeError:
                raise S2SError(f"{path}: not UTF-8 text; it is not an n-best list written by s2s.bin.decode") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise S2SError(f"{where}: not a JSON object ({e.msg}); each line must be one hypothesis as "
                               f"written by s2s.bin.decode --nbest; re-run the decoding") from None
            if not isinstance(obj, dict):
                raise S2SError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            for key, typ in NBEST_KEYS.items():
                if key not in obj:
                    raise S2SError(f"{where}: field {key!r} is missing; each line needs "
                                   f"{', '.join(NBEST_KEYS)}")
                if not isinstance(obj[key], typ) or isinstance(obj[key], bool):
                    raise S2SError(f"{where}: field {key!r} has the wrong type ({obj[key]!r})")
            for key in ("am_score", "lm_score", "score"):
                if not math.isfinite(obj[key]):
                    raise S2SError(f"{where}: field {key!r} is not finite ({obj[key]!r})")
            hyps = out.setdefault(obj["utt"], [])
            hyps.append(NbestEntry(utt=obj["utt"], rank=int(obj.get("rank", len(hyps) + 1)), text=obj["text"],
                                   score=float(obj["score"]), am_score=float(obj["am_score"]),
                                   lm_score=float(obj["lm_score"]), num_words=int(obj["num_words"])))
    if not out:
        raise S2SError(f"{', '.join(map(str, paths))}: no hypotheses; the decoding wrote an empty n-best list")
    for hyps in out.values():
        hyps.sort(key=lambda h: h.rank)
    return out


def write_nbest(path, nbest: dict[str, list[NbestEntry]], totals: dict[str, list[float]] | None = None) -> None:
    """Write the n-best lists with their ``nlm_score`` (and ``total`` when given), atomically."""
    from s2s.io import atomic_open

    with atomic_open(path) as f:
        for utt in sorted(nbest):
            for i, h in enumerate(nbest[utt]):
                obj = {"utt": h.utt, "rank": h.rank, "text": h.text, "score": h.score, "am_score": h.am_score,
                       "lm_score": h.lm_score, "num_words": h.num_words, "nlm_score": h.nlm_score}
                if totals is not None:
                    obj["total"] = totals[utt][i]
                f.write(json.dumps(obj) + "\n")


# ---------------------------------------------------------------------------- the neural LM
class NeuralLmScorer:
    """Sentence log-probabilities under a trained ``lm`` checkpoint, in length-sorted batches."""

    def __init__(self, model, vocab, device="cpu", batch_tokens: int = 20000):
        self.model = model.to(device).eval()
        self.vocab = vocab
        self.device = torch.device(device)
        self.batch_tokens = batch_tokens

    @classmethod
    def from_checkpoint(cls, path, device="cpu", batch_tokens: int = 20000) -> "NeuralLmScorer":
        from s2s.data.tokens import Vocabulary
        from s2s.models.checkpoint import load_model

        model, meta = load_model(path, device, task="lm")
        return cls(model, Vocabulary.from_dict(meta["vocab"], source=f"{path} (vocabulary)"), device, batch_tokens)

    @torch.no_grad()
    def score(self, texts: list[str]) -> list[float]:
        """log P(text, </s> | <s>) in nats for each text (an empty text scores its sentence end)."""
        from s2s.models.lm import pad_sentences, sequence_nll

        seqs = [torch.tensor(self.vocab.encode_sentence(t), dtype=torch.long) for t in texts]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = [0.0] * len(seqs)
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and len(seqs[order[j]]) * (j - i + 1) <= self.batch_tokens:
                j += 1
            idx = order[i:j]
            batch = pad_sentences([seqs[k] for k in idx], self.vocab.pad_id)
            nll = sequence_nll(self.model, batch["inputs"].to(self.device), batch["targets"].to(self.device),
                            batch["mask"].to(self.device))
            for k, v in zip(idx, nll.tolist()):
                out[k] = -v
            i = j
        return out


def add_nlm_scores(nbest: dict[str, list[NbestEntry]], scorer: NeuralLmScorer) -> None:
    """Fill ``nlm_score`` of every hypothesis (all utterances scored in one batched pass)."""
    flat = [h for utt in sorted(nbest) for h in nbest[utt]]
    for h, s in zip(flat, scorer.score([h.text for h in flat])):
        h.nlm_score = s


# ---------------------------------------------------------------------------- combining
def total_scores(hyps: list[NbestEntry], lm_weight: float, ngram_weight: float | None = None,
                 word_score: float | None = None, length_bonus: float = 0.0) -> list[float]:
    """``am + α·ngram + λ·nlm + β·words`` per hypothesis.

    With ``ngram_weight`` and ``word_score`` both None the decoder's ``score``
    stands for ``am + α·ngram + β·words``; ``length_bonus`` is then an extra β
    on top of the decoder's. Giving only one of α and β is an error.
    """
    if (ngram_weight is None) != (word_score is None):
        raise S2SError("give both the n-gram weight (alpha) and the word score (beta), or neither "
                       "(then the decoder's combined score is used)")
    if ngram_weight is None:
        return [h.score + lm_weight * h.nlm_score + length_bonus * h.num_words for h in hyps]
    return [h.am_score + ngram_weight * h.lm_score + lm_weight * h.nlm_score
            + (word_score + length_bonus) * h.num_words for h in hyps]


def best_texts(nbest: dict[str, list[NbestEntry]], lm_weight: float, ngram_weight: float | None = None,
               word_score: float | None = None, length_bonus: float = 0.0) -> dict[str, str]:
    """The highest-total hypothesis of each utterance (the higher-ranked one on ties)."""
    out = {}
    for utt, hyps in nbest.items():
        tot = total_scores(hyps, lm_weight, ngram_weight, word_score, length_bonus)
        out[utt] = hyps[max(range(len(hyps)), key=lambda i: (tot[i], -i))].text
    return out


# ---------------------------------------------------------------------------- tuning
def parse_grid(spec: str, what: str = "--weights") -> list[float]:
    """``start:stop:step`` (stop included) or a comma list ``0.1,0.5`` -> values."""
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + k * step, 10) for k in range(n)]
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise S2SError(f"{what} {spec!r}: expected start:stop:step with step > 0 and stop >= start, "
                       f"or a comma-separated list") from None


@dataclass
class TuneResult:
    lm_weight: float
    length_bonus: float
    wer: float
    table: list[tuple[float, float, float]]  # (λ, length bonus, WER %) per grid point


def tune(nbest: dict[str, list[NbestEntry]], refs: dict[str, str], lm_weights: list[float],
         length_bonuses: list[float] = (0.0,), ngram_weight: float | None = None,
         word_score: float | None = None, ref_name: str = "references") -> TuneResult:
    """The (λ, length bonus) of the grid with the lowest WER on ``refs``.

    Ties go to the smaller λ, then the bonus closest to zero, so a neural LM that
    does not help gets weight 0 (the decoder's choice). Utterances without a
    reference are an error (they would silently change the WER).
    """
    missing = sorted(set(nbest) - set(refs))
    if missing:
        raise S2SError(f"{ref_name}: no reference for {len(missing)} n-best utterances (e.g. {missing[0]!r}); "
                       f"give the text table of the set that was decoded")
    errs = {utt: [word_errors(refs[utt], h.text) for h in hyps] for utt, hyps in nbest.items()}
    nref = sum(len(refs[u].split()) for u in nbest)
    table = []
    for lam in lm_weights:
        for bonus in length_bonuses:
            e = 0
            for utt, hyps in nbest.items():
                tot = total_scores(hyps, lam, ngram_weight, word_score, bonus)
                e += errs[utt][max(range(len(hyps)), key=lambda i: (tot[i], -i))]
            table.append((lam, bonus, 100.0 * e / max(nref, 1)))
    best = min(table, key=lambda r: (round(r[2], 9), r[0], abs(r[1])))
    return TuneResult(lm_weight=best[0], length_bonus=best[1], wer=best[2], table=table)


def rescore_files(args) -> dict:
    """What ``python -m s2s.bin.rescore`` runs (``args``: its parsed options): rescore, write OUT/text,
    OUT/nbest.jsonl (and with ``tune`` OUT/tune.txt, OUT/best_weights); returns the weights used."""
    from s2s.data.datadir import read_table
    from s2s.io import atomic_open

    if args.tune and not args.ref:
        raise S2SError("--tune needs --ref data/<dev set>/text (the references to tune against)")
    if (args.ngram_weight is None) != (args.word_score is None):
        raise S2SError("give both --ngram-weight and --word-score, or neither (then the decoder's combined "
                       "score is used)")
    lm_weights = parse_grid(args.weights, "--weights") if args.tune else [args.lm_weight]
    bonuses = parse_grid(args.length_bonuses, "--length-bonuses") if args.tune else [args.length_bonus]
    refs = read_table(args.ref, allow_empty_value=True) if args.tune else None
    nbest = read_nbest(args.nbest)
    scorer = NeuralLmScorer.from_checkpoint(args.lm_model, args.device, args.batch_tokens)
    add_nlm_scores(nbest, scorer)

    weights = {"lm_weight": args.lm_weight, "length_bonus": args.length_bonus}
    out = Path(args.out)
    if args.tune:
        # References in the hypotheses' normalisation (the token set's case), as tune_lm does.
        refs = {k: scorer.vocab.normalize(v) for k, v in refs.items()}
        res = tune(nbest, refs, lm_weights, bonuses, args.ngram_weight, args.word_score, ref_name=args.ref)
        weights = {"lm_weight": res.lm_weight, "length_bonus": res.length_bonus, "wer": res.wer}
        with atomic_open(out / "tune.txt") as f:
            f.write(f"# WER (%) on {args.ref} of {sum(len(h) for h in nbest.values())} hypotheses "
                    f"of {len(nbest)} utterances\n# lm_weight length_bonus wer\n")
            for lam, bonus, wer in res.table:
                f.write(f"{lam:g} {bonus:g} {wer:.2f}\n")
    texts = best_texts(nbest, weights["lm_weight"], args.ngram_weight, args.word_score, weights["length_bonus"])
    totals = {u: total_scores(h, weights["lm_weight"], args.ngram_weight, args.word_score, weights["length_bonus"])
              for u, h in nbest.items()}
    write_nbest(out / "nbest.jsonl", nbest, totals)
    with atomic_open(out / "text") as f:
        for utt in sorted(texts):
            f.write(f"{utt} {texts[utt]}".rstrip() + "\n")
    if args.ngram_weight is not None:
        weights.update(ngram_weight=args.ngram_weight, word_score=args.word_score)
    if args.tune:
        with atomic_open(out / "best_weights") as f:
            for k, v in weights.items():
                f.write(f"{k} {v:.2f}\n" if k == "wer" else f"{k} {v:g}\n")
    print("rescored into " + str(Path(args.out) / "text") + ": "
          + " ".join(f"{k}={v:g}" for k, v in weights.items()), file=sys.stderr)
    return weights
