"""Pitch for FastPitch-style conditioning: F0 per log-mel frame, averaged per symbol.

FastPitch (Lancucki, 2021, arXiv 2006.06873; NeMo's FastPitch) conditions a non-autoregressive
TTS on the mean fundamental frequency of each input symbol: in training the mean of the
voiced frames of the symbol's span (its durations), for synthesis a predictor's estimate.
A speaker whose F0 moves within a sentence then no longer has to be averaged over all the
contours the same text was spoken with, which blurs the harmonics of the predicted spectra.

F0 comes from Praat's autocorrelation pitch tracker (Boersma, 1993) through Parselmouth,
sampled at the centres of the log-mel frames (frame i is centred on sample i * hop); 0 marks
an unvoiced frame. A symbol none of whose frames is voiced gets 0.
"""

from __future__ import annotations

import numpy as np

from s2s.errors import S2SError

PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 600.0


def frame_pitch(wav: np.ndarray, sample_rate: int, hop: int, n_frames: int,
                floor: float = PITCH_FLOOR_HZ, ceiling: float = PITCH_CEILING_HZ) -> np.ndarray:
    """F0 in Hz (n_frames,) at the centres of centred STFT frames with ``hop`` samples between
    them; 0 where the frame is unvoiced or outside the tracker's frames."""
    try:
        import parselmouth
    except ImportError as e:
        raise S2SError("pitch needs Praat's tracker from the praat-parselmouth package: pip install "
                       "praat-parselmouth (or extract durations without pitch: --no-pitch)") from e

    out = np.zeros(n_frames, dtype=np.float32)
    if wav.size == 0 or n_frames == 0:
        return out
    sound = parselmouth.Sound(np.asarray(wav, dtype=np.float64), sampling_frequency=sample_rate)
    try:
        pitch = sound.to_pitch_ac(time_step=hop / sample_rate, pitch_floor=floor, pitch_ceiling=ceiling)
    except parselmouth.PraatError:  # shorter than the tracker's window (3 periods of the floor)
        return out
    f0 = pitch.selected_array["frequency"]
    if len(f0) == 0:
        return out
    # the nearest tracker frame, ties up (rint's ties-to-even would alternate when the tracker's
    # first frame falls half a frame off our grid)
    k = np.floor((np.arange(n_frames) * hop / sample_rate - pitch.x1) / pitch.dx + 0.5).astype(np.int64)
    inside = (k >= 0) & (k < len(f0))
    out[inside] = f0[k[inside]]
    return out


def symbol_pitch(f0: np.ndarray, durations) -> np.ndarray:
    """Mean F0 of the voiced frames of each symbol's span (N,); 0 for a symbol with none.
    ``durations`` (N,) must sum to len(f0)."""
    import torch

    from s2s.models.fastspeech import mean_pitch

    d = np.asarray(durations, dtype=np.int64)
    if int(d.sum()) != len(f0):
        raise ValueError(f"durations sum to {int(d.sum())} frames, the F0 has {len(f0)}")
    out = mean_pitch(torch.as_tensor(np.asarray(f0, dtype=np.float32))[None], torch.from_numpy(d)[None],
                     torch.tensor([len(f0)]))
    return out[0].numpy()


def write_frame_pitch(data_dirs: list[str], out: list[str] | None = None, frontend_conf: dict | None = None) -> list[str]:
    """Write DATA/f0 (or the matching ``out``) for each data dir: ``utt f_1 ... f_T``, the F0 in Hz
    (0: unvoiced) of each of the utterance's log-mel frames before any silence trimming, for
    FastPitch with the aligner (s2s.models.fastspeech), which averages it per symbol over the
    durations it finds. The frames are those of the dumped features (DATA/frontend.yaml), or of
    ``frontend_conf`` for a data dir without them. Returns the paths written."""
    import logging
    from pathlib import Path

    from s2s.data.audio import iter_datadir_audio
    from s2s.data.datadir import DataDir
    from s2s.data.features import build_frontend
    from s2s.data.sources import dumped_frontend_conf
    from s2s.io import atomic_open

    log = logging.getLogger("s2s.pitch")
    if out is not None and len(out) != len(data_dirs):
        raise S2SError(f"--out: {len(out)} paths for {len(data_dirs)} data dirs; give one per data dir")
    confs = []
    for d in data_dirs:
        dd = DataDir(d)
        if not dd.file("wav.scp").is_file():
            raise S2SError(f"{dd.file('wav.scp')}: not found; the F0 is tracked on the audio")
        conf = dumped_frontend_conf(d) or frontend_conf
        if conf is None or conf.get("type") != "logmel":
            where = f"{dd.file('frontend.yaml')}" if dumped_frontend_conf(d) else f"{dd.path}"
            raise S2SError(f"{where}: no logmel front end; the F0 is taken at the TTS's log-mel frames: dump "
                           f"logmel features into the data dir (utils/make_feats.sh) or give the TTS's log-mel "
                           f"settings (--frontend-conf conf/tts_logmel.yaml)")
        confs.append(conf)
    written = []
    for k, d in enumerate(data_dirs):
        dd = DataDir(d)
        frontend = build_frontend(confs[k])
        sr, hop = int(frontend.conf["sample_rate"]), int(frontend.hop)
        dumped = dd.table("utt2num_frames", required=False) if dd.has("feats.scp") else {}
        lines, voiced = {}, []
        for utt, wav, _ in iter_datadir_audio(d, target_sr=sr, resample=bool(frontend.conf.get("resample"))):
            n = int(dumped[utt]) if utt in dumped else frontend.num_frames(len(wav))
            f0 = frame_pitch(wav, sr, hop, n)
            voiced.append(float((f0 > 0).mean()) if n else 0.0)
            lines[utt] = " ".join("0" if x <= 0 else f"{x:.1f}" for x in f0)
        path = Path(out[k]) if out else Path(d) / "f0"
        with atomic_open(path) as f:
            for utt in sorted(lines):
                f.write(f"{utt} {lines[utt]}\n")
        log.info("%s: F0 of %d utterances (%.0f %% of frames voiced)", path, len(lines),
                 100 * float(np.mean(voiced)) if voiced else 0.0)
        written.append(str(path))
    return written
