#!/usr/bin/env python3
"""The QuartzNet plateau study: which schedule / initialisation gets a small QuartzNet learning egs/mini.

Each variant is conf/train_quartznet_small.yaml with a few overrides, trained for --epochs
epochs into exp/qz_study/<variant>. From each train.log it reads the dev validation after every
epoch and reports, as a table in RESULTS.md ("QuartzNet on egs/mini"), how many epochs the
model sat on the CTC plateau (dev WER >= 95 %: the output is blanks or a few stray words) and the
dev WER / loss it reached. Variants run --jobs at a time, each with cpu_count/--jobs threads;
a variant whose log already holds all its validations is not re-run. --report-only writes
the table from the logs there are (a variant stopped early shows the epochs it ran).

Needs run.sh stages 0-3 (data/{train,dev}/feats.scp, data/lang). Usage (from egs/mini):
  local/quartznet_study.py [--epochs 5] [--jobs 2] [--variants paper adamw_lr2e-3 ...] [--report-only]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONFIG = "conf/train_quartznet_small.yaml"

def _blocks(kernels: list[int]) -> str:
    """The small QuartzNet's blocks (C1, B1-B5, C2, C3) with the given C1..C2 kernel sizes."""
    filters = [128, 128, 128, 192, 192, 192, 256]
    parts = [f"{{filters: {filters[0]}, kernel: {kernels[0]}, stride: 2, separable: true}}"]
    parts += [f"{{filters: {f}, kernel: {k}, repeat: 3, residual: true, separable: true}}"
              for f, k in zip(filters[1:6], kernels[1:6])]
    parts += [f"{{filters: {filters[6]}, kernel: {kernels[6]}, dilation: 2, separable: true}}", "{filters: 384, kernel: 1}"]
    return "{blocks: [" + ", ".join(parts) + "]}"


# The study's starting point, whatever the recipe config says now: the QuartzNet paper's kernel
# sizes (33-87, as in QuartzNet 5x3) and batches of 12000 frames (about 60 utterances, 48 steps
# an epoch) as in conf/train.yaml; the config supplies the optimiser, schedule and the rest.
PAPER_KERNELS = [33, 33, 39, 51, 63, 75, 87]
SMALL_KERNELS = [11, 11, 13, 17, 21, 25, 29]
BASE = ["--batch_frames", "12000", "--encoder_conf", _blocks(PAPER_KERNELS)]
PLATEAU_WER = 95.0

# name -> (what changes, overrides of CONFIG)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "paper": ("the QuartzNet paper's recipe: kernels 33-87, NovoGrad lr 0.01, betas 0.95/0.5, wd 1e-3, "
              "cosine with warmup 100, xavier init", []),
    "novograd_lr0.003": ("NovoGrad lr 0.003", ["--optim_conf.lr", "0.003"]),
    "novograd_lr0.03": ("NovoGrad lr 0.03", ["--optim_conf.lr", "0.03"]),
    "novograd_b2_0.98": ("NovoGrad betas 0.95/0.98 (Jasper's)", ["--optim_conf.betas", "[0.95, 0.98]"]),
    "no_warmup": ("no warmup", ["--scheduler_conf.warmup_steps", "0"]),
    "warmup_500": ("warmup 500 steps", ["--scheduler_conf.warmup_steps", "500"]),
    "adamw_lr2e-3": ("AdamW lr 0.002, wd 1e-3 (the Jasper-style mini config's optimiser)",
                     ["--optim", "adamw", "--optim_conf", "{lr: 0.002, weight_decay: 0.001}"]),
    "kaiming": ("kaiming_normal init", ["--model_conf.init", "kaiming_normal"]),
    "torch_init": ("PyTorch's default init", ["--model_conf.init", "default"]),
    "batch_4000": ("batch_frames 4000 (3x the updates per epoch)", ["--batch_frames", "4000"]),
    "utt_cmvn": ("per-utterance CMVN instead of global", ["--cmvn", "utterance"]),
    "small_kernels": ("kernels 11-25 (epilogue 29, dilation 2) instead of 33-87",
                      ["--encoder_conf", _blocks(SMALL_KERNELS)]),
    "zero_init_residual": ("last batch-norm scale of each residual block zeroed at init",
                           ["--model_conf.zero_init_residual", "true"]),
    "adamw_batch_4000": ("AdamW lr 0.002 and batch_frames 4000",
                         ["--optim", "adamw", "--optim_conf", "{lr: 0.002, weight_decay: 0.001}",
                          "--batch_frames", "4000"]),
}


