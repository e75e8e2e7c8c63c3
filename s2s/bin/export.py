"""Export a trained CTC model: ``s2s-export MODEL.pt --format torchscript|onnx|sherpa-onnx OUT``.

torchscript and onnx write one file that takes 16 kHz (the model's rate) waveforms and
lengths and returns CTC log-probabilities and output lengths, with the front end and
normalisation inside and dynamic batch and time axes; the vocabulary and decoding
settings are stored in it. Run it with ``s2s-transcribe OUT --engine onnx`` (no PyTorch
needed) or ``--engine torchscript``. sherpa-onnx writes a directory that sherpa-onnx
loads as an offline CTC model (Kaldi fbank front ends only; see README). Each export is
checked against PyTorch on fresh inputs before it is kept.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def run(args) -> None:
    from s2s.export import export_model

    res = export_model(args.model, args.format, args.out, check=not args.no_check)
    extra = ""
    if "max_abs_diff" in res:
        extra = f"; max |log-prob - PyTorch's| {res['max_abs_diff']:.1e}"
    if "text_matches" in res:
        extra = f"; sherpa-onnx text {'equals' if res['text_matches'] else 'DIFFERS from'} s2s's on the check audio"
    print(f"s2s-export: wrote {res['path']} ({res['format']}){extra}", file=sys.stderr)


def main(argv=None) -> int:
    from s2s.export import FORMATS

    p = argparse.ArgumentParser(prog="s2s-export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint (.pt) written by s2s.bin.train / average_checkpoints")
    p.add_argument("out", help="output file (torchscript, onnx) or directory (sherpa-onnx)")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--no-check", action="store_true", help="skip the comparison with PyTorch")
    args = p.parse_args(argv)
    kind = "dir" if args.format == "sherpa-onnx" else "file"
    return run_main("s2s-export", run, args, writes=[(kind, args.out)])


if __name__ == "__main__":
    sys.exit(main())
