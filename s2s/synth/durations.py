"""Symbol durations from a trained TTS teacher's attention, for FastSpeech (s2s.models.fastspeech).

The teacher (an s2s Tacotron 2 or Centaur) runs teacher-forced over each utterance's log-mel,
trimmed exactly as the student's training trims it; its attention (decoder steps x symbols,
each step spanning r frames) is spread over the frames, and the monotonic path through it
with the most log-attention that visits every symbol in order for at least one frame
(``s2s.models.aligner.monotonic_durations``, the dynamic programme of Glow-TTS's monotonic
alignment search, Kim et al., 2020, arXiv 2005.11129) gives each symbol its frames. FastSpeech (Ren et al.,
2019) counted the frames where a symbol had the most attention instead; that count can
go backwards and leave a symbol with nothing, the path cannot.

Writes DATA/durations (or ``out``): ``utt d_1 ... d_N``, one count of frames per symbol of
the utterance's symbol sequence (end of sentence included), summing to its trimmed frames.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError
from s2s.models.aligner import monotonic_durations

log = logging.getLogger("s2s.durations")


def frame_attention(alignment: torch.Tensor, frames: int, symbols: int, r: int) -> np.ndarray:
    """Per-frame log attention (frames, symbols) from decoder-step attention (steps, >= symbols):
    a step's attention is placed at the middle of its r frames and interpolated linearly between
    the middles, so that a symbol boundary can fall inside a step's frames."""
    a = alignment[:, :symbols].float()
    pos = ((torch.arange(frames, dtype=torch.float32) + 0.5) / r - 0.5).clamp(0, a.shape[0] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=a.shape[0] - 1)
    w = (pos - lo)[:, None]
    return torch.log(((1 - w) * a[lo] + w * a[hi]).clamp_min(1e-8)).numpy()


