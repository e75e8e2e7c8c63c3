"""Dump features of a data directory to Kaldi ark/scp, one job's share at a time.

Job J of N takes ``DIR/split{N}/{J}`` when that exists (utils/split_data.sh),
otherwise the J-th contiguous slice of the sorted utterance list. Writes
``OUT/NAME.J.ark``, ``OUT/NAME.J.scp`` (absolute ark paths, sorted) and
``OUT/NAME.utt2num_frames.J``; each appears under its final name only when
complete, the scp last. Dither noise is seeded per utterance from ``seed`` and
the utterance id, so results do not depend on the number of jobs.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch

from s2s.data.audio import iter_datadir_audio
from s2s.data.datadir import DataDir, write_table
from s2s.data.features import Frontend
from s2s.errors import S2SError
from s2s.io import atomic_path

# Kaldi's compression method for features (kSpeechFeature), what --compress=true picks for them.
KALDI_SPEECH_FEATURE_COMPRESSION = 2


def job_data(data: Path, nj: int, job: int) -> tuple[Path, list[str]]:
    """The data dir and sorted utterance ids of job ``job`` (1-based) of ``nj``."""
    if not 1 <= job <= nj:
        raise S2SError(f"--job {job} is outside 1..{nj} (--nj {nj})")
    split = data / f"split{nj}" / str(job)
    if nj > 1 and split.is_dir():
        dd = DataDir(split)
        return split, sorted(dd.segments() or dd.wav_scp())
    dd = DataDir(data)
    utts = sorted(dd.segments() or dd.wav_scp())
    return data, utts[(job - 1) * len(utts) // nj: job * len(utts) // nj]


def utt_generator(seed: int, utt: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(utt.encode("utf-8")))


def dump_features(frontend: Frontend, data: Path, out_dir: Path, nj: int = 1, job: int = 1,
                  compress: bool = False, name: str = "feats") -> int:
    """Compute and write job ``job``'s features; return the number of utterances written."""
    import kaldiio

    if not name or "/" in name or name.startswith("."):
        raise S2SError(f"--name {name!r}: give a plain file name prefix such as feats_train")
    src, utts = job_data(data, nj, job)
    out_dir.mkdir(parents=True, exist_ok=True)
    ark = (out_dir / f"{name}.{job}.ark").resolve()
    conf = frontend.conf
    scp_lines: dict[str, str] = {}
    num_frames: dict[str, str] = {}
    compression = KALDI_SPEECH_FEATURE_COMPRESSION if compress else None
    with atomic_path(ark) as tmp_ark, open(tmp_ark, "wb") as f:
        for utt, wav, sr in iter_datadir_audio(src, frontend.sample_rate, conf.get("resample", False), utts):
            feats = frontend.extract(wav, sr, generator=utt_generator(conf.get("seed", 0), utt)).numpy()
            if feats.shape[0] == 0:
                raise S2SError(
                    f"{src}/wav.scp: {utt}: {len(wav) / sr:.3f} s of audio gives no {conf['type']} frames; "
                    f"remove the utterance (utils/subset_data_dir.sh / fix_data_dir.sh)"
                )
            # The scp offset points just past "utt " (Kaldi's convention, which kaldiio follows).
            offset = f.tell() + len(utt.encode("utf-8")) + 1
            kaldiio.save_ark(f, {utt: feats}, compression_method=compression)
            scp_lines[utt] = f"{ark}:{offset}"
            num_frames[utt] = str(feats.shape[0])
    write_table(out_dir / f"{name}.utt2num_frames.{job}", num_frames)
    write_table(out_dir / f"{name}.{job}.scp", scp_lines)
    return len(scp_lines)
