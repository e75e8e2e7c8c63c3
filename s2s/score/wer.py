"""Word and character error rates with sclite-like per-utterance alignments.

The edit-distance alignment is jiwer's (``process_words`` / ``process_characters``);
this module only gathers its chunks into counts, per-utterance reports and text.
Texts are compared as given, after collapsing whitespace: normalise case and
punctuation in data preparation, not here. CER counts spaces between words as
characters (as jiwer and ESPnet do).
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import jiwer

from s2s.errors import S2SError
from s2s.io import atomic_open
from s2s.score import update_results

log = logging.getLogger(__name__)

RESULTS_HEADER = ["tag", "set", "WER", "CER", "S", "D", "I", "N"]


@dataclass
class UttAlignment:
    """One utterance: its words, the aligned operations and their counts.

    ``ops`` is a list of ``(op, ref_word, hyp_word)`` with op one of ``C`` (correct),
    ``S``, ``D`` (``hyp_word`` is None) and ``I`` (``ref_word`` is None).
    """

    utt_id: str
    ref: list[str]
    hyp: list[str]
    ops: list[tuple[str, str | None, str | None]]
    cor: int
    sub: int
    dels: int
    ins: int
    char_errors: int
    nchar: int
    missing: bool = False

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins

    @property
    def nref(self) -> int:
        return len(self.ref)


@dataclass
class Report:
    """Totals over a test set. ``wer`` and ``cer`` are percentages (100 * errors / reference length)."""

    wer: float
    cer: float
    sub: int
    dels: int
    ins: int
    cor: int
    nref: int
    char_sub: int
    char_dels: int
    char_ins: int
    nchar: int
    nutt: int
    nutt_err: int
    missing: list[str] = field(default_factory=list)
    utts: list[UttAlignment] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins

    @property
    def char_errors(self) -> int:
        return self.char_sub + self.char_dels + self.char_ins

    @property
    def ser(self) -> float:
        """Sentence error rate in percent: utterances with at least one word error."""
        return _percent(self.nutt_err, self.nutt)

    def summary_line(self) -> str:
        """Kaldi's compute-wer line: ``%WER 5.23 [ 52 / 994, 10 ins, 12 del, 30 sub ]``."""
        return (f"%WER {self.wer:.2f} [ {self.errors} / {self.nref}, "
                f"{self.ins} ins, {self.dels} del, {self.sub} sub ]")

    def summary(self) -> str:
        """The wer.txt text: WER, CER, SER lines and counts."""
        return "\n".join([
            self.summary_line(),
            f"%CER {self.cer:.2f} [ {self.char_errors} / {self.nchar}, "
            f"{self.char_ins} ins, {self.char_dels} del, {self.char_sub} sub ]",
            f"%SER {self.ser:.2f} [ {self.nutt_err} / {self.nutt} ]",
            f"Scored {self.nutt} sentences, {len(self.missing)} not present in hyp.",
            f"Correct words {self.cor} / {self.nref} reference words",
        ]) + "\n"

    def alignments_text(self) -> str:
        """The per_utt.txt text: one sclite-style block per utterance, reference order."""
        return "".join(format_alignment(u) + "\n" for u in self.utts)


def _percent(num: int, den: int) -> float:
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return 100.0 * num / den


def _chunk_ops(ref: list[str], hyp: list[str], chunks) -> list[tuple[str, str | None, str | None]]:
    """jiwer AlignmentChunks -> per-token (op, ref, hyp) triples."""
    ops: list[tuple[str, str | None, str | None]] = []
    for c in chunks:
        r = ref[c.ref_start_idx:c.ref_end_idx]
        h = hyp[c.hyp_start_idx:c.hyp_end_idx]
        if c.type == "equal":
            ops += [("C", a, b) for a, b in zip(r, h)]
        elif c.type == "substitute":
            ops += [("S", a, b) for a, b in zip(r, h)]
        elif c.type == "delete":
            ops += [("D", a, None) for a in r]
        elif c.type == "insert":
            ops += [("I", None, b) for b in h]
        else:  # a jiwer we do not know; better loud than silently wrong counts
            raise RuntimeError(f"unknown jiwer alignment chunk type {c.type!r}")
    return ops


def _align(refs: list[str], hyps: list[str], chars: bool) -> list[list[tuple[str, str | None, str | None]]]:
    """Per-utterance operations for parallel lists of normalised texts.

    Empty references are all insertions; they are kept away from jiwer, whose
    3.x releases reject them.
    """
    out: list = [None] * len(refs)
    idx = [i for i, r in enumerate(refs) if r]
    if idx:
        r_list = [refs[i] for i in idx]
        h_list = [hyps[i] for i in idx]
        res = jiwer.process_characters(r_list, h_list) if chars else jiwer.process_words(r_list, h_list)
        for k, i in enumerate(idx):
            out[i] = _chunk_ops(res.references[k], res.hypotheses[k], res.alignments[k])
    for i, r in enumerate(refs):
        if not r:
            out[i] = [("I", None, t) for t in (list(hyps[i]) if chars else hyps[i].split())]
    return out


