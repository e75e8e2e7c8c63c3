"""Your own data as Kaldi data dirs: ``utils/data_dir_from_folder.sh`` and ``utils/split_sets.sh``.

``from-folder FOLDER OUT``: every audio file under FOLDER (any depth) with its transcript becomes
an utterance of the data dir OUT (wav.scp, text, utt2spk, spk2utt). Transcripts come from, in
this order of preference:

- ``--transcripts FILE``: a table of ``KEY TEXT`` lines (separated by a tab, ``|`` or the first
  space), or a TSV/CSV whose header names the columns (Common Voice's ``path``/``sentence``/
  ``client_id``, or ``file``/``text``/``speaker`` and the like). KEY is the audio file's path
  relative to FOLDER, with or without its extension, or its bare name when names are unique;
- LibriSpeech-style ``*.trans.txt`` files beside the audio (``KEY TEXT`` lines);
- a ``.txt`` or ``.lab`` file of the same name beside each audio file.

Speakers come from the table's speaker column, else ``--speaker dir`` (the audio's directory
relative to FOLDER, the default; files directly in FOLDER are each their own speaker) or
``--speaker none`` (every utterance its own speaker). Utterance ids are ``<speaker>-<name>``
(the file name, or its path where names repeat), so they sort with their speakers as Kaldi
requires. ``--normalize true`` (default) writes the text as lower-case ASCII words with
numbers spelled out (English; s2s.data.text.normalize_text); ``false`` keeps it as written.
Audio files without a transcript, and transcripts without audio, are counted and reported; a
transcript that is empty after normalisation is an error naming it.

``split DATA OUT-ROOT NAME:PERCENT...``: OUT-ROOT/NAME data dirs with those shares of DATA's
utterances, whole speakers per set (held-out speakers) when there are enough speakers for every
set to get one, else utterances drawn at random (seeded).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import Counter
from pathlib import Path

from s2s.data.datadir import utt2spk_to_spk2utt, write_table
from s2s.errors import S2SError

AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph", ".aiff", ".aif")
TEXT_EXTS = (".txt", ".lab")
PATH_COLUMNS = ("path", "file", "filename", "file_name", "audio", "audio_path", "audio_filepath", "wav", "utt",
                "utt_id", "id")
TEXT_COLUMNS = ("sentence", "text", "transcript", "transcription", "normalized_text", "words")
SPEAKER_COLUMNS = ("client_id", "speaker", "speaker_id", "spk", "spk_id")


def _safe_id(s: str) -> str:
    """A Kaldi key: no whitespace; other characters kept."""
    return re.sub(r"\s+", "_", s.strip()) or "_"


def find_audio(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTS)
    if not files:
        raise S2SError(f"{folder}: no audio files ({', '.join(AUDIO_EXTS)}) under it; give the folder that holds "
                       f"the recordings")
    return files


def read_transcript_table(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(key -> text, key -> speaker)`` of a transcript table (see the module docstring)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise S2SError(f"{path}: transcript table not found; check --transcripts") from None
    except UnicodeDecodeError:
        raise S2SError(f"{path}: not valid UTF-8; re-encode it (e.g. iconv -f latin1 -t utf-8)") from None
    lines = raw.splitlines()
    if not lines:
        raise S2SError(f"{path}: empty transcript table")
    first = lines[0]
    delim = "\t" if "\t" in first else ("|" if "|" in first else ("," if "," in first else None))
    if delim:
        header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delim))]
        pcol = next((header.index(c) for c in PATH_COLUMNS if c in header), None)
        tcol = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
        if pcol is not None and tcol is not None:
            scol = next((header.index(c) for c in SPEAKER_COLUMNS if c in header), None)
            texts, spks = {}, {}
            for n, row in enumerate(csv.reader(lines[1:], delimiter=delim), 2):
                if not row:
                    continue
                if len(row) <= max(pcol, tcol):
                    raise S2SError(f"{path}:{n}: {len(row)} column(s), the header has {len(header)}; "
                                   f"fix the line (a {delim!r} inside a transcript needs quoting)")
                texts[row[pcol].strip()] = row[tcol]
                if scol is not None and len(row) > scol and row[scol].strip():
                    spks[row[pcol].strip()] = row[scol].strip()
            return texts, spks
    texts = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" in line:
            key, _, text = line.partition("\t")
        elif "|" in line:
            key, _, text = line.partition("|")
            text = text.split("|")[-1] if text.count("|") else text  # LJSpeech: id|raw|normalized
        else:
            key, _, text = line.strip().partition(" ")
        if not key.strip():
            raise S2SError(f"{path}:{n}: no key before the transcript; lines are 'KEY TEXT' "
                           f"(KEY: the audio file's name or relative path)")
        texts[key.strip()] = text
    return texts, {}


def _keys_of(f: Path, folder: Path) -> list[str]:
    rel = f.relative_to(folder).as_posix()
    return [rel, rel[: -len(f.suffix)], f.name, f.stem]


def collect(folder: Path, transcripts: Path | None = None) -> list[tuple[Path, str, str | None]]:
    """``(audio, text, speaker or None)`` for every audio file with a transcript; prints what was left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise S2SError(f"{folder}: not a directory; give the folder that holds your audio files")
    audio = find_audio(folder)
    stems = Counter(f.stem for f in audio)
    table: dict[str, str] = {}
    spk_table: dict[str, str] = {}
    if transcripts is not None:
        table, spk_table = read_transcript_table(Path(transcripts))
    else:
        for t in sorted(folder.rglob("*.trans.txt")):
            for n, line in enumerate(t.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    key, _, text = line.strip().partition(" ")
                    table[key] = text
    out, missing, used = [], [], set()
    for f in audio:
        text = spk = None
        for k in _keys_of(f, folder):
            if k in (f.name, f.stem) and stems[f.stem] > 1:
                continue  # a bare name that several files share identifies none of them
            if k in table:
                text, spk, used = table[k], spk_table.get(k), used | {k}
                break
        if text is None and transcripts is None:
            for ext in TEXT_EXTS:
                side = f.with_suffix(ext)
                if side.is_file():
                    text = side.read_text(encoding="utf-8", errors="strict")
                    break
        if text is None:
            missing.append(f)
            continue
        out.append((f, text, spk))
    if missing:
        print(f"data_dir_from_folder: {len(missing)} audio file(s) without a transcript left out "
              f"(e.g. {missing[0]})", file=sys.stderr)
    if table and len(used) < len(table):
        extra = sorted(set(table) - used)
        print(f"data_dir_from_folder: {len(extra)} transcript(s) without an audio file (e.g. {extra[0]!r})",
              file=sys.stderr)
    if not out:
        where = transcripts or f"{folder} (*.trans.txt, or .txt/.lab beside each audio file)"
        raise S2SError(f"{folder}: none of the {len(audio)} audio files has a transcript in {where}; give "
                       f"--transcripts FILE with 'KEY TEXT' lines, KEY being the file's name or relative path")
    return out


def from_folder(folder, out, transcripts=None, speaker: str = "dir", normalize: bool = True) -> int:
    folder, out = Path(folder).resolve(), Path(out)
    if speaker not in ("dir", "none"):
        raise S2SError(f"--speaker must be dir or none, got {speaker!r}")
    norm = None
    if normalize:
        from s2s.data.text import normalize_text

        def norm(t: str) -> str:
            return normalize_text(t).text

    wav, text, utt2spk = {}, {}, {}
    found = collect(folder, transcripts)
    stems = Counter(f.stem for f, _, _ in found)
    for f, t, spk in found:
        # The file's name, or its path when several files share the name.
        name = f.stem if stems[f.stem] == 1 else f.relative_to(folder).as_posix()[: -len(f.suffix)].replace("/", "-")
        name = _safe_id(name)
        rel_dir = f.parent.relative_to(folder).as_posix()
        if spk is None:
            spk = rel_dir.replace("/", "-") if speaker == "dir" and rel_dir != "." else None
        spk = _safe_id(spk) if spk else None
        utt = name if spk is None or name.startswith(spk + "-") or name == spk else f"{spk}-{name}"
        if spk is None:
            spk = utt
        words = " ".join((norm(t) if norm else t).split())
        if not words:
            raise S2SError(f"{f}: its transcript {t.strip()!r} is empty{' after normalisation' if norm else ''}; "
                           f"fix it or remove the file")
        if utt in wav:
            raise S2SError(f"{f}: utterance id {utt!r} is also {wav[utt]}; rename one of them")
        wav[utt], text[utt], utt2spk[utt] = str(f), words, spk
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "wav.scp", wav)
    write_table(out / "text", text)
    write_table(out / "utt2spk", utt2spk)
    write_table(out / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    print(f"data_dir_from_folder: {out}: {len(wav)} utterances, {len(set(utt2spk.values()))} speakers from {folder}")
    return len(wav)


def split(data, out_root, shares: list[str], seed: int = 1) -> dict[str, list[str]]:
    """Split DATA into OUT-ROOT/NAME dirs by ``NAME:PERCENT`` shares (held-out speakers when possible)."""
    from s2s.recipe.datadir_tools import read_dir, subset_tables, write_dir

    data = Path(data)
    tables = read_dir(data)
    parts = []
    for s in shares:
        name, _, pct = s.partition(":")
        try:
            value = float(pct)
        except ValueError:
            raise S2SError(f"split share {s!r}: expected NAME:PERCENT, e.g. train:90") from None
        if not name or value <= 0:
            raise S2SError(f"split share {s!r}: expected NAME:PERCENT with a positive percentage")
        parts.append((name, value))
    if len({n for n, _ in parts}) != len(parts):
        raise S2SError(f"split: set names repeat in {' '.join(shares)}")
    utt2spk = tables["utt2spk"]
    spk2utt: dict[str, list[str]] = {}
    for u, s in utt2spk.items():
        spk2utt.setdefault(s, []).append(u)
    rng = random.Random(seed)
    total = sum(v for _, v in parts)
    by_speaker = len(spk2utt) >= 2 * len(parts) and len(spk2utt) < len(utt2spk)
    units = sorted(spk2utt) if by_speaker else sorted(utt2spk)
    rng.shuffle(units)
    n = len(units)
    if n < len(parts):
        raise S2SError(f"{data}: {n} utterances cannot make {len(parts)} sets; bring more data")
    # Largest-remainder allocation, every set at least one unit.
    want = [max(1, round(n * v / total)) for _, v in parts]
    while sum(want) > n:
        want[want.index(max(want))] -= 1
    while sum(want) < n:
        want[want.index(max(want))] += 1
    result, start = {}, 0
    for (name, _), k in zip(parts, want):
        chosen = units[start:start + k]
        start += k
        utts = sorted(u for s in chosen for u in spk2utt[s]) if by_speaker else sorted(chosen)
        write_dir(Path(out_root) / name, subset_tables(tables, utts))
        result[name] = utts
        print(f"split_sets: {Path(out_root) / name}: {len(utts)} utterances"
              f"{f', {len(chosen)} speakers' if by_speaker else ''}")
    if not by_speaker:
        print(f"split_sets: {len(spk2utt)} speaker(s) are too few to hold speakers out of every set: "
              f"utterances were split instead, so the same voices are in every set", file=sys.stderr)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s.recipe.folder")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("from-folder")
    a.add_argument("folder")
    a.add_argument("out")
    a.add_argument("--transcripts")
    a.add_argument("--speaker", default="dir", choices=["dir", "none"])
    a.add_argument("--normalize", default="true", choices=["true", "false"])
    b = sub.add_parser("split")
    b.add_argument("data")
    b.add_argument("out_root")
    b.add_argument("shares", nargs="+")
    b.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    prog = "utils/data_dir_from_folder.sh" if args.cmd == "from-folder" else "utils/split_sets.sh"
    try:
        if args.cmd == "from-folder":
            from_folder(args.folder, args.out, args.transcripts, args.speaker, args.normalize == "true")
        else:
            split(args.data, args.out_root, args.shares, args.seed)
    except S2SError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
