"""Classify the clips, images or documents of a data dir with a trained classifier and score them.

    python -m s2s.bin.evaluate_classifier --model exp/NAME/checkpoints/last.pt --data data/v1-12/test \\
        --out exp/NAME/eval_test [--results RESULTS.md --tag NAME --set v1-12/test]

Writes OUT/hyp (``utt label``, Kaldi text format) and OUT/posteriors.txt
(``utt p_0 ... p_{C-1}`` in the order of OUT/labels.txt). When the data dir has
a ``text`` with the reference labels it also writes OUT/classification.txt
(accuracy, per-class precision/recall/F1, confusion matrix), OUT/confusion.txt
and OUT/confusion.png, prints the summary line and, with --results/--tag, puts
the (tag, set) row into that RESULTS.md table; OUT/scores.json holds top-1, top-5 and
macro-F1. The checkpoint's task says how the data dir is read:

- ``classify`` (keyword spotting): features from DATA/feats.scp when present (computed with
  the model's frontend), else from the audio; every clip padded/cut to the training length;
- ``image``: DATA/images.scp and DATA/text (labels), resized and centre-cropped as in validation;
- ``text_classify``: DATA/text (documents) and DATA/utt2label, in the model's vocabulary.
"""

from __future__ import annotations

import argparse
import logging
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate_classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint (exp/NAME/checkpoints/*.pt)")
    p.add_argument("--data", required=True, help="data dir (wav.scp/feats.scp, images.scp or text; labels for "
                                                 "scoring)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default cpu)")
    p.add_argument("--results", default=None, help="RESULTS.md whose table gets this result's row")
    p.add_argument("--tag", default=None, help="experiment name for the RESULTS.md row (required with --results)")
    p.add_argument("--set", dest="set_name", default=None, help="set name for the row (default: the data dir's name)")
    return p


def main(argv=None) -> int:
    from s2s.tasks.classify import evaluate_classifier

    a = get_parser().parse_args(argv)
    logging.basicConfig(format="evaluate_classifier: warning: %(message)s", level=logging.WARNING)
    return run_main("evaluate_classifier", evaluate_classifier, a.model, a.data, a.out, batch_size=a.batch_size,
                    device=a.device, results=a.results, tag=a.tag, set_name=a.set_name,
                    writes=[("dir", a.out), ("file", a.results)])


if __name__ == "__main__":
    sys.exit(main())
