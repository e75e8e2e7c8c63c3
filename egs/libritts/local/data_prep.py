#!/usr/bin/env python3
"""One LibriTTS part -> a Kaldi data dir.

  python local/data_prep.py [--min-seconds 0.5 --max-seconds 15] LIBRITTS_PART_DIR DATA_DIR

LIBRITTS_PART_DIR is an extracted part, e.g. downloads/LibriTTS/train-clean-100, laid out as
<speaker>/<chapter>/<speaker>_<chapter>_<paragraph>_<sentence>.wav (24 kHz mono) with the
sentence's ``.normalized.txt`` (numbers and abbreviations spelled out: the transcript, as ESPnet
and NeMo take it) beside each, and <speaker>_<chapter>.trans.tsv (id, original, normalized) per
chapter, which lists the chapter's utterances. Utterance ids become
``<speaker>-<chapter>-<paragraph>-<sentence>`` (dashes, so that C-sorting keeps each
speaker's utterances together, as in LibriSpeech); the speaker is the reader. Utterances
shorter than --min-seconds or longer than --max-seconds are left out (counted); durations
come from the wav headers (utt2dur). Standard library only (wave).
"""

from __future__ import annotations

import argparse
import sys
import wave
from pathlib import Path

try:
    import s2s  # noqa: F401
except ImportError:  # run without path.sh
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from s2s.data.datadir import utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError, run_main  # noqa: E402


def read_chapter(trans: Path) -> dict[str, str]:
    """id -> normalized text of one chapter's .trans.tsv (3 tab-separated fields a line)."""
    out = {}
    try:
        lines = trans.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise S2SError(f"{trans}: not valid UTF-8; the archive is damaged (delete it and its .done marker, "
                       f"then re-run stage 0)") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise S2SError(f"{trans}:{lineno}: expected 'id<TAB>original<TAB>normalized', got {len(fields)} fields")
        utt, _, norm = fields
        text = " ".join(norm.split())
        if not text:
            raise S2SError(f"{trans}:{lineno}: {utt} has no normalized transcript")
        out[utt] = text
    return out


def prepare(part: Path, data: Path, min_seconds: float, max_seconds: float) -> str:
    if not part.is_dir():
        raise S2SError(f"{part}: not found; is it an extracted LibriTTS part (run stage 0)?")
    trans_files = sorted(part.glob("*/*/*.trans.tsv"))
    if not trans_files:
        raise S2SError(f"{part}: no <speaker>/<chapter>/*.trans.tsv; is it a LibriTTS part?")
    tables: dict[str, dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2dur": {}}
    short = long = 0
    for trans in trans_files:
        for utt, text in read_chapter(trans).items():
            wav = trans.parent / f"{utt}.wav"
            if not wav.is_file():
                raise S2SError(f"{trans}: {wav} is listed but missing; the archive is incomplete (delete it and "
                               f"its .done marker, then re-run stage 0)")
            with wave.open(str(wav)) as w:
                seconds = w.getnframes() / w.getframerate()
            if seconds < min_seconds:
                short += 1
                continue
            if seconds > max_seconds:
                long += 1
                continue
            fields = utt.split("_")
            if len(fields) != 4:
                raise S2SError(f"{trans}: utterance id {utt!r} is not <speaker>_<chapter>_<paragraph>_<sentence>")
            key = "-".join(fields)
            tables["wav.scp"][key] = str(wav.resolve())
            tables["text"][key] = text
            tables["utt2spk"][key] = fields[0]
            tables["utt2dur"][key] = f"{seconds:.3f}"
    if not tables["text"]:
        raise S2SError(f"{part}: no utterances between {min_seconds} and {max_seconds} s")
    for name, table in tables.items():
        write_table(data / name, table)
    write_table(data / "spk2utt", utt2spk_to_spk2utt(tables["utt2spk"]))
    hours = sum(float(d) for d in tables["utt2dur"].values()) / 3600
    return (f"{data}: {len(tables['text'])} utterances ({hours:.2f} h) of {len(set(tables['utt2spk'].values()))} "
            f"speakers; left out {short} shorter than {min_seconds} s and {long} longer than {max_seconds} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="data_prep.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--max-seconds", type=float, default=15.0)
    p.add_argument("part", type=Path)
    p.add_argument("data", type=Path)
    a = p.parse_args(argv)
    return run_main("data_prep.py", lambda: print(prepare(a.part, a.data, a.min_seconds, a.max_seconds),
                                                  file=sys.stderr), writes=[("dir", a.data)])


if __name__ == "__main__":
    sys.exit(main())
