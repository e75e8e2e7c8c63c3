"""Training throughput of a recipe config: seconds of audio trained per wall-clock second.

Runs the real trainer (s2s.train.trainer.Trainer: data loading, bucketing, model,
CTC loss, optimizer, scheduler) for a fixed number of steps on a synthetic data dir
whose utterance lengths follow egs/mini's (1-5 s, 10 ms frames), once per
precision, in the same run: fp32 is the reference, the others are reported as
ratios to it.

    python benchmarks/train_throughput.py                          # CPU: fp32, bf16
    python benchmarks/train_throughput.py --device cuda            # GPU: fp32, fp16, bf16
    python benchmarks/train_throughput.py --config egs/librispeech/conf/quartznet15x5.yaml --input-dim 64
    python benchmarks/train_throughput.py --device cuda --compile both --batch-frames 40000 --max-batch-size 32

On CUDA it also reports the peak memory per precision and the model FLOP utilisation: the
FLOPs of one training step (forward and backward, counted by torch.utils.flop_counter on one
batch, per second of audio) times the audio per second, against the GPU's dense peak for that
precision (--peak-tflops, or the table below for H100/H200/A100). Recurrent layers (cuDNN GRU)
are not counted by the FLOP counter, so a DeepSpeech2's utilisation is understated.

Last line: ``RESULT fp32_audio_s_per_s=... bf16_audio_s_per_s=... bf16_speedup=...`` (plus
``<precision>[_compile]_peak_mib`` and ``_mfu`` on CUDA).
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


def make_data(root: Path, n: int, dim: int, seed: int = 0, max_frames: int = 470) -> tuple[Path, Path]:
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
            frames = rng.randint(min(100, max_frames), max_frames)
            utt = f"u{i:05d}"
            w(utt, np.random.default_rng(i).standard_normal((frames, dim)).astype(np.float32))
            texts[utt] = "".join(rng.choice(letters) for _ in range(frames // 10)).strip() or "a"
            lens[utt] = frames
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(texts.items())))
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in sorted(lens.items())))
    lang = root / "lang"
    build_vocabulary(list(texts.values()), "char").save(lang)
    return d, lang


# Dense peak TFLOPS (NVIDIA data sheets, SXM parts): bf16/fp16 tensor cores, tf32, fp32.
PEAK_TFLOPS = {"H100": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
               "H200": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
               "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}}


def step_flops_per_audio_s(trainer, task, device: str) -> float:
    """FLOPs of one training step (forward + backward) per second of audio, on one batch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    batch = task.collate([trainer.train_set[i] for i in trainer.sampler.epoch_global_batches(0)[0]])
    batch = trainer._to_device(batch)
    audio = float(batch["lengths"].sum()) * 0.01
    with FlopCounterMode(display=False) as counter:
        loss, _, _ = task.forward_loss(trainer.model, batch)
        loss.backward()
    trainer.optimizer.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return counter.get_total_flops() / audio


def measure(conf: dict, precision: str, device: str, steps: int, warmup: int,
            compiled: bool = False) -> tuple[float, float | None, float]:
    """(audio seconds per second, peak MiB on CUDA or None, training FLOPs per audio second)."""
    import torch

    from s2s.tasks import TASKS
    from s2s.train.distributed import DistInfo
    from s2s.train.trainer import Trainer, seed_everything

    conf = copy.deepcopy(conf)
    conf.update(precision=precision, max_steps=warmup, device=device, compile=compiled)
    seed_everything(conf["seed"])
    task = TASKS.get("asr")(conf)
    with tempfile.TemporaryDirectory() as exp:
        trainer = Trainer(conf, exp, task, DistInfo(device=torch.device(device)))
        trainer.setup()
        flops = step_flops_per_audio_s(trainer, task, device)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        trainer.train()  # warm-up steps (allocator, kernels, compilation)
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
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return frames * 0.01 / elapsed, peak, flops


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
    p.add_argument("--precisions", default=None, help="comma list (default: fp32,bf16 on CPU, fp32,fp16,bf16 on CUDA)")
    p.add_argument("--compile", choices=["off", "on", "both"], default="off", help="torch.compile the model")
    p.add_argument("--batch-frames", type=int, default=None, help="override the config's batch_frames")
    p.add_argument("--max-batch-size", type=int, default=None, help="override the config's max_batch_size")
    p.add_argument("--max-frames", type=int, default=470, help="longest synthetic utterance in frames")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense peak for MFU (all precisions)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.config) as f:
        base = yaml.safe_load(f)
    with tempfile.TemporaryDirectory() as tmp:
        data, lang = make_data(Path(tmp), args.utts, args.input_dim, max_frames=args.max_frames)
        from s2s.config import merge
        from s2s.tasks.launch import full_defaults

        conf = merge(full_defaults("asr"), base)
        conf.update(train_data=str(data), valid_data=None, token_list=str(lang), cmvn="utterance",
                    sortagrad=False, ckpt_every_steps=0, log_every_steps=10**9, max_epochs=10**6,
                    specaug_conf=None, noise_conf=None, scheduler="constant", scheduler_conf={})
        if args.batch_frames:
            conf["batch_frames"] = args.batch_frames
        if args.max_batch_size:
            conf["max_batch_size"] = args.max_batch_size
        default = "fp32,bf16" if args.device == "cpu" else "fp32,fp16,bf16"
        precisions = (args.precisions or default).split(",")
        modes = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
        results = {}
        for prec in precisions:
            for compiled in modes:
                key = prec + ("_compile" if compiled else "")
                results[key] = measure(conf, prec, args.device, args.steps, args.warmup, compiled)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else ""
    peaks = next((v for k, v in PEAK_TFLOPS.items() if k in gpu), None)
    print(f"config: {args.config}  device: {args.device} {gpu}  threads: {torch.get_num_threads()}  "
          f"steps: {args.steps} (after {args.warmup} warm-up)")
    first = next(iter(results))
    ref = results[first][0]
    print(f"{'precision':14s} {'audio s / s':>12s} {'vs ' + first:>8s} {'peak MiB':>9s} {'TFLOP/s':>8s} {'MFU':>6s}")
    fields = []
    for key, (rate, peak, flops) in results.items():
        achieved = rate * flops / 1e12
        prec = key.split("_")[0]
        top = args.peak_tflops or (peaks or {}).get(prec)
        mfu = achieved / top if top else None
        print(f"{key:14s} {rate:12.1f} {rate / ref:8.2f}x {peak if peak is not None else float('nan'):9.0f} "
              f"{achieved:8.2f} {mfu if mfu is not None else float('nan'):6.1%}")
        fields.append(f"{key}_audio_s_per_s={rate:.1f}")
        if key != first:
            fields.append(f"{key}_speedup={rate / ref:.2f}")
        if peak is not None:
            fields.append(f"{key}_peak_mib={peak:.0f}")
        if mfu is not None:
            fields.append(f"{key}_mfu={mfu:.3f}")
    print("RESULT device=" + args.device + " " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
