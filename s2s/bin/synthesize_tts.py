"""Synthesize a Kaldi ``text`` file with an s2s Tacotron 2 model into wavs + a data dir.

  python -m s2s.bin.synthesize_tts --model exp/tts/model.pt --text data/train/text --out-dir data/syn \
      [--speakers ID ... | --num-speakers 8 --seed 1] [--all-speakers] [--sample-rate 16000] \
      [--griffin-lim-iters 32] [--device cpu] [--nj N --job J] [--list-speakers]

The same contract as ``python -m s2s.bin.synthesize`` (the Debian engines): each line is
normalised (numbers spelled out, punctuation and non-ASCII removed; counts reported) and
spoken by one speaker in turn (or all with --all-speakers); utterance ids become
``<speaker>-<utt>``; wavs go to OUT/wav/, tables to OUT or OUT/split<N>/<J>. Lines whose
decoder hit the step limit without stopping are kept and counted in the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.errors import S2SError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synthesize_tts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="Tacotron 2 checkpoint (exp/<tag>/model.pt)")
    p.add_argument("--text", type=Path, help="Kaldi text file: utt words...")
    p.add_argument("--out-dir", type=Path)
    p.add_argument("--speakers", nargs="+", metavar="ID")
    p.add_argument("--num-speakers", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-speakers", action="store_true")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--griffin-lim-iters", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--job", type=int, default=1)
    p.add_argument("--list-speakers", action="store_true")
    return p


def run(args) -> str:
    import torch

    from s2s.bin.synthesize import choose_speakers, job_share, write_job_tables
    from s2s.synth.engines import save_wav
    from s2s.synth.tacotron import TacotronSynthesizer

    synth = TacotronSynthesizer(args.model, device=args.device, griffin_lim_iters=args.griffin_lim_iters,
                                seed=args.seed)
    if args.list_speakers:
        print("\n".join(synth.speakers()))
        return ""
    speakers = choose_speakers(synth, args)
    share, changes, skipped = job_share(args, speakers)
    wav_dir = (args.out_dir / "wav").resolve()
    tables: dict[str, dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2dur": {}}
    unstopped = 0
    for i, (utt, spk, text) in enumerate(share):
        torch.manual_seed(args.seed * 100003 + args.job * 1009 + i)  # prenet dropout: reproducible
        mel, _, stopped = synth.mel(text, spk)
        unstopped += not stopped
        wav = synth.vocoder(mel.cpu())
        if synth.model_sample_rate != args.sample_rate:
            from s2s.synth.engines import resample

            wav = resample([wav], synth.model_sample_rate, args.sample_rate)[0]
        path = wav_dir / f"{utt}.wav"
        save_wav(path, wav, args.sample_rate)
        tables["wav.scp"][utt] = str(path)
        tables["text"][utt] = text
        tables["utt2spk"][utt] = spk
        tables["utt2dur"][utt] = f"{len(wav) / args.sample_rate:.4f}"
    return write_job_tables(args, tables, len(speakers), changes, skipped,
                            extra=f"{unstopped} reached the decoder step limit; ")


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        summary = run(args)
    except S2SError as e:
        print(f"synthesize_tts: error: {e}", file=sys.stderr)
        return 1
    if summary:
        print(f"synthesize_tts: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