def validations(log: str) -> list[dict[str, float]]:
    out = []
    for line in log.splitlines():
        m = re.search(r"epoch (\d+) validation: (.*)$", line)
        if m:
            vals = dict(re.findall(r"(\w+) ([-\d.]+)", m.group(2)))
            out.append({"epoch": int(m.group(1)), **{k: float(v) for k, v in vals.items()}})
    return out


def run_variant(name: str, epochs: int, threads: int, python: str) -> list[dict[str, float]]:
    exp = Path("exp/qz_study") / name
    log = exp / "train.log"
    if log.is_file() and len(validations(log.read_text())) >= epochs:
        return validations(log.read_text())[:epochs]
    exp.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "s2s.bin.train", "--config", CONFIG, "--exp-dir", str(exp), "--resume",
           "--train_data", "data/train", "--valid_data", "data/dev", "--token_list", "data/lang",
           "--max_epochs", str(epochs), *BASE, *VARIANTS[name][1]]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), S2S_NO_PROGRESS="1")
    with open(exp / "study.log", "w") as out:
        print(" ".join(cmd), file=out, flush=True)
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise SystemExit(f"{exp}/study.log: variant {name} failed (exit {rc}); see the log")
    return validations(log.read_text())


def row(name: str, vals: list[dict[str, float]]) -> str:
    if not vals:
        return f"| {name} | {VARIANTS[name][0]} | - | not run | - | - | - |"
    stuck = 0
    for v in vals:
        if v["wer"] < PLATEAU_WER:
            break
        stuck += 1
    curve = " ".join(f"{v['wer']:.0f}" for v in vals)
    last = vals[-1]
    train = train_losses(name)
    loss225 = f"{train[225]:.0f}" if 225 in train else "-"
    return (f"| {name} | {VARIANTS[name][0]} | {stuck} | {curve} | {loss225} | {last['loss']:.1f} | {last['wer']:.2f} |")


def train_losses(name: str) -> dict[int, float]:
    log = Path("exp/qz_study") / name / "train.log"
    text = log.read_text() if log.is_file() else ""
    return {int(s): float(v) for s, v in re.findall(r"step (\d+): loss ([\d.]+)", text)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME")
    ap.add_argument("--results", default="RESULTS.md")
    ap.add_argument("--report-only", action="store_true", help="no training: tabulate the logs in exp/qz_study")
    args = ap.parse_args()
    for f in ("data/train/feats.scp", "data/dev/feats.scp", "data/lang/tokens.txt", CONFIG):
        if not args.report_only and not Path(f).is_file():
            raise SystemExit(f"{sys.argv[0]}: {f} not found; run ./run.sh --stop-stage 3 first (from egs/mini)")
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    if args.report_only:
        logs = {n: Path("exp/qz_study") / n / "train.log" for n in args.variants}
        results = {n: validations(f.read_text())[:args.epochs] if f.is_file() else [] for n, f in logs.items()}
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(args.variants, pool.map(
                lambda n: run_variant(n, args.epochs, threads, sys.executable), args.variants)))
    lines = [
        "<!-- quartznet-study: begin (written by local/quartznet_study.py) -->",
        "## QuartzNet on egs/mini: the plateau study",
        "",
        f"{CONFIG} with the paper's kernel sizes (33-87) at batch_frames 12000, and one change each; up to "
        f"{args.epochs} epochs (48 steps each). "
        f"\"Plateau epochs\": epochs whose dev WER stayed >= {PLATEAU_WER:.0f} % (blank or "
        "near-blank output). Dev WER after each epoch; training loss (per utterance, mean of the 25 steps "
        "before) at step 225 (the end of the fifth epoch at batch_frames 12000); the last epoch's dev loss and WER.",
        "",
        "| variant | change | plateau epochs | dev WER by epoch | train loss @225 | dev loss | dev WER % |",
        "|---|---|---|---|---|---|---|",
        *(row(n, v) for n, v in results.items()),
        "<!-- quartznet-study: end -->",
        "",
    ]
    block = "\n".join(lines)
    print(block)
    res = Path(args.results)
    old = res.read_text() if res.is_file() else "# Results\n"
    pat = re.compile(r"<!-- quartznet-study: begin.*?<!-- quartznet-study: end -->\n", re.S)
    new = pat.sub(lambda m: block, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + block
    tmp = res.with_name(f".{res.name}.tmp")
    tmp.write_text(new)
    tmp.replace(res)


if __name__ == "__main__":
    main()
