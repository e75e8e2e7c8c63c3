"""Score hypotheses against references: WER/CER (asr), BLEU/chrF (mt) or accuracy/confusion (classify).

    python -m s2s.bin.score --ref data/test/text --hyp exp/x/decode_test/hyp \\
        --results RESULTS.md --tag x

REF and HYP are Kaldi text tables (``utt words...``; for --task classify the
value is the label). asr writes OUT_DIR/wer.txt and OUT_DIR/per_utt.txt
(sclite-like alignments); mt writes OUT_DIR/bleu.txt (sacrebleu's BLEU and chrF
with their signatures) beside the plain ref.txt/hyp.txt it scored; classify writes OUT_DIR/classification.txt,
confusion.txt and confusion.png. OUT_DIR defaults to the directory of HYP.
With --results and --tag the row for (tag, set) in the RESULTS.md table is
added or replaced. Prints the Kaldi-style summary line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="reference text table")
    p.add_argument("--hyp", required=True, help="hypothesis text table (empty transcripts allowed)")
    p.add_argument("--task", choices=["asr", "mt", "classify"], default="asr", help="what to score (default asr)")
    p.add_argument("--out-dir", default=None, help="where reports go (default: the directory of --hyp)")
    p.add_argument("--results", default=None, help="RESULTS.md whose table gets this result's row")
    p.add_argument("--tag", default=None, help="experiment name for the RESULTS.md row (required with --results)")
    p.add_argument("--set", dest="set_name", default=None,
                   help="test set name for the RESULTS.md row (default: the directory name of --ref)")
    return p


def run(args) -> None:
    from s2s.score import score_files

    print(score_files(args.ref, args.hyp, args.task, args.out_dir, args.results, args.tag, args.set_name))


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(format="score: warning: %(message)s", level=logging.WARNING)
    return run_main("score", run, args, writes=[("file", args.results), ("dir", args.out_dir)])


if __name__ == "__main__":
    sys.exit(main())
