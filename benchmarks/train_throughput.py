"""Training throughput of a recipe config: seconds of audio trained per wall-clock second.

Runs the real trainer (s2s.train.trainer.Trainer: data loading, bucketing, model,
CTC loss, optimizer, scheduler) for a fixed number of steps on a synthetic data dir
whose utterance lengths follow egs/mini's (1-5 s, 10 ms frames), once per
precision, in the same run: fp32 is the reference, the others are reported as
ratios to it.

    python benchmarks/train_throughput.py                          # CPU: fp32, bf16
    python benchmarks/train_throughput.py --device cuda            # GPU: fp32, fp16, bf16
    python benchmarks/train_throughput.py --config egs/librispeech/conf/quartznet15x5.yaml --input-dim 64

Last line: ``RESULT fp32_audio_s_per_s=... bf16_audio_s_per_s=... bf16_speedup=...``.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_data(root: Path, n: int, dim: int, seed: int = 0) -> tuple[Path, Path]:
    import kaldiio
    import numpy as np

    from s2s.data.tokens import build_vocabulary

    rng = random.Random(seed)
    d = root / "train"
    d.mkdir(parents=True)
    letters = "abcdefghijklmnopqrstuvwxyz "
    texts, lens = {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        for i in range(n):
            frames = rng.randint(100, 470)
            utt = f"u{i:05d}"
            w(utt, np.random.default_rng(i).standard_normal((frames, dim)).astype(np.float32))
            texts[utt] = "".join(rng.choice(letters) for _ in range(frames // 10)).strip() or "a"
            lens[utt] = frames
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(texts.items())))
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in sorted(lens.items())))
    lang = root / "lang"
    build_vocabulary(list(texts.values()), "char").save(lang)
    return d, lang


def measure(conf: dict, precision: str, device: str, steps: int, warmup: int) -> float:
    import torch

    from s2s.tasks import TASKS
    from s2s.train.distributed import DistInfo
    from s2s.train.trainer import Trainer, seed_everything

    conf = copy.deepcopy(conf)
    conf.update(precision=precision, max_steps=warmup, device=device)
    seed_everything(conf["seed"])
    task = TASKS.get("asr")(conf)
    with tempfile.TemporaryDirectory() as exp:
        trainer = Trainer(conf, exp, task, DistInfo(device=torch.device(device)))
        trainer.setup()
        trainer.train()  # warm-up steps (allocator, kernels)
        start_step = trainer.step
        batches = trainer.sampler.epoch_global_batches(trainer.epoch)
        pos = trainer.batch_pos
        frames = sum(trainer.train_set.lengths[i] for b in batches[pos:pos + steps] for i in b)
        trainer.conf["max_steps"] = warmup + steps
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.train()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        assert trainer.step - start_step == steps
    return frames * 0.01 / elapsed


def main() -> int:
    import torch
    import yaml

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(ROOT / "egs/mini/conf/train.yaml"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--input-dim", type=int, default=40)
    p.add_argument("--utts", type=int, default=400)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads on CPU (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.config) as f:
        base = yaml.safe_load(f)
    with tempfile.TemporaryDirectory() as tmp:
        data, lang = make_data(Path(tmp), args.utts, args.input_dim)
        from s2s.config import merge
        from s2s.tasks.launch import full_defaults

        conf = merge(full_defaults("asr"), base)
        conf.update(train_data=str(data), valid_data=None, token_list=str(lang), cmvn="utterance",
                    sortagrad=False, ckpt_every_steps=0, log_every_steps=10**9, max_epochs=10**6,
                    specaug_conf=None, scheduler="constant", scheduler_conf={})
        precisions = ["fp32", "bf16"] if args.device == "cpu" else ["fp32", "fp16", "bf16"]
        results = {}
        for prec in precisions:
            results[prec] = measure(conf, prec, args.device, args.steps, args.warmup)
    print(f"config: {args.config}  device: {args.device}  threads: {torch.get_num_threads()}  "
          f"steps: {args.steps} (after {args.warmup} warm-up)")
    print(f"{'precision':10s} {'audio s / s':>12s} {'vs fp32':>8s}")
    for prec, v in results.items():
        print(f"{prec:10s} {v:12.1f} {v / results['fp32']:8.2f}x")
    fields = [f"{k}_audio_s_per_s={v:.1f}" for k, v in results.items()]
    fields += [f"{k}_speedup={v / results['fp32']:.2f}" for k, v in results.items() if k != "fp32"]
    print("RESULT device=" + args.device + " " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
