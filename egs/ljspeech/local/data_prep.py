#!/usr/bin/env python3
"""LJSpeech 1.1 -> Kaldi data dirs data/{train,dev,test}.

  python local/data_prep.py [--num-dev 100 --num-test 100] LJSPEECH_DIR DATA_DIR

LJSPEECH_DIR holds metadata.csv (``id|raw text|normalized text``, UTF-8, no header) and
wavs/<id>.wav (22.05 kHz mono). The normalized column is the transcript (numbers already
spelled out); the model's own normaliser handles what remains (punctuation, non-ASCII).
The last --num-test utterances (in id order) are test, the --num-dev before them dev, as
chapters LJ050 and up come last. One speaker, "LJ". Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import s2s  # noqa: F401
except ImportError:  # run without path.sh
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from s2s.data.datadir import utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError  # noqa: E402


def read_metadata(root: Path) -> dict[str, str]:
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise S2SError(f"{meta}: not found; is {root} an extracted LJSpeech-1.1 (run stage 0)?")
    out = {}
    with open(meta, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            fields = line.split("|")
            if len(fields) != 3:
                raise S2SError(f"{meta}:{lineno}: expected 'id|text|normalized text', got {len(fields)} fields")
            utt, raw, norm = fields
            text = " ".join((norm or raw).split())
            if not text:
                raise S2SError(f"{meta}:{lineno}: {utt} has no transcript")
            if not (root / "wavs" / f"{utt}.wav").is_file():
                raise S2SError(f"{meta}:{lineno}: {root}/wavs/{utt}.wav not found; the archive is incomplete "
                               f"(delete it and its .done marker, then re-run stage 0)")
            out[utt] = text
    if not out:
        raise S2SError(f"{meta}: no utterances")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="data_prep.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-dev", type=int, default=100)
    p.add_argument("--num-test", type=int, default=100)
    p.add_argument("ljspeech_dir", type=Path)
    p.add_argument("data_dir", type=Path)
    args = p.parse_args(argv)
    try:
        texts = read_metadata(args.ljspeech_dir)
        ids = sorted(texts)
        if len(ids) <= args.num_dev + args.num_test:
            raise S2SError(f"{len(ids)} utterances cannot give {args.num_dev} dev and {args.num_test} test "
                           f"and still leave training data; lower --num-dev/--num-test")
        n_train = len(ids) - args.num_dev - args.num_test
        splits = {"train": ids[:n_train], "dev": ids[n_train:n_train + args.num_dev],
                  "test": ids[n_train + args.num_dev:]}
        wav_dir = args.ljspeech_dir.resolve() / "wavs"
        for name, utts in splits.items():
            d = args.data_dir / name
            utt2spk = {u: "LJ" for u in utts}
            write_table(d / "wav.scp", {u: str(wav_dir / f"{u}.wav") for u in utts})
            write_table(d / "text", {u: texts[u] for u in utts})
            write_table(d / "utt2spk", utt2spk)
            write_table(d / "spk2utt", utt2spk_to_spk2utt(utt2spk))
            print(f"data_prep.py: {d}: {len(utts)} utterances", file=sys.stderr)
    except S2SError as e:
        print(f"data_prep.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