def extract(model_path, data_dirs: list[str], trim_silence_db: float, out: list[str] | None = None,
            batch_size: int = 16, seed: int = 0, pitch: bool = True) -> list[str]:
    """Write the durations of every utterance of each data dir (to DIR/durations or the matching
    ``out``) and, with ``pitch``, each symbol's mean F0 beside them (DIR/pitch, or ``out`` + ".pitch");
    returns the duration paths written."""
    from s2s.data.datadir import DataDir
    from s2s.data.features import build_frontend
    from s2s.data.sources import FeatureSource, dumped_frontend_conf
    from s2s.data.tokens import Vocabulary
    from s2s.io import atomic_open
    from s2s.models.checkpoint import load_model
    from s2s.models.tts import diagonal_score
    from s2s.tasks.tts import TtsDataset, make_collate

    teacher, meta = load_model(model_path, "cpu", task="tts")
    if not hasattr(teacher, "stop_proj"):
        raise S2SError(f"{model_path}: a {meta['model']['name']} model has no attention to take durations from; "
                       f"give a Tacotron 2 or Centaur checkpoint")
    if out is not None and len(out) != len(data_dirs):
        raise S2SError(f"--out: {len(out)} paths for {len(data_dirs)} data dirs; give one per data dir")
    missing = [DataDir(d).file("wav.scp") for d in data_dirs if pitch and not DataDir(d).file("wav.scp").is_file()]
    if missing:
        raise S2SError(f"{missing[0]}: not found; the pitch is tracked on the audio (give the data dir its "
                       f"wav.scp, or extract the durations without pitch: --no-pitch)")
    vocab = Vocabulary.from_dict(meta["vocab"], source=f"{model_path} (vocabulary)")
    speakers = {s: i for i, s in enumerate(meta["speakers"])}
    r = teacher.r
    collate = make_collate(r, vocab.pad_id)
    written = []
    for k, d in enumerate(data_dirs):
        conf = dumped_frontend_conf(d) or meta["frontend_conf"]
        data = TtsDataset([d], FeatureSource(build_frontend(conf)), speakers, vocab, 0, trim_silence_db)
        unknown = sorted({s for s in DataDir(d).utt2spk().values() if s not in speakers})
        if unknown:
            raise S2SError(f"{DataDir(d).file('utt2spk')}: speaker(s) {' '.join(unknown[:5])} not among "
                           f"{model_path}'s speakers; the teacher must have been trained on them")
        order = sorted(range(len(data)), key=lambda i: data.lengths[i])
        lines, diag, short = {}, [], 0
        torch.manual_seed(seed)  # Tacotron 2's prenet dropout is on in eval mode too
        for start in range(0, len(order), batch_size):
            items = [data[i] for i in order[start:start + batch_size]]
            batch = collate(items)
            with torch.no_grad():
                _, _, _, align = teacher(batch["symbols"], batch["symbol_lengths"], batch["mels"],
                                         batch["mel_lengths"], batch["speakers"])
            for b, item in enumerate(items):
                frames, n = int(batch["mel_lengths"][b]), int(batch["symbol_lengths"][b])
                steps = -(-frames // r)
                diag.append(diagonal_score(align[b].cpu(), n, steps))
                la = frame_attention(align[b, :steps].cpu(), frames, n, r)
                if frames < n:  # fewer frames than symbols: share them out by the attention's argmax
                    dur = np.bincount(la.argmax(1), minlength=n)
                    short += 1
                else:
                    dur = monotonic_durations(la)
                lines[item["id"]] = " ".join(str(int(x)) for x in dur)
        path = Path(out[k]) if out else Path(d) / "durations"
        pitch_path = Path(f"{out[k]}.pitch") if out else Path(d) / "pitch"
        if pitch_path.is_file():  # it belongs to the durations being replaced
            pitch_path.unlink()
            log.info("%s: removed with the durations it belonged to%s", pitch_path,
                     "" if pitch else " (--no-pitch)")
        with atomic_open(path) as f:
            for utt in sorted(lines):
                f.write(f"{utt} {lines[utt]}\n")
        log.info("%s: durations of %d utterances (teacher attention diagonal score %.3f on average%s)", path,
                 len(lines), float(np.mean(diag)) if diag else 0.0,
                 f"; {short} with fewer frames than symbols" if short else "")
        written.append(str(path))
        if pitch:
            write_pitch(pitch_path, d, data, {u: [int(x) for x in v.split()] for u, v in lines.items()},
                        trim_silence_db)
    return written


def write_pitch(path: Path, data_dir: str, data, durations: dict[str, list[int]], trim_silence_db: float) -> None:
    """DATA/pitch: ``utt f_1 ... f_N``, the mean F0 in Hz of the voiced frames of each symbol's
    frames (0: none voiced), from the data dir's audio at the log-mel frames' centres, trimmed as
    the log-mels are."""
    from s2s.data.audio import iter_datadir_audio
    from s2s.io import atomic_open
    from s2s.synth.pitch import frame_pitch, symbol_pitch
    from s2s.tasks.tts import trim_bounds

    frontend = data.features.frontend
    sr, hop = int(frontend.conf["sample_rate"]), int(frontend.hop)
    index = {u: i for i, u in enumerate(data.ids)}
    lines, voiced = {}, []
    for utt, wav, _ in iter_datadir_audio(data_dir, target_sr=sr, resample=bool(frontend.conf.get("resample")),
                                          utts=durations):
        mel = data.features.load(data._src[index[utt]])
        start, end = trim_bounds(mel, trim_silence_db)
        f0 = frame_pitch(wav, sr, hop, mel.shape[0])[start:end]
        p = symbol_pitch(f0, durations[utt])
        voiced.append(float((p > 0).mean()))
        lines[utt] = " ".join(f"{x:.1f}" for x in p)
    with atomic_open(path) as f:
        for utt in sorted(lines):
            f.write(f"{utt} {lines[utt]}\n")
    log.info("%s: per-symbol pitch of %d utterances (%.0f %% of symbols voiced)", path, len(lines),
             100 * float(np.mean(voiced)) if voiced else 0.0)
