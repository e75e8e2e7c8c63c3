#!/usr/bin/env python3
"""Turn one extracted LibriSpeech part into a Kaldi data directory.

  local/data_prep.py [--skip-incomplete] DOWNLOAD_DIR/LibriSpeech/dev-clean data/dev_clean

Reads ``<part>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac`` and the chapter's
``<speaker>-<chapter>.trans.txt``; writes wav.scp (absolute FLAC paths: soundfile reads FLAC
directly, no ``flac -d |`` pipe), text (the transcript as published: upper case, no
punctuation), utt2spk (the reader), spk2utt, utt2dur (from the FLAC header) and, when
LibriSpeech/SPEAKERS.TXT is there, spk2gender. All tables sorted with LC_ALL=C order.

A transcript line whose FLAC is missing, or a FLAC that no transcript mentions, is an error
listing how many there are and which; ``--skip-incomplete`` drops them with a warning instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import soundfile as sf  # noqa: E402

from s2s.data.datadir import utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError  # noqa: E402

PROG = "local/data_prep.py"
SHOW = 5  # how many examples an error lists


def scan_part(part_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Collect ``utt -> flac path`` and ``utt -> transcript`` over a part's chapters.

    Raises S2SError for a transcript line without text, an utterance id that does not
    belong to its chapter, or a duplicate id, naming the file and line.
    """
    audio: dict[str, Path] = {}
    text: dict[str, str] = {}
    speakers = sorted(p for p in part_dir.iterdir() if p.is_dir())
    if not speakers:
        raise S2SError(
            f"{part_dir}: no speaker directories; give a LibriSpeech part directory "
            f"such as DOWNLOAD_DIR/LibriSpeech/dev-clean (add the part to ./run.sh --parts and run stage 0, "
            f"or give --librispeech-dir a copy that has it)"
        )
    for spk_dir in speakers:
        for chap_dir in sorted(p for p in spk_dir.iterdir() if p.is_dir()):
            prefix = f"{spk_dir.name}-{chap_dir.name}-"
            for flac in sorted(chap_dir.glob("*.flac")):
                audio[flac.stem] = flac.resolve()
            for trans in sorted(chap_dir.glob("*.trans.txt")):
                _read_transcript(trans, prefix, text)
    return audio, text


def _read_transcript(trans: Path, prefix: str, text: dict[str, str]) -> None:
    with open(trans, encoding="utf-8", errors="strict") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise S2SError(f"{trans}: not valid UTF-8 ({e.reason}); re-extract the archive") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        utt, _, words = line.strip().partition(" ")
        words = " ".join(words.split())
        if not words:
            raise S2SError(f"{trans}:{lineno}: utterance {utt!r} has no transcript; fix or remove the line")
        if not (utt.startswith(prefix) and re.fullmatch(r"\d+", utt[len(prefix):])):
            raise S2SError(
                f"{trans}:{lineno}: utterance id {utt!r} does not belong to this chapter "
                f"(expected {prefix}NNNN); the file is misplaced or damaged"
            )
        if utt in text:
            raise S2SError(f"{trans}:{lineno}: utterance {utt!r} appears twice; remove the duplicate")
        text[utt] = words


def _examples(names: list[str]) -> str:
    more = f", ... ({len(names) - SHOW} more)" if len(names) > SHOW else ""
    return ", ".join(names[:SHOW]) + more


def read_genders(speakers_txt: Path) -> dict[str, str]:
    """``speaker -> m|f`` from LibriSpeech's SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES | NAME``)."""
    out = {}
    for line in speakers_txt.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[1].upper() in ("M", "F"):
            out[fields[0]] = fields[1].lower()
    return out


def prepare(part_dir, data_dir, skip_incomplete: bool = False) -> dict[str, float]:
    """Write the Kaldi data directory ``data_dir`` for ``part_dir``; return summary counts.

    The summary has ``utterances``, ``speakers``, ``hours``, ``missing_audio`` (transcript
    lines without a FLAC) and ``missing_text`` (FLACs without a transcript line).
    """
    part_dir, data_dir = Path(part_dir), Path(data_dir)
    if not part_dir.is_dir():
        raise S2SError(f"{part_dir}: directory not found; add the part to ./run.sh --parts and run stage 0, "
                       f"or give --librispeech-dir a copy that has it")
    audio, text = scan_part(part_dir)
    no_audio = sorted(set(text) - set(audio))
    no_text = sorted(set(audio) - set(text))
    if no_audio or no_text:
        problems = []
        if no_audio:
            problems.append(f"{len(no_audio)} transcript line(s) without a .flac ({_examples(no_audio)})")
        if no_text:
            problems.append(f"{len(no_text)} .flac file(s) without a transcript line ({_examples(no_text)})")
        msg = f"{part_dir}: " + "; ".join(problems)
        if not skip_incomplete:
            raise S2SError(
                msg + ". The extraction is incomplete or the corpus was edited: delete the part's "
                "extraction marker (DOWNLOAD_DIR/.<part>.tar.gz.done) and re-run ./run.sh --stage 0, "
                "or pass --skip-incomplete to leave these utterances out"
            )
        print(f"{PROG}: warning: {msg}; leaving them out (--skip-incomplete)", file=sys.stderr)
    utts = sorted(set(audio) & set(text))
    if not utts:
        raise S2SError(f"{part_dir}: no utterance has both audio and a transcript")

    wav_scp, utt2spk, utt2dur = {}, {}, {}
    total = 0.0
    for utt in utts:
        path = audio[utt]
        if any(c.isspace() for c in str(path)):
            raise S2SError(f"{path}: a path with white space cannot go into wav.scp; move the corpus")
        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError) as e:
            raise S2SError(f"{path}: unreadable FLAC ({e}); re-extract the archive") from None
        dur = info.frames / info.samplerate
        total += dur
        wav_scp[utt] = str(path)
        utt2spk[utt] = utt.split("-", 1)[0]
        utt2dur[utt] = f"{dur:.4f}"
    text_out = {u: text[u] for u in utts}

    data_dir.mkdir(parents=True, exist_ok=True)
    write_table(data_dir / "wav.scp", wav_scp)
    write_table(data_dir / "text", text_out)
    write_table(data_dir / "utt2spk", utt2spk)
    write_table(data_dir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    write_table(data_dir / "utt2dur", utt2dur)
    speakers = sorted(set(utt2spk.values()))
    speakers_txt = part_dir.parent / "SPEAKERS.TXT"
    if speakers_txt.is_file():
        genders = read_genders(speakers_txt)
        unknown = [s for s in speakers if s not in genders]
        if unknown:
            print(f"{PROG}: warning: {speakers_txt} lacks speaker(s) {_examples(unknown)}; "
                  f"no spk2gender written", file=sys.stderr)
        else:
            write_table(data_dir / "spk2gender", {s: genders[s] for s in speakers})
    return {"utterances": len(utts), "speakers": len(speakers), "hours": total / 3600,
            "missing_audio": len(no_audio), "missing_text": len(no_text)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part_dir", help="an extracted part, e.g. downloads/LibriSpeech/dev-clean")
    p.add_argument("data_dir", help="the Kaldi data directory to write, e.g. data/dev_clean")
    p.add_argument("--skip-incomplete", action="store_true",
                   help="leave out utterances missing audio or transcript (with a warning) instead of failing")
    args = p.parse_args(argv)
    try:
        s = prepare(args.part_dir, args.data_dir, skip_incomplete=args.skip_incomplete)
    except S2SError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: {args.data_dir}: {s['utterances']} utterances, {s['speakers']} speakers, "
          f"{s['hours']:.2f} h", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
