"""Search the n-gram weight alpha and word bonus beta on a dev set's cached log-probabilities.

``tune(args)`` is what ``python -m s2s.bin.tune_lm`` runs (``args``: its parsed options).
``grid`` decodes every (alpha, beta); ``coordinate`` alternates line searches over
alpha and beta from the middle of the ranges until neither moves (far fewer points).
Points are decoded by ``nj`` processes that share the loaded LM (fork). The beam
pruning is the decoder's (``s2s.decode.beam.BEAM_DEFAULTS`` unless given), so the
tuned WER is what decoding with the best values gives.
"""

from __future__ import annotations

import multiprocessing as mp

from s2s.errors import S2SError

_WORK: dict = {}  # set in the parent before forking: the decoder and the log-probabilities


def parse_range(spec: str, name: str) -> list[float]:
    """``a:b:step`` (inclusive) or ``x,y,z`` -> sorted distinct floats."""
    try:
        if ":" in spec:
            a, b, step = (float(v) for v in spec.split(":"))
            if step <= 0 or b < a:
                raise ValueError
            n = int(round((b - a) / step))
            vals = [round(a + i * step, 6) for i in range(n + 1) if a + i * step <= b + 1e-9]
        else:
            vals = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise S2SError(f"--{name} {spec!r}: expected start:stop:step with step > 0 and stop >= start, "
                       f"or a comma list like 0.5,1,1.5") from None
    if not vals:
        raise S2SError(f"--{name} {spec!r}: no values")
    return sorted(set(vals))


def _decode_point(point: tuple[float, float]) -> tuple[tuple[float, float], dict[str, str]]:
    dec = _WORK["decoder"]
    dec.set_weights(point[0], point[1])
    hyps = {}
    for k, x in _WORK["logprobs"].items():
        res = dec(x)
        hyps[k] = res[0].text if res else ""
    return point, hyps


class Tuner:
    """Decodes points (in parallel) and remembers each point's WER."""

    def __init__(self, refs: dict[str, str], nj: int, log=print):
        from s2s.score.wer import score_texts

        self.refs = refs
        self.nj = nj
        self.wers: dict[tuple[float, float], float] = {}
        self._score = score_texts
        self.log = log

    def evaluate(self, points: list[tuple[float, float]]) -> None:
        todo = [p for p in dict.fromkeys(points) if p not in self.wers]
        if not todo:
            return
        if self.nj > 1 and len(todo) > 1:
            # fork: the children share the parent's loaded LM and log-probabilities.
            with mp.get_context("fork").Pool(min(self.nj, len(todo))) as pool:
                results = pool.imap_unordered(_decode_point, todo)
                for point, hyps in results:
                    self._record(point, hyps)
        else:
            for p in todo:
                self._record(*_decode_point(p))

    def _record(self, point, hyps) -> None:
        wer = self._score(self.refs, hyps, hyp_name="decoded log-probabilities").wer
        self.wers[point] = wer
        self.log(f"alpha {point[0]:g} beta {point[1]:g} WER {wer:.2f}")

    def best(self) -> tuple[tuple[float, float], float]:
        # Ties go to the smaller alpha, then the smaller beta: the least LM-driven setting.
        p = min(self.wers, key=lambda q: (self.wers[q], q[0], q[1]))
        return p, self.wers[p]


def grid_search(tuner: Tuner, alphas, betas) -> None:
    tuner.evaluate([(a, b) for a in alphas for b in betas])


def coordinate_search(tuner: Tuner, alphas, betas, max_rounds: int = 4) -> None:
    a, b = alphas[len(alphas) // 2], betas[len(betas) // 2]
    for _ in range(max_rounds):
        tuner.evaluate([(x, b) for x in alphas])
        a_new = min(alphas, key=lambda x: (tuner.wers[(x, b)], x))
        tuner.evaluate([(a_new, y) for y in betas])
        b_new = min(betas, key=lambda y: (tuner.wers[(a_new, y)], y))
        if (a_new, b_new) == (a, b):
            break
        a, b = a_new, b_new


def tune(args) -> dict:
    from s2s.data.datadir import read_table
    from s2s.data.tokens import Vocabulary
    from s2s.decode.beam import beam_decoder_from_args
    from s2s.decode.logprobs import load_all
    from s2s.io import atomic_open

    alphas = parse_range(args.alpha, "alpha")
    betas = parse_range(args.beta, "beta")
    if args.search not in ("grid", "coordinate"):
        raise S2SError(f"--search must be grid or coordinate, got {args.search!r}")
    vocab = Vocabulary.load(args.tokens)
    logprobs = {}
    for scp in args.logprobs:
        logprobs.update(load_all(scp))
    refs_all = read_table(args.ref, allow_empty_value=True)
    missing = [k for k in logprobs if k not in refs_all]
    if missing:
        raise S2SError(f"{args.ref}: no reference for {len(missing)} utterance(s) of the log-probabilities "
                       f"(e.g. {missing[0]}); give the text of the set that was dumped")
    for k, x in logprobs.items():
        if x.ndim != 2 or x.shape[1] != len(vocab):
            raise S2SError(f"{', '.join(args.logprobs)}: log-probabilities of {k!r} have shape {x.shape} but "
                           f"{args.tokens} has {len(vocab)} tokens; use the tokens.txt the model was trained with")
    refs = {k: vocab.normalize(refs_all[k]) for k in sorted(logprobs)}
    decoder = beam_decoder_from_args(vocab, args)
    _WORK.update(decoder=decoder, logprobs=logprobs)
    tuner = Tuner(refs, args.nj, log=lambda s: print(s, flush=True))
    (grid_search if args.search == "grid" else coordinate_search)(tuner, alphas, betas)
    (alpha, beta), wer = tuner.best()
    if args.grid_out:
        with atomic_open(args.grid_out) as f:
            for (a, b), w in sorted(tuner.wers.items()):
                f.write(f"{a:g} {b:g} {w:.2f}\n")
    best = {"lm_weight": alpha, "word_score": beta, "wer": round(wer, 4), "beam": args.beam,
            "lm": str(args.lm), "lexicon": args.lexicon, "search": args.search,
            "points": len(tuner.wers), "utterances": len(logprobs)}
    _write_yaml(best, args.out, atomic_open)
    if getattr(args, "decoding_for", None):
        from s2s.decode.settings import write_decoding

        path = write_decoding(args.decoding_for, {
            "decoder": "beam", "lm": str(args.lm), "lexicon": args.lexicon, "lm_weight": alpha, "word_score": beta,
            "beam": args.beam, "beam_threshold": args.beam_threshold, "token_beam": args.token_beam})
        print(f"decoding settings for {args.decoding_for} -> {path}")
    print(f"best: alpha {alpha:g} beta {beta:g} WER {wer:.2f} ({len(tuner.wers)} points) -> {args.out}")
    return best


def _write_yaml(data: dict, path, atomic_open) -> None:
    """A plain mapping a shell can read (``awk '/lm_weight/ {print $2}'``) and YAML loaders too."""
    import yaml

    with atomic_open(path) as f:
        yaml.safe_dump(data, f, sort_keys=False)
