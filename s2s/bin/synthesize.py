"""Speech from text: a TTS model trained by s2s (Tacotron 2, Centaur or FastSpeech + a vocoder) or a Debian engine.

  s2s-synthesize MODEL "text to say" [--speaker S] --out x.wav [--vocoder griffin-lim|VOCODER.pt]
  s2s-synthesize MODEL --text data/x/text --out-dir data/syn [--speakers ID ... | --num-speakers 8 --seed 1]
      [--all-speakers] [--sample-rate 16000] [--nj N --job J]
  s2s-synthesize MODEL --list-speakers

MODEL is a TTS checkpoint (exp/<tts tag>/model.pt) or one of the engines espeak-ng, flite,
festival. With a sentence, it is spoken by --speaker (default: the first speaker) into
--out (a wav file at --sample-rate). With --text (a Kaldi text file: utt words...), each
line is normalised (numbers spelled out, punctuation and non-ASCII removed; counts
reported) and spoken by one speaker in turn (or all with --all-speakers); utterance ids
become ``<speaker>-<utt>``; wavs go to OUT/wav/ and the tables (wav.scp, text, utt2spk,
spk2utt, utt2dur) to OUT, or with --nj N to OUT/split<N>/<J> for this job's share (join them
with utils/combine_data.sh). TTS models: --vocoder is griffin-lim (default) or a vocoder
checkpoint trained with task: vocoder; a model with style tokens speaks in each speaker's
mean training style unless --style-ref (a recording) or --style-weights (one per token) is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import run_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2s-synthesize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="TTS checkpoint (exp/<tag>/model.pt) or an engine: espeak-ng, flite, festival")
    p.add_argument("sentence", nargs="?", help="what to say (then --out names the wav)")
    p.add_argument("--speaker", help="speaker id for a sentence (see --list-speakers; default: the first)")
    p.add_argument("--out", type=Path, help="output wav for a sentence")
    p.add_argument("--text", type=Path, help="Kaldi text file: utt words... (then --out-dir)")
    p.add_argument("--out-dir", type=Path, help="output data dir for --text")
    p.add_argument("--speakers", nargs="+", metavar="ID", help="speaker ids (default: --num-speakers random ones)")
    p.add_argument("--num-speakers", type=int, default=8, help="speakers drawn at random (with --seed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-speakers", action="store_true", help="every speaker says every line")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--vocoder", default=None, help="TTS models: griffin-lim (default) or a vocoder checkpoint")
    p.add_argument("--griffin-lim-iters", type=int, default=32)
    p.add_argument("--style-ref", help="TTS models with style tokens: speak in the style of this recording")
    p.add_argument("--style-weights", type=float, nargs="+", metavar="W",
                   help="TTS models with style tokens: one weight per token instead of the speaker's mean style")
    p.add_argument("--device", default="cpu")
    p.add_argument("--nj", type=int, default=1, help="number of jobs the --text work is split into")
    p.add_argument("--job", type=int, default=1, help="this job's number, 1..nj")
    p.add_argument("--list-speakers", action="store_true", help="print the speaker ids and exit")
    return p


def run(args) -> None:
    from s2s.synth.jobs import list_speakers, synthesize_job, synthesize_sentence

    if args.list_speakers:
        print("\n".join(list_speakers(args)))
    elif args.sentence is not None:
        print(f"s2s-synthesize: {synthesize_sentence(args)}", file=sys.stderr)
    else:
        print(f"s2s-synthesize: {synthesize_job(args)}", file=sys.stderr)


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    return run_main("s2s-synthesize", run, args, writes=[("file", args.out), ("dir", args.out_dir)])


if __name__ == "__main__":
    sys.exit(main())
