"""Score hypotheses against references: WER/CER (asr) or accuracy/confusion (classify).

    python -m s2s.bin.score --ref data/test/text --hyp exp/x/decode_test/hyp \\
        --results RESULTS.md --tag x

REF and HYP are Kaldi text tables (``utt words...``; for --task classify the
value is the label). asr writes OUT_DIR/wer.txt and OUT_DIR/per_utt.txt
(sclite-like alignments); classify writes OUT_DIR/classification.txt,
confusion.txt and confusion.png. OUT_DIR defaults to the directory of HYP.
With --results and --tag the row for (tag, set) in the RESULTS.md table is
added or replaced. Prints the Kaldi-style summary line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from s2s.errors import S2SError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="reference text table")
    p.add_argument("--hyp", required=True, help="hypothesis text table (empty transcripts allowed)")
    p.add_argument("--task", choices=["asr", "classify"], default="asr", help="what to score (default asr)")
    p.add_argument("--out-dir", default=None, help="where reports go (default: the directory of --hyp)")
    p.add_argument("--results", default=None, help="RESULTS.md whose table gets this result's row")
    p.add_argument("--tag", default=None, help="experiment name for the RESULTS.md row (required with --results)")
    p.add_argument("--set", dest="set_name", default=None,
                   help="test set name for the RESULTS.md row (default: the directory name of --ref)")
    return p


def _set_name(ref: Path) -> str:
    parent = ref.resolve().parent.name
    return parent or ref.stem


def run(args) -> str:
    """Score as ``args`` say, write the reports, and return the summary line."""
    from s2s.data.datadir import read_table

    if args.results and not args.tag:
        raise S2SError("--results needs --tag NAME (the experiment's name in the table)")
    ref_path, hyp_path = Path(args.ref), Path(args.hyp)
    ref = read_table(ref_path, allow_empty_value=True)
    hyp = read_table(hyp_path, allow_empty_value=True)
    out_dir = Path(args.out_dir) if args.out_dir else hyp_path.parent
    set_name = args.set_name or _set_name(ref_path)
    if args.task == "asr":
        from s2s.score import wer as mod

        report = mod.score_texts(ref, hyp, hyp_name=str(hyp_path))
    else:
        from s2s.score import classification as mod

        report = mod.classification_report(ref, hyp, hyp_name=str(hyp_path))
    mod.write_report(report, out_dir)
    if args.results:
        mod.append_results(args.results, args.tag, set_name, report)
    return report.summary_line()


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(format="score: warning: %(message)s", level=logging.WARNING)
    try:
        print(run(args))
    except S2SError as e:
        print(f"score: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
