"""Inference speed and memory on CPU: PyTorch eager vs TorchScript vs ONNX Runtime (vs sherpa-onnx).

For each model (the egs/mini model when it has been trained, else the same config with
random weights; QuartzNet 15x5 and Jasper 10x5 with random weights, which is fine for
speed) the script exports TorchScript and ONNX files with s2s-export's code and
measures the real-time factor (processing time / audio time) of computing the CTC
log-probabilities of the same utterance (espeak-ng speech, ``--seconds`` long) at 1 and
2 threads, in one process, best of ``--repeats``. sherpa-onnx runs the mini model where
it can (Kaldi fbank front end; it computes the features itself and then runs the same
encoder, plus its greedy search); QuartzNet/Jasper use a NeMo log-mel front end that
sherpa cannot compute (README, "sherpa-onnx").

Peak memory: ``s2s-transcribe`` (torch engine, mini model) on a 1-minute and a
60-minute recording (speech and pauses) in fresh processes; peak resident set size
(VmHWM).

    python benchmarks/inference.py [--models mini,quartznet15x5,jasper10x5] [--seconds 20]

Ends with ``RESULT rtf_onnx=... rtf_torch=... speedup_onnx=... peak_mib_60min=...`` (QuartzNet
15x5, one thread, for the RTFs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MINI_EXP = ROOT / "egs" / "mini" / "exp" / "train" / "model.pt"
LOGMEL64 = {"type": "logmel", "num_mel_bins": 64, "dither": 0.0}


def speech(seconds: float, tmp: Path) -> np.ndarray:
    """``seconds`` of espeak-ng speech at 16 kHz (sentences with short pauses)."""
    import soundfile as sf

    from s2s.data.audio import resample_audio

    sentences = ["turn on the lights in the kitchen", "what is the weather like in paris today",
                 "set an alarm for seven thirty tomorrow morning", "play the next song on my list",
                 "how many kilometres is it to the station", "remind me to call my mother at six"]
    out, i = [], 0
    while sum(len(x) for x in out) < seconds * 16000:
        wav = tmp / "s.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), sentences[i % len(sentences)]], check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
        out += [resample_audio(x, sr, 16000), np.zeros(8000, np.float32)]
        i += 1
    return np.concatenate(out)[: int(seconds * 16000)]


def checkpoint(name: str, tmp: Path) -> Path:
    """The model file to benchmark (random weights except a trained egs/mini model)."""
    import torch
    import yaml

    from s2s.data.tokens import character_vocabulary
    from s2s.models.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from s2s.models.registry import build_model

    if name == "mini" and MINI_EXP.is_file():
        return MINI_EXP
    vocab = character_vocabulary("abcdefghijklmnopqrstuvwxyz'")
    if name == "mini":
        conf = yaml.safe_load((ROOT / "egs/mini/conf/train.yaml").read_text())
        fe = yaml.safe_load((ROOT / "egs/mini/conf/fbank.yaml").read_text())
        args = {"encoder": conf["encoder"], "encoder_conf": conf["encoder_conf"], "input_dim": fe["num_mel_bins"],
                "frontend": fe, "cmvn": "global"}
    else:
        preset = {"quartznet15x5": ("quartznet", "quartznet15x5"), "jasper10x5": ("jasper", "jasper10x5dr")}[name]
        args = {"encoder": preset[0], "encoder_conf": {"preset": preset[1]}, "input_dim": 64, "frontend": LOGMEL64,
                "cmvn": "utterance"}
    torch.manual_seed(0)
    model = build_model("asr", {**args, "vocab_size": len(vocab)})
    path = tmp / f"{name}.pt"
    save_checkpoint(path, model.state_dict(), {"format": CHECKPOINT_FORMAT, "task": "asr", "model": model.spec,
                                               "vocab": vocab.to_dict()})
    return path


def timed(fn, repeats: int) -> float:
    fn()  # warm up (allocations, ORT's first run)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def rtfs(name: str, wav: np.ndarray, tmp: Path, threads: list[int], repeats: int) -> dict:
    import torch

    from s2s.decode.inference import Recognizer
    from s2s.decode.runtime import OnnxRecognizer, TorchScriptRecognizer, load_sherpa
    from s2s.export import export_model

    ckpt = checkpoint(name, tmp)
    export_model(ckpt, "torchscript", tmp / f"{name}.ts", check=False)
    export_model(ckpt, "onnx", tmp / f"{name}.onnx", check=False)
    sherpa_dir = None
    try:
        export_model(ckpt, "sherpa-onnx", tmp / f"{name}_sherpa", check=False)
        sherpa_dir = tmp / f"{name}_sherpa"
    except Exception as e:  # a log-mel front end: sherpa cannot compute its features
        print(f"{name}: no sherpa-onnx export ({str(e)[:90]}...)")
    audio_s = len(wav) / 16000
    out = {}
    rec = Recognizer.load(ckpt)
    n_params = sum(p.numel() for p in rec.model.parameters())
    for t in threads:
        torch.set_num_threads(t)
        engines = {"torch": rec, "torchscript": TorchScriptRecognizer(tmp / f"{name}.ts", t),
                   "onnx": OnnxRecognizer(tmp / f"{name}.onnx", t)}
        torch.set_num_threads(t)
        for engine, r in engines.items():
            with torch.inference_mode():
                out[(engine, t)] = timed(lambda r=r: r.logprobs([wav]), repeats) / audio_s
        if sherpa_dir is not None:
            sherpa = load_sherpa(sherpa_dir, threads=t)

            def run():
                s = sherpa.create_stream()
                s.accept_waveform(16000, wav)
                sherpa.decode_stream(s)
            out[("sherpa-onnx", t)] = timed(run, repeats) / audio_s
    return {"params": n_params, "rtf": out}


def peak_mib(model: Path, minutes: float, tmp: Path) -> tuple[float, float]:
    """(max RSS MiB, wall seconds) of s2s-transcribe on a ``minutes``-long FLAC, in a fresh process."""
    import soundfile as sf

    path = tmp / f"long_{minutes:g}min.flac"
    if not path.exists():
        base = speech(60.0, tmp)
        with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as f:
            for _ in range(int(round(minutes))):
                f.write(base)
    # VmHWM (the peak RSS of this process image) rather than ru_maxrss, which Linux carries over
    # from the parent across fork+exec (and this parent holds the big models).
    code = ("import re, sys, time; from s2s.bin.transcribe import main; t = time.time(); rc = main(sys.argv[1:]); "
            "hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
            "print('PEAK', hwm / 1024, time.time() - t, file=sys.stderr); sys.exit(rc)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code, str(model), str(path), "--threads", "1"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    line = [x for x in proc.stderr.splitlines() if x.startswith("PEAK")][-1].split()
    return float(line[1]), float(line[2])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mini,quartznet15x5,jasper10x5")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the timed utterance")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--long-minutes", type=float, default=60.0)
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    results, memory = {}, {}
    with tempfile.TemporaryDirectory(prefix="s2s_bench_inf_") as tmp_s:
        tmp = Path(tmp_s)
        wav = speech(args.seconds, tmp)
        for name in args.models.split(","):
            results[name] = rtfs(name, wav, tmp, threads, args.repeats)
        if not args.skip_memory:
            mini = checkpoint("mini", tmp)
            for minutes in (1.0, args.long_minutes):
                memory[minutes] = peak_mib(mini, minutes, tmp)
    print(f"\nreal-time factor (compute time / audio time, {args.seconds:g} s utterance, best of {args.repeats}); "
          f"lower is faster")
    engines = ["torch", "torchscript", "onnx", "sherpa-onnx"]
    print(f"{'model':16s} {'params':>8s} {'thr':>3s} " + " ".join(f"{e:>12s}" for e in engines) + "   onnx/torch")
    for name, r in results.items():
        for t in threads:
            row = [r["rtf"].get((e, t)) for e in engines]
            cells = " ".join(f"{v:12.4f}" if v is not None else f"{'-':>12s}" for v in row)
            print(f"{name:16s} {r['params'] / 1e6:7.1f}M {t:3d} {cells}   {row[0] / row[2]:9.2f}x")
    for minutes, (mib, wall) in memory.items():
        print(f"s2s-transcribe, mini model, {minutes:g} min recording: peak RSS {mib:.0f} MiB, "
              f"{wall:.1f} s (RTF {wall / (60 * minutes):.3f})")
    key = "quartznet15x5" if "quartznet15x5" in results else next(iter(results))
    q = results[key]["rtf"]
    fields = {"model": key, "rtf_torch": q[("torch", 1)], "rtf_torchscript": q[("torchscript", 1)],
              "rtf_onnx": q[("onnx", 1)], "speedup_onnx": q[("torch", 1)] / q[("onnx", 1)]}
    if memory:
        fields["peak_mib_1min"] = memory[1.0][0]
        fields["peak_mib_60min"] = memory[args.long_minutes][0]
    print("RESULT " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()))
    print(json.dumps({"rtf": {f"{n} {e} {t}": v for n, r in results.items() for (e, t), v in r["rtf"].items()}}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
