"""BLEU and chrF of detokenised translations with sacrebleu, with sacrebleu's signatures.

``score_tables(ref, hyp)`` scores Kaldi-style tables (id -> sentence); ``s2s.bin.score
--task mt`` writes the report to ``bleu.txt`` beside the plain, line-aligned ``ref.txt`` and
``hyp.txt`` it was computed from. The scores are sacrebleu's
defaults (BLEU: 13a tokenisation, cased, exp smoothing; chrF: n=6, beta 2), so
``sacrebleu REF < HYP`` gives the same figures from the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s2s.errors import S2SError


@dataclass
class TranslationScores:
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    bleu_text: str      # sacrebleu's one-line BLEU summary (precisions, BP, ratio, lengths)
    sentences: int
    keys: list | None = None
    refs: list | None = None
    hyps: list | None = None

    def summary_line(self) -> str:
        return f"BLEU {self.bleu:.2f} chrF2 {self.chrf:.2f} ({self.sentences} sentences; {self.bleu_signature})"

    def report(self) -> str:
        return (f"{self.bleu_text}\n{self.bleu_signature}\n"
                f"chrF2 = {self.chrf:.2f}\n{self.chrf_signature}\n"
                f"sentences = {self.sentences}\n")


def corpus_scores(hyps: list[str], refs: list[str]) -> TranslationScores:
    """sacrebleu BLEU and chrF of ``hyps`` against one reference each."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hyps) != len(refs):
        raise S2SError(f"{len(hyps)} hypotheses for {len(refs)} references")
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hyps, [refs])
    c = chrf.corpus_score(hyps, [refs])
    return TranslationScores(b.score, c.score, str(bleu.get_signature()), str(chrf.get_signature()), str(b),
                             len(hyps))


def score_tables(ref: dict[str, str], hyp: dict[str, str], hyp_name: str = "hypotheses") -> TranslationScores:
    """Scores of the translations ``hyp`` (id -> text) of every reference id, in the references' order."""
    missing = [k for k in ref if k not in hyp]
    if missing:
        raise S2SError(f"{hyp_name}: no translation for {len(missing)} of {len(ref)} reference ids (first: "
                       f"{missing[0]!r}); translate the whole set")
    keys = list(ref)
    scores = corpus_scores([hyp[k] for k in keys], [ref[k] for k in keys])
    scores.keys = keys
    scores.refs = [ref[k] for k in keys]
    scores.hyps = [hyp[k] for k in keys]
    return scores


def write_report(scores: TranslationScores, out_dir) -> None:
    """``bleu.txt`` (the report) and the plain, line-aligned ``ref.txt`` / ``hyp.txt`` it was computed from,
    so ``sacrebleu ref.txt -i hyp.txt -m bleu chrf`` recomputes it."""
    from s2s.io import atomic_open

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in (("ref.txt", scores.refs), ("hyp.txt", scores.hyps)):
        with atomic_open(out / name) as f:
            f.writelines(line + "\n" for line in lines)
    with atomic_open(out / "bleu.txt") as f:
        f.write(scores.report())


RESULTS_HEADER = ["model", "set", "BLEU", "chrF2", "sentences", "sacrebleu signature"]


def append_results(results, tag: str, set_name: str, scores: TranslationScores) -> None:
    from s2s.score import update_results

    update_results(results, RESULTS_HEADER, [tag, set_name, f"{scores.bleu:.2f}", f"{scores.chrf:.2f}",
                                             str(scores.sentences), f"`{scores.bleu_signature}`"])
