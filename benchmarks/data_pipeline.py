"""How fast the training input pipeline delivers audio, and whether that keeps a GPU busy.

The full path the trainer runs (s2s.tasks.asr dataset -> s2s.data.batching.BucketSampler ->
DataLoader with the task's collate, pinned memory on a CUDA machine) over one epoch of a
synthetic LibriSpeech-like training set (utterances of 2-16 s), in two forms:

- dumped: 64 log-mel features in ark/scp (kaldiio), read as the recipes train by default;
- flac:   FLAC files decoded, speed-perturbed (0.9/1.0/1.1, as jasper10x5_dr.yaml) and turned
  into log-mel features by the front end on the fly, in the DataLoader workers.

For each form and each number of DataLoader workers it prints the audio seconds delivered per
wall-clock second, and per core (workers, or 1 for in-process loading). The reference is what
Jasper 10x5 consumes on one GPU: measured with --gpu-consumption when a GPU is there, else
NVIDIA's published A100 80GB mixed-precision figure (DeepLearningExamples PyTorch Jasper README,
commit 706ef49: 75.59 sequences/s at batch 64 on one GPU, x 12.3 s per LibriSpeech training
utterance = 930 audio-s/s). headroom = per-core rate x --cores-per-gpu (16, a DGX's share) /
consumption; goals: >= 10 from dumped features, >= 2 from FLAC.

    python benchmarks/data_pipeline.py [--utts 240] [--workers 0,1,2] [--cores-per-gpu 16]

Last line: ``RESULT audio_s_per_s_per_core=<dumped> flac_audio_s_per_s_per_core=... headroom=...
flac_headroom=...``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

A100_SEQ_PER_S = 75.59      # DeepLearningExamples Jasper README, A100 80GB, AMP, batch 64, 1 GPU
MEAN_UTT_S = 12.3           # LibriSpeech 960 h: 281,241 utterances, 961 h
LOGMEL = ROOT / "egs" / "librispeech" / "conf" / "logmel64.yaml"


def make_corpus(root: Path, n: int, seed: int = 0) -> tuple[Path, Path, Path, float]:
    """(dumped data dir, flac data dir, lang dir, total audio seconds)."""
    import numpy as np
    import soundfile as sf
    import yaml

    from s2s.data.dump import dump_features
    from s2s.data.features import build_frontend
    from s2s.data.tokens import build_vocabulary

    rng = np.random.default_rng(seed)
    flac, dumped, wavs = root / "flac", root / "dumped", root / "audio"
    for d in (flac, dumped, wavs):
        d.mkdir(parents=True)
    letters = list("abcdefghijklmnopqrstuvwxyz ")
    texts, total = {}, 0.0
    for i in range(n):
        dur = float(rng.uniform(2.0, 16.0))
        total += dur
        t = np.arange(int(dur * 16000)) / 16000
        x = 0.2 * np.sin(2 * np.pi * (150 + 100 * np.sin(t)) * t) + 0.02 * rng.standard_normal(len(t))
        utt = f"spk{i % 20:02d}-{i:05d}"
        sf.write(wavs / f"{utt}.flac", x.astype(np.float32), 16000)
        texts[utt] = "".join(rng.choice(letters, int(dur * 14))).strip() or "a"
    for d in (flac, dumped):
        (d / "wav.scp").write_text("".join(f"{u} {wavs / u}.flac\n" for u in sorted(texts)))
        (d / "text").write_text("".join(f"{u} {texts[u]}\n" for u in sorted(texts)))
        (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in sorted(texts)))
    conf = yaml.safe_load(LOGMEL.read_text())
    dump_features(build_frontend(conf), dumped, root / "ark")
    (dumped / "feats.scp").write_text((root / "ark" / "feats.1.scp").read_text())
    (dumped / "utt2num_frames").write_text((root / "ark" / "feats.utt2num_frames.1").read_text())
    (dumped / "frontend.yaml").write_text(yaml.safe_dump(conf))
    build_vocabulary(list(texts.values()), "char").save(root / "lang")
    return dumped, flac, root / "lang", total


def deliver(data: Path, lang: Path, workers: int, augment: bool) -> tuple[float, float]:
    """(audio seconds, wall seconds) of one epoch through the trainer's input path."""
    import torch
    import yaml

    from s2s.data.batching import BucketSampler
    from s2s.tasks.base import TASKS
    from s2s.tasks.launch import full_defaults

    conf = dict(full_defaults("asr"), train_data=str(data), token_list=str(lang), cmvn="utterance",
                frontend_conf=yaml.safe_load(LOGMEL.read_text()), batch_frames=40000, max_batch_size=32,
                num_workers=workers, noise_conf=[{"type": "speed", "factors": [0.9, 1.0, 1.1]}] if augment else None)
    task = TASKS.get("asr")(conf)
    ds = task.dataset("train")
    sampler = BucketSampler(ds.lengths, conf["batch_frames"], conf["max_batch_size"], seed=1, sortagrad=False)
    ds.set_epoch(1)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler.epoch_global_batches(1), collate_fn=task.collate,
                                         num_workers=workers, pin_memory=torch.cuda.is_available(),
                                         persistent_workers=False)
    audio = 0.0
    t0 = time.perf_counter()
    for batch in loader:
        audio += float(batch["lengths"].sum()) * task.frontend.frame_shift
    return audio, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--utts", type=int, default=240)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--cores-per-gpu", type=int, default=16)
    p.add_argument("--gpu-consumption", type=float, default=None,
                   help="Jasper 10x5 audio-s/s on this machine's GPU (benchmarks/gpu_check.sh measures it)")
    a = p.parse_args()
    import torch

    torch.set_num_threads(1)
    consumption = a.gpu_consumption or A100_SEQ_PER_S * MEAN_UTT_S
    source = "measured" if a.gpu_consumption else "published A100 80GB AMP figure (DeepLearningExamples)"
    print(f"GPU consumption, Jasper 10x5: {consumption:.0f} audio-s/s ({source}); "
          f"{a.cores_per_gpu} CPU cores per GPU")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        dumped, flac, lang, total = make_corpus(Path(tmp), a.utts)
        print(f"corpus: {a.utts} utterances, {total / 3600:.2f} h ({time.perf_counter() - t0:.0f} s to make)")
        best: dict[str, float] = {}
        for form, data, augment in (("dumped", dumped, False), ("flac", flac, True)):
            for w in [int(x) for x in a.workers.split(",")]:
                audio, wall = deliver(data, lang, w, augment)
                rate = audio / wall
                per_core = rate / max(1, w)
                best[form] = max(best.get(form, 0.0), per_core)
                print(f"{form:6s} workers {w}: {rate:9.0f} audio-s/s, {per_core:9.0f} per core "
                      f"({audio:.0f} s of audio in {wall:.2f} s)")
    head = {k: v * a.cores_per_gpu / consumption for k, v in best.items()}
    print(f"headroom with {a.cores_per_gpu} cores: dumped {head['dumped']:.1f}x (goal 10x), "
          f"flac + speed perturbation {head['flac']:.1f}x (goal 2x)")
    print(f"RESULT audio_s_per_s_per_core={best['dumped']:.0f} flac_audio_s_per_s_per_core={best['flac']:.0f} "
          f"headroom={head['dumped']:.1f} flac_headroom={head['flac']:.1f} consumption={consumption:.0f}")


if __name__ == "__main__":
    main()
