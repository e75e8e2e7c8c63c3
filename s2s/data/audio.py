"""Audio loading for Kaldi data directories.

A wav.scp value is either a path to a file libsndfile can read (wav, flac, ogg,
...) or a shell pipeline ending in ``|`` whose standard output is such a file,
e.g. ``sox in.sph -t wav - |``. Everything returned is float32 mono in
[-1, 1] (integer PCM is scaled by 1/32768 the way soundfile does it).

Resampling, when asked for, uses soxr (the SoX resampler, band-limited, "HQ"
quality): a sample-rate mismatch is never silently ignored.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from s2s.data.datadir import DataDir
from s2s.errors import S2SError

# A segment may end this far past the end of its recording before it is an
# error (Kaldi's extract-segments tolerates small overshoots the same way).
MAX_SEGMENT_OVERSHOOT_S = 0.5


def load_audio(spec: str, target_sr: int | None = None, resample: bool = False,
               context: str = "", channel: int | None = None) -> tuple[np.ndarray, int]:
    """Read one wav.scp value; return ``(samples, sample_rate)``.

    ``samples`` is a 1-D float32 array in [-1, 1]. Multi-channel audio needs
    ``channel`` (0-based). When ``target_sr`` is given and differs from the
    file's rate the audio is resampled if ``resample`` is true, otherwise an
    S2SError says how to fix it. ``context`` (e.g. ``"data/train/wav.scp: utt1"``)
    prefixes every error message so the user knows which entry failed.
    """
    where = f"{context}: " if context else ""
    spec = spec.strip()
    if not spec:
        raise S2SError(f"{where}empty wav.scp entry; give a file path or a 'command |' pipe")
    if spec.endswith("|"):
        name = f"pipe '{spec}'"
        data = _run_pipe(spec[:-1].strip(), where)
        wav, sr = _decode(io.BytesIO(data), name, where, is_pipe=True)
    else:
        path = Path(spec)
        name = str(path)
        if not path.is_file():
            raise S2SError(f"{where}audio file {path} not found; fix the path in wav.scp "
                           f"(relative paths are relative to the directory you run from)")
        wav, sr = _decode(path, name, where, is_pipe=False)

    if wav.shape[1] > 1:
        if channel is None:
            raise S2SError(
                f"{where}{name} has {wav.shape[1]} channels; s2s needs mono. Pick a channel in wav.scp, "
                f"e.g. 'sox {spec if not spec.endswith('|') else 'IN'} -t wav - remix 1 |', or pass channel=0"
            )
        if not 0 <= channel < wav.shape[1]:
            raise S2SError(f"{where}{name} has {wav.shape[1]} channels; channel {channel} does not exist")
    wav = np.ascontiguousarray(wav[:, channel or 0], dtype=np.float32)

    if target_sr is not None and sr != target_sr:
        if not resample:
            raise S2SError(
                f"{where}{name} has sample rate {sr} Hz but {target_sr} Hz is expected; "
                f"set 'resample: true' in the frontend config, or convert the audio "
                f"(e.g. wav.scp entry 'sox FILE -r {target_sr} -t wav - |')"
            )
        wav = resample_audio(wav, sr, target_sr)
        sr = target_sr
    return wav, sr


def resample_audio(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of a 1-D float32 signal."""
    import soxr  # imported here: only needed when rates differ

    if orig_sr == target_sr:
        return wav
    return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def _run_pipe(cmd: str, where: str) -> bytes:
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        tail = "\n".join(err.splitlines()[-5:]) or "(no stderr)"
        raise S2SError(
            f"{where}command '{cmd}' failed with exit code {proc.returncode}: {tail}\n"
            f"run the command by hand to debug it and fix the wav.scp entry"
        )
    if not proc.stdout:
        raise S2SError(f"{where}command '{cmd}' wrote no audio to stdout; "
                       f"it should write a wav/flac file to stdout (e.g. sox ... -t wav -)")
    return proc.stdout


