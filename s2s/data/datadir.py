"""Kaldi data directories: plain text tables keyed by utterance id, sorted with LC_ALL=C.

Files: wav.scp (path or ``cmd |``), text, utt2spk, spk2utt, segments, utt2dur,
feats.scp, utt2num_frames, cmvn.ark. Python's string order on str is code-point
order, which equals byte order of UTF-8, i.e. LC_ALL=C ``sort``.
"""

from __future__ import annotations

from pathlib import Path

from s2s.errors import S2SError
from s2s.io import atomic_open


def read_table(path, required: bool = True, allow_empty_value: bool = False,
               check_sorted: bool = False) -> dict[str, str]:
    """Read ``key value...`` lines into an ordered dict.

    Errors name the file and line: non-UTF-8 bytes, a line with no key, a key
    with no value, duplicate keys, and (with ``check_sorted``) unsorted keys.
    """
    path = Path(path)
    if not path.is_file():
        if required:
            raise S2SError(f"{path}: file not found")
        return {}
    out: dict[str, str] = {}
    prev = None
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise S2SError(
                    f"{path}:{lineno}: not valid UTF-8 (byte {e.start}); re-encode the file as UTF-8, "
                    f"e.g. iconv -f latin1 -t utf-8"
                ) from None
            if not line.strip():
                raise S2SError(f"{path}:{lineno}: empty line; remove it (utils/fix_data_dir.sh {path.parent})")
            parts = line.strip().split(maxsplit=1)
            key = parts[0]
            value = parts[1] if len(parts) > 1 else ""
            if not value and not allow_empty_value:
                raise S2SError(f"{path}:{lineno}: key {key!r} has no value; fix or remove the line")
            if key in out:
                raise S2SError(
                    f"{path}:{lineno}: duplicate key {key!r}; remove duplicates "
                    f"(utils/fix_data_dir.sh {path.parent})"
                )
            if check_sorted and prev is not None and key < prev:
                raise S2SError(
                    f"{path}:{lineno}: not sorted ({key!r} after {prev!r}); "
                    f"run utils/fix_data_dir.sh {path.parent}"
                )
            prev = key
            out[key] = value
    return out


def write_table(path, table: dict[str, str] | list[tuple[str, str]], sort: bool = True) -> None:
    """Write ``key value`` lines atomically, sorted in C order unless ``sort`` is False."""
    items = list(table.items()) if isinstance(table, dict) else list(table)
    if sort:
        items.sort(key=lambda kv: kv[0])
    with atomic_open(path) as f:
        for k, v in items:
            f.write(f"{k} {v}\n")


def utt2spk_to_spk2utt(utt2spk: dict[str, str]) -> dict[str, str]:
    spk2utts: dict[str, list[str]] = {}
    for utt, spk in sorted(utt2spk.items()):
        spk2utts.setdefault(spk, []).append(utt)
    return {spk: " ".join(utts) for spk, utts in sorted(spk2utts.items())}


def spk2utt_to_utt2spk(spk2utt: dict[str, str]) -> dict[str, str]:
    out = {}
    for spk, utts in spk2utt.items():
        for utt in utts.split():
            out[utt] = spk
    return dict(sorted(out.items()))


class DataDir:
    """Lazy access to the tables of one Kaldi data directory."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise S2SError(f"{self.path}: data directory not found")

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str, required: bool = True, **kw) -> dict[str, str]:
        return read_table(self.path / name, required=required, **kw)

    def text(self) -> dict[str, str]:
        return self.table("text", allow_empty_value=True)

    def wav_scp(self) -> dict[str, str]:
        return self.table("wav.scp")

    def utt2spk(self) -> dict[str, str]:
        return self.table("utt2spk")

    def segments(self) -> dict[str, tuple[str, float, float]] | None:
        """``utt -> (recording, start_s, end_s)`` or None when there is no segments file."""
        if not self.has("segments"):
            return None
        out = {}
        path = self.file("segments")
        for lineno, (utt, rest) in enumerate(read_table(path).items(), 1):
            parts = rest.split()
            try:
                rec, start, end = parts[0], float(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                raise S2SError(
                    f"{path}: line for {utt!r} should be 'utt recording start end' (seconds), got {rest!r}"
                ) from None
            if end != -1 and end <= start:
                raise S2SError(f"{path}: segment {utt!r} ends ({end}) before it starts ({start})")
            out[utt] = (rec, start, end)
        return out

    def utt_ids(self) -> list[str]:
        """Utterance ids, from utt2spk when present, else text, else wav.scp."""
        for name in ("utt2spk", "text", "feats.scp", "wav.scp"):
            if self.has(name):
                return list(self.table(name, allow_empty_value=True))
        raise S2SError(f"{self.path}: no utt2spk, text, feats.scp or wav.scp; not a data directory")
