"""Training-step speed and peak memory of the CTC acoustic models, per precision.

For each model and precision this runs forward + CTC loss + backward on a fixed
random batch and reports throughput in seconds of audio per wall-clock second
(10 ms frames) and peak memory: on CUDA the allocator's peak; on CPU the peak
resident set of a fresh worker process minus its size before the model was
built (so it counts weights, gradients and activations). Each measurement runs
in its own process so peaks do not mix.

    python benchmarks/models.py                       # short CPU run: fp32 and bf16 autocast
    python benchmarks/models.py --device cuda         # fp32, fp16, bf16 autocast
    python benchmarks/models.py --models quartznet15x5 --batch 8 --seconds 10 --iters 10

The last line is ``RESULT key=value ...`` with ``<model>_<dtype>_audio_s_per_s``
and ``<model>_<dtype>_peak_mib`` for every measurement.

Latest default run (CPU, 1 thread, on a shared 2-core machine under load ~11, so
noisy; batch 2, 2 timed steps):

    model                    params dtype  audio  step s  audio s/s  peak MiB
    quartznet15x5             18.9M  fp32   2.0s   2.937       1.36       443
    quartznet15x5             18.9M  bf16   2.0s   2.291       1.75       391
    jasper10x5dr             332.6M  fp32   0.5s  10.766       0.09      2836
    jasper10x5dr             332.6M  bf16   0.5s  11.511       0.09      3457
    wav2letter_plus_large    106.5M  fp32   1.0s   4.571       0.44      1099
    wav2letter_plus_large    106.5M  bf16   1.0s   4.046       0.49      1223
    ds2                       38.7M  fp32   1.0s   5.287       0.38       418
    ds2                       38.7M  bf16   1.0s   2.909       0.69       459
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME_SHIFT_S = 0.01
INPUT_DIM, VOCAB = 64, 29

# name -> (encoder, encoder_conf, seconds of audio per utterance in the default CPU run).
# Jasper 10x5 (333 M parameters) gets a short input so the default run stays short.
MODELS = {
    "quartznet15x5": ("quartznet", {"preset": "quartznet15x5"}, 2.0),
    "jasper10x5dr": ("jasper", {"preset": "jasper10x5dr"}, 0.5),
    "wav2letter_plus_large": ("wav2letter", {"preset": "wav2letter_plus_large"}, 1.0),
    "ds2": ("ds2", {}, 1.0),
}
DTYPES = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(model_name: str, dtype: str, device: str, batch: int, seconds: float, iters: int, warmup: int,
            threads: int) -> dict:
    """One measurement in this process: build, warm up, time ``iters`` training steps."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(ROOT))
    from s2s.models.asr import build_asr_model

    if threads > 0:
        torch.set_num_threads(threads)
    base_mib = rss_mib()
    torch.manual_seed(0)
    encoder, conf, _ = MODELS[model_name]
    model = build_asr_model(encoder, conf, INPUT_DIM, VOCAB, cmvn="none",
                            model_conf={"init": "default"}).to(device).train()
    frames = int(round(seconds / FRAME_SHIFT_S))
    feats = torch.randn(batch, frames, INPUT_DIM, device=device)
    lengths = torch.full((batch,), frames, dtype=torch.long, device=device)
    targets = torch.randint(1, VOCAB, (batch, max(1, frames // 8)), device=device)
    target_lengths = torch.full((batch,), targets.shape[1], dtype=torch.long, device=device)
    amp_dtype = getattr(torch, DTYPES[dtype]) if DTYPES[dtype] else None

    def step():
        with torch.autocast(device_type=device, dtype=amp_dtype, enabled=amp_dtype is not None):
            logp, out_lengths = model(feats, lengths)
        loss = F.ctc_loss(logp.transpose(0, 1), targets, out_lengths, target_lengths, zero_infinity=True)
        loss.backward()
        model.zero_grad(set_to_none=False)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    elapsed = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base_mib
    return {
        "model": model_name,
        "dtype": dtype,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "batch": batch,
        "seconds": seconds,
        "step_s": elapsed / iters,
        "audio_s_per_s": batch * seconds * iters / elapsed,
        "peak_mib": peak,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtypes", default=None, help="comma-separated; default fp32,bf16 on CPU, fp32,fp16,bf16 on CUDA")
    p.add_argument("--batch", type=int, default=None, help="utterances per batch (default 2 on CPU, 16 on CUDA)")
    p.add_argument("--seconds", type=float, default=None,
                   help="audio seconds per utterance for every model (default: per model on CPU, 15 on CUDA)")
    p.add_argument("--iters", type=int, default=None, help="timed steps (default 2 on CPU, 10 on CUDA)")
    p.add_argument("--warmup", type=int, default=1)
    # One thread by default: on a shared machine oversubscribed OpenMP threads make timings meaningless.
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        model_name, dtype = args.worker.split(":")
        print(json.dumps(measure(model_name, dtype, args.device, args.batch, args.seconds, args.iters,
                                 args.warmup, args.threads)))
        return 0

    cuda = args.device == "cuda"
    dtypes = (args.dtypes or ("fp32,fp16,bf16" if cuda else "fp32,bf16")).split(",")
    models = args.models.split(",")
    for name in models:
        if name not in MODELS:
            p.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for d in dtypes:
        if d not in DTYPES:
            p.error(f"unknown dtype {d!r}; choose from {', '.join(DTYPES)}")
    batch = args.batch or (16 if cuda else 2)
    iters = args.iters or (10 if cuda else 2)

    rows = []
    for name in models:
        seconds = args.seconds or (15.0 if cuda else MODELS[name][2])
        for dtype in dtypes:
            cmd = [sys.executable, __file__, "--worker", f"{name}:{dtype}", "--device", args.device,
                   "--batch", str(batch), "--seconds", str(seconds), "--iters", str(iters),
                   "--warmup", str(args.warmup), "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name} {dtype}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"  measured {name} {dtype}: {r['audio_s_per_s']:.2f} audio s/s", file=sys.stderr, flush=True)

    import torch

    threads = args.threads or torch.get_num_threads()  # what a worker with --threads 0 would use
    where = torch.cuda.get_device_name() if cuda else f"CPU, {threads} threads"
    print(f"forward+backward (CTC) on {where}; 10 ms frames, {INPUT_DIM} features, {VOCAB} outputs")
    header = (f"{'model':24s} {'params':>8s} {'dtype':>5s} {'batch':>5s} {'audio':>6s} {'step s':>8s} "
              f"{'audio s/s':>10s} {'peak MiB':>9s}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:24s} {r['params_m']:7.1f}M {r['dtype']:>5s} {r['batch']:5d} {r['seconds']:5.1f}s "
              f"{r['step_s']:8.3f} {r['audio_s_per_s']:10.2f} {r['peak_mib']:9.0f}")
    result = " ".join(
        f"{r['model']}_{r['dtype']}_audio_s_per_s={r['audio_s_per_s']:.3f} {r['model']}_{r['dtype']}_peak_mib={r['peak_mib']:.0f}"
        for r in rows
    )
    print(f"RESULT device={args.device} batch={batch} iters={iters} {result}")
    return 0 if len(rows) == len(models) * len(dtypes) else 1


if __name__ == "__main__":
    sys.exit(main())
