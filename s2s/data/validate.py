"""Check a Kaldi data directory before anything reads it, with errors that say how to fix it.

Standard library only (utils/validate_data_dir.sh runs it with any python3).
"""

from __future__ import annotations

from pathlib import Path

from s2s.data.datadir import read_table, utt2spk_to_spk2utt
from s2s.errors import S2SError

# Tables keyed by utterance id (wav.scp is too, unless there is a segments file).
UTT_TABLES = ("text", "utt2spk", "segments", "feats.scp", "utt2dur", "utt2num_frames",
              "utt2lang", "utt2uniq", "utt2category")
# Tables keyed by speaker id.
SPK_TABLES = ("spk2utt", "spk2gender", "cmvn.scp")
# Tables keyed like wav.scp (by recording when there is a segments file).
RECO_TABLES = ("wav.scp", "reco2file_and_channel", "reco2dur")


def validate_data_dir(path, need_text: bool = True, need_wav: bool = True, need_feats: bool = False) -> None:
    """Raise S2SError naming the file, line and fix for the first problem in data dir ``path``.

    Checks: required files exist; every table is sorted (LC_ALL=C), without
    duplicate keys or empty lines, and UTF-8; utt2spk and spk2utt agree; text,
    wav.scp (or segments), feats.scp, utt2dur, ... hold the same utterances; no
    transcript is empty; segments, utt2dur and utt2num_frames hold numbers.
    Tables that are present are always checked, required or not.
    """
    d = Path(path)
    fix = f"run utils/fix_data_dir.sh {d}"
    if not d.is_dir():
        raise S2SError(f"{d}: data directory not found")

    required = {
        "utt2spk": "create it in data preparation ('utt speaker' per line; the speaker may be the utterance id)",
        "spk2utt": f"create it with utils/utt2spk_to_spk2utt.pl < {d}/utt2spk > {d}/spk2utt (or {fix})",
    }
    if need_text:
        required["text"] = "create it in data preparation, or pass --no-text"
    if need_wav:
        required["wav.scp"] = "create it in data preparation, or pass --no-wav"
    if need_feats:
        required["feats.scp"] = "compute features with utils/make_feats.sh, or pass --no-feats"
    for name, how in required.items():
        if not (d / name).is_file():
            raise S2SError(f"{d / name}: file not found; {how}")

    tables: dict[str, dict[str, str]] = {}
    for name in UTT_TABLES + SPK_TABLES + RECO_TABLES:
        if (d / name).is_file():
            tables[name] = read_table(d / name, allow_empty_value=(name == "text"), check_sorted=True)
            if not tables[name]:
                raise S2SError(f"{d / name}: file is empty; an empty data directory is an error in data preparation")

    utt2spk = tables["utt2spk"]
    for lineno, (utt, spk) in enumerate(utt2spk.items(), 1):
        if len(spk.split()) != 1:
            raise S2SError(f"{d}/utt2spk:{lineno}: {utt!r} should map to one speaker id, got {spk!r}; "
                           f"write 'utt speaker' per line")
    _check_spk2utt(d, tables["spk2utt"], utt2spk, fix)

    if "text" in tables:
        for lineno, (utt, words) in enumerate(tables["text"].items(), 1):
            if not words.strip():
                raise S2SError(f"{d}/text:{lineno}: empty transcript for {utt!r}; fix the transcript or "
                               f"{fix} (it drops the utterance)")

    has_segments = "segments" in tables
    for name in UTT_TABLES + (() if has_segments else ("wav.scp",)):
        if name in tables and name != "utt2spk":
            _check_same_keys(d, name, tables[name], "utt2spk", utt2spk, "utterance", fix)
    for name in SPK_TABLES:
        if name in tables and name != "spk2utt":
            _check_same_keys(d, name, tables[name], "spk2utt", tables["spk2utt"], "speaker", fix)
    if "wav.scp" in tables:
        for name in RECO_TABLES[1:]:
            if name in tables:
                _check_same_keys(d, name, tables[name], "wav.scp", tables["wav.scp"], "recording", fix)
        for lineno, (key, value) in enumerate(tables["wav.scp"].items(), 1):
            if "|" in value and not value.rstrip().endswith("|"):
                raise S2SError(f"{d}/wav.scp:{lineno}: {key!r}: a command must end with '|', got {value!r}")

    if has_segments:
        _check_segments(d, tables["segments"], tables.get("wav.scp"), fix)
    _check_numbers(d, tables, "utt2dur", float, "a positive duration in seconds")
    _check_numbers(d, tables, "utt2num_frames", int, "a positive frame count")


def _check_spk2utt(d: Path, spk2utt: dict[str, str], utt2spk: dict[str, str], fix: str) -> None:
    expected = utt2spk_to_spk2utt(utt2spk)
    regen = f"regenerate it: utils/utt2spk_to_spk2utt.pl < {d}/utt2spk > {d}/spk2utt (or {fix})"
    for lineno, (spk, utts) in enumerate(spk2utt.items(), 1):
        if spk not in expected:
            raise S2SError(f"{d}/spk2utt:{lineno}: speaker {spk!r} has no utterance in utt2spk; {regen}")
        if sorted(utts.split()) != expected[spk].split():
            raise S2SError(f"{d}/spk2utt:{lineno}: utterances of speaker {spk!r} differ from utt2spk; {regen}")
    for spk in expected:
        if spk not in spk2utt:
            line = next(i for i, s in enumerate(utt2spk.values(), 1) if s == spk)
            raise S2SError(f"{d}/spk2utt: no line for speaker {spk!r} (utt2spk:{line}); {regen}")


def _check_same_keys(d: Path, name: str, table: dict[str, str], ref_name: str, ref: dict[str, str],
                     what: str, fix: str) -> None:
    extra = [(i, k) for i, k in enumerate(table, 1) if k not in ref]
    if extra:
        lineno, key = extra[0]
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise S2SError(f"{d}/{name}:{lineno}: {what} {key!r} is not in {ref_name}{more}; {fix}")
    missing = [(i, k) for i, k in enumerate(ref, 1) if k not in table]
    if missing:
        lineno, key = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise S2SError(f"{d}/{name}: no line for {what} {key!r} ({ref_name}:{lineno}){more}; {fix}")


def _check_segments(d: Path, segments: dict[str, str], wav_scp: dict[str, str] | None, fix: str) -> None:
    for lineno, (utt, rest) in enumerate(segments.items(), 1):
        where = f"{d}/segments:{lineno}"
        parts = rest.split()
        try:
            if len(parts) != 3:
                raise ValueError
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            raise S2SError(f"{where}: expected 'utt recording start end' (seconds), got {utt} {rest!r}") from None
        if start < 0 or (end != -1 and end <= start):
            raise S2SError(f"{where}: segment {utt!r} has start {start} and end {end}; need 0 <= start < end "
                           f"(or end -1 for the end of the recording)")
        if wav_scp is not None and parts[0] not in wav_scp:
            raise S2SError(f"{where}: recording {parts[0]!r} of segment {utt!r} is not in wav.scp; {fix}")


def _check_numbers(d: Path, tables: dict[str, dict[str, str]], name: str, kind: type, what: str) -> None:
    for lineno, (utt, value) in enumerate(tables.get(name, {}).items(), 1):
        try:
            ok = kind(value) > 0
        except ValueError:
            ok = False
        if not ok:
            raise S2SError(f"{d}/{name}:{lineno}: {utt!r} should have {what}, got {value!r}; "
                           f"recompute {name} or remove the utterance")
