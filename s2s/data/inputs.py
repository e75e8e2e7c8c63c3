"""What ``s2s-transcribe INPUT...`` reads: audio files, folders of them, a wav.scp or a Kaldi data dir.

``expand_inputs`` turns the command line into ``AudioInput`` entries in a stable order,
and the inputs it cannot use into ``(input, reason)`` pairs, so one bad argument does
not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s2s.errors import S2SError

# What libsndfile or sox reads; a folder is searched (recursively) for these.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph", ".m4a", ".aac", ".aif", ".aiff", ".au",
                    ".wma", ".webm", ".amr", ".caf", ".w64", ".rf64")


@dataclass
class AudioInput:
    """One thing to transcribe: ``name`` keys its output (a file path or an utterance id), ``spec``
    is a path or a ``cmd |`` pipe, ``segment`` (start, end) seconds of ``spec`` or None."""

    name: str
    spec: str
    segment: tuple[float, float] | None = None


def expand_inputs(args: list[str]) -> tuple[list[AudioInput], list[tuple[str, str]]]:
    """``(inputs, problems)`` for command-line inputs: a file, a folder (its audio files, sorted),
    a ``*.scp`` table (``key spec``) or a Kaldi data dir (a folder with wav.scp; segments honoured)."""
    inputs: list[AudioInput] = []
    problems: list[tuple[str, str]] = []
    for arg in args:
        path = Path(arg)
        try:
            if path.is_dir() and (path / "wav.scp").is_file():
                inputs += _data_dir(path)
            elif path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
                if not found:
                    raise S2SError(f"a folder without audio files ({', '.join(AUDIO_EXTENSIONS[:4])}, ...)")
                inputs += [AudioInput(str(p), str(p)) for p in found]
            elif path.is_file() and path.suffix == ".scp":
                inputs += [AudioInput(k, v) for k, v in _table(path).items()]
            else:  # a file; AudioStream says what is wrong with it when it is read
                inputs.append(AudioInput(arg, arg))
        except S2SError as e:
            problems.append((arg, str(e)))
    return inputs, problems


def _table(path: Path) -> dict[str, str]:
    from s2s.data.datadir import read_table

    return read_table(path)


def _data_dir(path: Path) -> list[AudioInput]:
    from s2s.data.datadir import DataDir

    dd = DataDir(path)
    wav = dd.wav_scp()
    segs = dd.segments()
    if segs is None:
        return [AudioInput(k, v) for k, v in sorted(wav.items())]
    out = []
    for utt, (rec, start, end) in sorted(segs.items()):
        if rec not in wav:
            raise S2SError(f"{dd.file('segments')}: recording {rec!r} of {utt!r} is not in wav.scp")
        out.append(AudioInput(utt, wav[rec], (start, end)))
    return out
