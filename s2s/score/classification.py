"""Classification metrics (keyword spotting): accuracy, per-class precision/recall/F1, confusion matrix.

References and hypotheses are ``utt_id -> label`` tables (a Kaldi ``text``
file whose value is the label). Rows of the confusion matrix are reference
labels, columns predicted labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2s.errors import S2SError
from s2s.io import atomic_open
from s2s.score import update_results

log = logging.getLogger(__name__)

MISSING = "<none>"  # the "prediction" of an utterance absent from the hypothesis
RESULTS_HEADER = ["tag", "set", "accuracy", "macro F1", "errors", "N"]


@dataclass
class ClassificationReport:
    """Accuracy (percent), the confusion matrix and per-class metrics (fractions in [0, 1]).

    ``labels`` indexes both axes of ``confusion`` (rows: reference, columns:
    prediction); it holds every label seen in either table, plus ``<none>``
    when some utterances had no prediction. Per-class precision, recall and F1
    are 0 where undefined (no predictions or no references of that class).
    """

    labels: list[str]
    confusion: np.ndarray
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    n: int
    correct: int
    missing: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.n - self.correct

    @property
    def macro_f1(self) -> float:
        """Mean F1 over classes that occur in the reference."""
        classes = [c for c in self.labels if self.support.get(c, 0) > 0]
        return float(np.mean([self.f1[c] for c in classes])) if classes else 0.0

    def summary_line(self) -> str:
        return f"%ACC {self.accuracy:.2f} [ {self.correct} / {self.n}, {self.errors} err ], macro F1 {100 * self.macro_f1:.2f}"

    def metrics_text(self) -> str:
        """A per-class table (precision, recall, F1 in percent, support) with a macro average."""
        names = [c for c in self.labels if c != MISSING]
        w = max([len("class"), len("macro avg")] + [len(c) for c in names])
        lines = [f"{'class':<{w}}  {'prec':>6}  {'recall':>6}  {'F1':>6}  {'support':>7}"]
        for c in names:
            lines.append(f"{c:<{w}}  {100 * self.precision[c]:6.2f}  {100 * self.recall[c]:6.2f}  "
                         f"{100 * self.f1[c]:6.2f}  {self.support[c]:7d}")
        present = [c for c in names if self.support[c] > 0]
        if present:
            mp = np.mean([self.precision[c] for c in present])
            mr = np.mean([self.recall[c] for c in present])
            lines.append(f"{'macro avg':<{w}}  {100 * mp:6.2f}  {100 * mr:6.2f}  "
                         f"{100 * self.macro_f1:6.2f}  {self.n:7d}")
        return "\n".join(lines) + "\n"

    def confusion_text(self) -> str:
        """The confusion matrix as aligned text: rows reference, columns prediction."""
        return format_confusion(self.confusion, self.labels)

    def text(self) -> str:
        """Everything for classification.txt: summary, per-class metrics, confusion matrix."""
        missing = f"{len(self.missing)} utterance(s) missing from the hypothesis\n" if self.missing else ""
        return (self.summary_line() + "\n" + missing + "\n" + self.metrics_text() + "\n"
                + "confusion (rows: reference, columns: hypothesis)\n" + self.confusion_text())


def format_confusion(confusion: np.ndarray, labels: list[str]) -> str:
    """Right-aligned columns of counts, one row and one column per label."""
    corner = "ref\\hyp"
    w_row = max(len(corner), *(len(c) for c in labels))
    widths = [max(len(c), len(str(int(confusion[:, j].max(initial=0))))) for j, c in enumerate(labels)]
    lines = [" ".join([f"{corner:<{w_row}}"] + [f"{c:>{w}}" for c, w in zip(labels, widths)])]
    for i, c in enumerate(labels):
        lines.append(" ".join([f"{c:<{w_row}}"] + [f"{int(v):>{w}}" for v, w in zip(confusion[i], widths)]))
    return "\n".join(lines) + "\n"


def classification_report(ref: dict[str, str], hyp: dict[str, str], labels: list[str] | None = None,
                          hyp_name: str = "hypothesis") -> ClassificationReport:
    """Compare predicted labels with reference labels (both ``utt_id -> label``).

    Missing hypotheses count as errors predicted as ``<none>`` (and are warned
    about); hypothesis ids absent from the reference raise S2SError. ``labels``
    fixes the order of classes (others seen are appended in sorted order).
    """
    if not ref:
        raise S2SError("the reference has no utterances; nothing to score")
    extra = [u for u in hyp if u not in ref]
    if extra:
        shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise S2SError(f"{hyp_name}: {len(extra)} utterance(s) not in the reference: {shown}; "
                       f"score against the reference of the set that was classified")
    ids = list(ref)
    missing = [u for u in ids if u not in hyp]
    if missing:
        log.warning("%d of %d reference utterances missing from %s, counted as errors",
                    len(missing), len(ids), hyp_name)
    r = [" ".join(ref[u].split()) for u in ids]
    h = [" ".join(hyp[u].split()) if u in hyp else MISSING for u in ids]
    order = list(labels or [])
    seen = set(order)
    order += sorted({x for x in r + h if x not in seen and x != MISSING})
    if missing:
        order.append(MISSING)
    index = {c: i for i, c in enumerate(order)}
    conf = np.zeros((len(order), len(order)), dtype=np.int64)
    for a, b in zip(r, h):
        conf[index[a], index[b]] += 1

    tp = np.diag(conf).astype(float)
    pred = conf.sum(axis=0).astype(float)
    true = conf.sum(axis=1).astype(float)
    prec = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    rec = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    correct = int(tp.sum())
    classes = [c for c in order if c != MISSING]
    return ClassificationReport(
        labels=order, confusion=conf, accuracy=100.0 * correct / len(ids),
        precision={c: float(prec[index[c]]) for c in classes},
        recall={c: float(rec[index[c]]) for c in classes},
        f1={c: float(f1[index[c]]) for c in classes},
        support={c: int(true[index[c]]) for c in classes},
        n=len(ids), correct=correct, missing=missing)


def write_report(report: ClassificationReport, out_dir) -> None:
    """Write OUT_DIR/classification.txt, confusion.txt and the confusion.png heat map."""
    from s2s.score.plots import plot_confusion

    out = Path(out_dir)
    with atomic_open(out / "classification.txt") as f:
        f.write(report.text())
    with atomic_open(out / "confusion.txt") as f:
        f.write(report.confusion_text())
    plot_confusion(report.confusion, report.labels, out / "confusion.png")


def append_results(path, tag: str, set_name: str, report: ClassificationReport) -> None:
    """Add or replace the ``| tag | set | accuracy | macro F1 | errors | N |`` row in a RESULTS.md."""
    update_results(path, RESULTS_HEADER, [tag, set_name, f"{report.accuracy:.2f}",
                                          f"{100 * report.macro_f1:.2f}", report.errors, report.n])