def _decode(source, name: str, where: str, is_pipe: bool) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(source) as f:
            info = f.extra_info
            wav = f.read(dtype="float32", always_2d=True)
            sr = f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise S2SError(
            f"{where}cannot decode {name}: {e}; the audio is corrupt or not in a format libsndfile "
            f"reads (wav, flac, ogg, ...); convert it, e.g. with a 'sox IN -t wav - |' wav.scp entry"
        ) from None
    # libsndfile reads a truncated WAV without complaint but notes the size it
    # expected in the header; a pipe's header legitimately has a placeholder size.
    if not is_pipe and _wav_truncated(info):
        raise S2SError(f"{where}{name} is truncated (the header promises more data than the file has); "
                       f"re-copy or re-download it")
    if wav.shape[0] == 0:
        raise S2SError(f"{where}{name} contains no samples; remove the entry (utils/fix_data_dir.sh) "
                       f"or replace the file")
    return wav, sr


def _wav_truncated(extra_info: str) -> bool:
    return any(line.startswith("data") and "should be" in line for line in extra_info.splitlines())


def iter_datadir_audio(datadir, target_sr: int | None = None, resample: bool = False,
                       utts: Iterable[str] | None = None) -> Iterator[tuple[str, np.ndarray, int]]:
    """Yield ``(utt_id, samples, sample_rate)`` for every utterance of a data dir.

    Without ``segments`` each wav.scp entry is an utterance (sorted order).
    With ``segments`` each recording is read once and its segments sliced out
    (start/end in seconds, end -1 meaning the end of the recording); utterances
    come out grouped by recording, in sorted recording order. ``utts`` limits
    the output to those utterance ids.
    """
    dd = DataDir(datadir)
    wav_scp = dd.wav_scp()
    wav_path = dd.file("wav.scp")
    segments = dd.segments()
    wanted = None if utts is None else set(utts)

    if segments is None:
        if wanted is not None:
            missing = sorted(wanted - wav_scp.keys())
            if missing:
                raise S2SError(f"{wav_path}: no entry for utterance {missing[0]!r} "
                               f"({len(missing)} missing); run utils/fix_data_dir.sh {dd.path}")
        for utt in sorted(wav_scp):
            if wanted is not None and utt not in wanted:
                continue
            wav, sr = load_audio(wav_scp[utt], target_sr, resample, context=f"{wav_path}: {utt}")
            yield utt, wav, sr
        return

    seg_path = dd.file("segments")
    by_rec: dict[str, list[tuple[str, float, float]]] = {}
    for utt, (rec, start, end) in segments.items():
        if wanted is not None and utt not in wanted:
            continue
        if rec not in wav_scp:
            raise S2SError(f"{seg_path}: segment {utt!r} refers to recording {rec!r}, which is not in "
                           f"{wav_path}; run utils/fix_data_dir.sh {dd.path}")
        by_rec.setdefault(rec, []).append((utt, start, end))
    if wanted is not None:
        missing = sorted(wanted - {u for segs in by_rec.values() for u, _, _ in segs})
        if missing:
            raise S2SError(f"{seg_path}: no segment for utterance {missing[0]!r} ({len(missing)} missing); "
                           f"run utils/fix_data_dir.sh {dd.path}")

    for rec in sorted(by_rec):
        wav, sr = load_audio(wav_scp[rec], target_sr, resample, context=f"{wav_path}: {rec}")
        duration = len(wav) / sr
        for utt, start, end in sorted(by_rec[rec], key=lambda s: (s[1], s[0])):
            if end == -1:
                end = duration
            if start >= duration or end > duration + MAX_SEGMENT_OVERSHOOT_S:
                raise S2SError(
                    f"{seg_path}: segment {utt!r} ({start}-{end} s) lies outside recording {rec!r} "
                    f"({duration:.3f} s); fix the segment times"
                )
            a = int(round(start * sr))
            b = min(int(round(end * sr)), len(wav))
            if b <= a:
                raise S2SError(f"{seg_path}: segment {utt!r} is empty at {sr} Hz; remove it")
            yield utt, wav[a:b], sr


