"""Transcribe audio: ``s2s-transcribe MODEL INPUT... [--decoder beam --lm LM] [--format srt --timestamps]``.

MODEL is a checkpoint (exp/x/model.pt; a decode.yaml beside it, written by the recipe's
LM stage, sets the default decoder, LM and weights) or a file written by s2s-export
(``--engine onnx`` runs it with onnxruntime, without PyTorch). An INPUT is an audio file
(any format libsndfile or sox reads, any rate, several channels averaged), a folder of
them, a wav.scp or a Kaldi data dir. Recordings longer than --max-segment-seconds are
cut at pauses (voice activity detection) and read as streams, so an hour-long file needs
no more memory than a minute. Formats: text (``file<TAB>text``; just the text for one
file), json (one object per line, words with start/end/confidence with --timestamps),
ctm, srt, vtt (one file per input with --out-dir). An input that cannot be read or is too
short gets one line on stderr; the others are transcribed; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    from s2s.decode.formats import FORMATS
    from s2s.decode.transcribe import ENGINES

    p = argparse.ArgumentParser(prog="s2s-transcribe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint (.pt) or exported model (.onnx, TorchScript)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders, a wav.scp or a Kaldi data dir")
    p.add_argument("--engine", choices=ENGINES, default="auto", help="default: by MODEL's file name")
    p.add_argument("--decoder", choices=["greedy", "beam"], help="default: the model's decode.yaml, else greedy")
    p.add_argument("--format", default="text", choices=FORMATS)
    p.add_argument("--timestamps", action="store_true", help="word start/end times and confidences (json)")
    p.add_argument("--out-dir", help="write one file per input here instead of stdout")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: the library's)")
    p.add_argument("--batch-seconds", type=float, default=60.0, help="audio seconds decoded per network batch")
    p.add_argument("--max-segment-seconds", type=float, default=30.0,
                   help="longer recordings are cut at pauses into pieces at most this long")
    g = p.add_argument_group("beam search (defaults: the model's decode.yaml, else s2s.decode.beam.BEAM_DEFAULTS)")
    g.add_argument("--lm", help="KenLM n-gram (ARPA or binary)")
    g.add_argument("--lexicon")
    g.add_argument("--beam", type=int)
    g.add_argument("--beam-threshold", type=float)
    g.add_argument("--token-beam", type=int)
    g.add_argument("--lm-weight", type=float, help="alpha")
    g.add_argument("--word-score", type=float, help="beta")
    g.add_argument("--unk-score", type=float)
    return p


def main(argv=None) -> int:
    from s2s.decode.transcribe import transcribe

    a = get_parser().parse_args(argv)
    beam = argparse.Namespace(**{k: getattr(a, k) for k in ("lm", "lexicon", "beam", "beam_threshold", "token_beam",
                                                            "lm_weight", "word_score", "unk_score")})
    return run_main("s2s-transcribe", transcribe, a.model, a.inputs, engine=a.engine, decoder=a.decoder,
                    beam_args=beam, fmt=a.format, timestamps=a.timestamps, out_dir=a.out_dir, device=a.device,
                    batch_seconds=a.batch_seconds, max_segment=a.max_segment_seconds, threads=a.threads,
                    writes=[("dir", a.out_dir)])


if __name__ == "__main__":
    sys.exit(main())