def word_errors(ref: str, hyp: str) -> int:
    """Word edit distance (substitutions + deletions + insertions) between two texts."""
    ops = _align([" ".join(ref.split())], [" ".join(hyp.split())], chars=False)[0]
    return sum(op != "C" for op, _, _ in ops)


def score_texts(ref: dict[str, str], hyp: dict[str, str], hyp_name: str = "hypothesis") -> Report:
    """Score ``hyp`` against ``ref`` (both ``utt_id -> text``) and return the Report.

    Utterances missing from ``hyp`` are scored as empty hypotheses (all
    deletions), listed in ``Report.missing`` and warned about. Hypothesis ids
    absent from ``ref`` raise S2SError naming them (``hyp_name`` is the file
    named in the message).
    """
    if not ref:
        raise S2SError("the reference has no utterances; nothing to score")
    extra = [u for u in hyp if u not in ref]
    if extra:
        shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise S2SError(f"{hyp_name}: {len(extra)} utterance(s) not in the reference: {shown}; "
                       f"score against the reference of the set that was decoded")
    ids = list(ref)
    missing = [u for u in ids if u not in hyp]
    if missing:
        log.warning("%d of %d reference utterances missing from %s, scored as all deletions (first: %s)",
                    len(missing), len(ids), hyp_name, missing[0])
    refs = [" ".join(ref[u].split()) for u in ids]
    hyps = [" ".join(hyp.get(u, "").split()) for u in ids]
    word_ops = _align(refs, hyps, chars=False)
    char_ops = _align(refs, hyps, chars=True)

    missing_set = set(missing)
    utts = []
    tot = {"C": 0, "S": 0, "D": 0, "I": 0}
    ctot = {"C": 0, "S": 0, "D": 0, "I": 0}
    nchar = 0
    nutt_err = 0
    for u, r, h, wops, cops in zip(ids, refs, hyps, word_ops, char_ops):
        n = {k: 0 for k in tot}
        for op, _, _ in wops:
            n[op] += 1
        cn = {k: 0 for k in ctot}
        for op, _, _ in cops:
            cn[op] += 1
        for k in tot:
            tot[k] += n[k]
            ctot[k] += cn[k]
        nchar += len(r)
        nutt_err += (n["S"] + n["D"] + n["I"]) > 0
        utts.append(UttAlignment(u, r.split(), h.split(), wops, cor=n["C"], sub=n["S"], dels=n["D"],
                                 ins=n["I"], char_errors=cn["S"] + cn["D"] + cn["I"], nchar=len(r),
                                 missing=u in missing_set))
    nref = sum(len(r.split()) for r in refs)
    return Report(
        wer=_percent(tot["S"] + tot["D"] + tot["I"], nref),
        cer=_percent(ctot["S"] + ctot["D"] + ctot["I"], nchar),
        sub=tot["S"], dels=tot["D"], ins=tot["I"], cor=tot["C"], nref=nref,
        char_sub=ctot["S"], char_dels=ctot["D"], char_ins=ctot["I"], nchar=nchar,
        nutt=len(ids), nutt_err=nutt_err, missing=missing, utts=utts)


def _width(s: str) -> int:
    """Display width: East Asian wide/full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def format_alignment(u: UttAlignment) -> str:
    """An sclite-style block: id, scores, and REF/HYP/EVAL lines in aligned columns.

    As sclite prints them, correct words are lower case and errors upper case;
    ``***`` fills the missing side of a deletion or insertion.
    """
    ref_cols, hyp_cols, eval_cols = [], [], []
    for op, r, h in u.ops:
        if op == "C":
            r = h = r.lower()
        else:
            r = r.upper() if r is not None else "***"
            h = h.upper() if h is not None else "***"
        w = max(_width(r), _width(h))
        ref_cols.append(_pad(r, w))
        hyp_cols.append(_pad(h, w))
        eval_cols.append(_pad("" if op == "C" else op, w))
    lines = [f"id: ({u.utt_id})"]
    if u.missing:
        lines.append("(missing from the hypothesis: scored as all deletions)")
    lines += [
        f"Scores: (#C #S #D #I) {u.cor} {u.sub} {u.dels} {u.ins}",
        ("REF:  " + " ".join(ref_cols)).rstrip(),
        ("HYP:  " + " ".join(hyp_cols)).rstrip(),
        ("EVAL: " + " ".join(eval_cols)).rstrip(),
    ]
    return "\n".join(lines) + "\n"


def write_report(report: Report, out_dir) -> None:
    """Write OUT_DIR/wer.txt (summary) and OUT_DIR/per_utt.txt (alignments), atomically."""
    out = Path(out_dir)
    with atomic_open(out / "per_utt.txt") as f:
        f.write(report.alignments_text())
    with atomic_open(out / "wer.txt") as f:
        f.write(report.summary())


def append_results(path, tag: str, set_name: str, report: Report) -> None:
    """Add or replace the ``| tag | set | WER | CER | S | D | I | N |`` row in a RESULTS.md."""
    update_results(path, RESULTS_HEADER, [tag, set_name, f"{report.wer:.2f}", f"{report.cer:.2f}",
                                          report.sub, report.dels, report.ins, report.nref])