def read_any_audio(path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate`` from any file libsndfile or sox reads (resampled as needed)."""
    import shlex

    p = Path(path)
    if not p.is_file():
        raise S2SError(f"{path}: no such audio file")
    try:
        wav, _ = load_audio(str(p), target_sr=sample_rate, resample=True, context=str(p))
        return wav
    except S2SError:
        pass
    # Formats libsndfile lacks (mp3 on old builds, sph, ...) and multi-channel files: let sox convert.
    cmd = f"sox {shlex.quote(str(p))} -t wav -b 16 -c 1 -r {sample_rate} - |"
    wav, _ = load_audio(cmd, target_sr=sample_rate, resample=True, context=str(p))
    return wav


class AudioStream:
    """One audio input read block by block as mono float32 at ``sample_rate``, in bounded memory.

    ``spec`` is a file (anything libsndfile reads, else converted by sox on the fly), a
    wav.scp ``cmd |`` pipe, or either with a ``segment`` (start, end seconds; end -1 for the
    end). Files are streamed: memory does not grow with their length. Another sample rate
    is resampled (soxr, streaming); several channels are averaged. ``notes`` says what was
    done; ``duration`` is the length in seconds when the header tells it (else None).
    """

    def __init__(self, spec: str, sample_rate: int, segment: tuple[float, float] | None = None,
                 block_seconds: float = 10.0, name: str | None = None):
        self.spec = spec.strip()
        self.name = name or self.spec
        self.sample_rate = int(sample_rate)
        self.segment = segment
        self.block = max(1, int(block_seconds * self.sample_rate))
        self.notes: list[str] = []
        self.duration: float | None = None
        self._file = None
        if self.spec.endswith("|") or segment is not None:
            return
        path = Path(self.spec)
        if path.is_dir():
            raise S2SError(f"{self.name}: a directory, not an audio file")
        if not path.is_file():
            raise S2SError(f"{self.name}: no such file")
        if path.stat().st_size == 0:
            raise S2SError(f"{self.name}: empty file (0 bytes)")
        try:
            self._file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError):
            self._file = None  # not for libsndfile: sox converts it while reading
        if self._file is not None:
            info = self._file
            self.duration = info.frames / info.samplerate if info.frames > 0 else None
            if info.channels > 1:
                self.notes.append(f"{info.channels} channels averaged to mono")
            if info.samplerate != self.sample_rate:
                self.notes.append(f"resampled from {info.samplerate} Hz to {self.sample_rate} Hz")

    def blocks(self):
        """Yield the audio as 1-D float32 arrays of about ``block_seconds`` each."""
        if self.spec.endswith("|") or self.segment is not None:
            yield from self._whole()
        elif self._file is not None:
            yield from self._soundfile()
        else:
            yield from self._sox()

    def _whole(self):
        wav, _ = load_audio(self.spec, target_sr=self.sample_rate, resample=True, context=self.name)
        if self.segment is not None:
            start, end = self.segment
            wav = wav[int(start * self.sample_rate): (int(end * self.sample_rate) if end > 0 else None)]
        for i in range(0, len(wav), self.block):
            yield wav[i: i + self.block]

    def _soundfile(self):
        f = self._file
        resampler = None
        if f.samplerate != self.sample_rate:
            import soxr

            resampler = soxr.ResampleStream(f.samplerate, self.sample_rate, 1, dtype="float32", quality="HQ")
        step = max(1, int(self.block * f.samplerate / self.sample_rate))
        try:
            with f:
                while True:
                    x = f.read(step, dtype="float32", always_2d=True)
                    last = len(x) < step
                    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
                    if resampler is not None:
                        x = resampler.resample_chunk(np.ascontiguousarray(x), last=last)
                    if len(x):
                        yield np.ascontiguousarray(x, dtype=np.float32)
                    if last:
                        return
        except (sf.LibsndfileError, RuntimeError) as e:
            raise S2SError(f"{self.name}: cannot decode ({e}); the file is corrupt") from None

    def _sox(self):
        import shutil

        sox = shutil.which("sox")
        if sox is None:
            raise S2SError(f"{self.name}: not a format libsndfile reads, and sox is not installed to convert it "
                           f"(apt-get install sox libsox-fmt-all)")
        cmd = [sox, "-V1", self.spec, "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
               "-r", str(self.sample_rate), "-"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        got = 0
        try:
            while True:
                data = proc.stdout.read(4 * self.block)
                if not data:
                    break
                x = np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
                got += len(x)
                yield x.copy()
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode("utf-8", "replace").strip()
            proc.stderr.close()
            code = proc.wait()
        if code != 0 or got == 0:
            reason = err.splitlines()[-1] if err else f"sox exit code {code}"
            raise S2SError(f"{self.name}: not readable audio ({reason})")
        self.notes.append("converted by sox")
