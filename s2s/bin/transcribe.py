"""Transcribe audio files with a trained model: ``s2s-transcribe MODEL a.wav [b.flac ...]``.

Prints ``file<TAB>transcript`` per file (just the transcript with one file). Any
format libsndfile or sox reads, any sample rate: audio is converted to the
model's rate and mono first.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from s2s.errors import S2SError


def read_any_audio(path: str, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``: soundfile when it reads the file, else sox."""
    p = Path(path)
    if not p.is_file():
        raise S2SError(f"{path}: no such audio file")
    from s2s.data.audio import load_audio

    try:
        wav, _ = load_audio(str(p), target_sr=sample_rate, resample=True, context=str(p))
        return wav
    except S2SError:
        pass
    # Formats libsndfile lacks (mp3 on old builds, sph, ...) and multi-channel files: let sox convert.
    cmd = f"sox {shlex.quote(str(p))} -t wav -b 16 -c 1 -r {sample_rate} - |"
    wav, _ = load_audio(cmd, target_sr=sample_rate, resample=True, context=str(p))
    return wav


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s-transcribe", description=__doc__)
    p.add_argument("model", help="checkpoint (.pt) written by s2s.bin.train")
    p.add_argument("audio", nargs="+", help="audio files")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    try:
        from s2s.bin.decode import compute_logprobs, greedy_decode
        from s2s.tasks.asr import CmvnStats, FeatureSource, tokenizer_from_meta
        from s2s.train.checkpoint import load_model

        model, meta = load_model(args.model, args.device)
        if meta["task"] != "asr":
            raise S2SError(f"{args.model}: a {meta['task']!r} model, not a speech recognizer")
        if not meta.get("frontend_conf"):
            raise S2SError(f"{args.model}: the model stores no feature settings; it cannot read raw audio")
        tok = tokenizer_from_meta(meta["tokenizer"])
        feats = FeatureSource(meta["frontend_conf"])
        cmvn = CmvnStats.from_meta(meta["cmvn"])
        sr = int(feats.frontend.conf.get("sample_rate", 16000))
        inputs = [cmvn(feats.from_audio(read_any_audio(a, sr), sr)) for a in args.audio]
        logps = compute_logprobs(model, inputs, args.device)
    except S2SError as e:
        print(f"s2s-transcribe: error: {e}", file=sys.stderr)
        return 1
    for a, lp in zip(args.audio, logps):
        text = tok.decode(greedy_decode(lp, tok.blank_id))
        print(text if len(args.audio) == 1 else f"{a}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
