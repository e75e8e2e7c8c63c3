#!/usr/bin/env python3
"""RESULTS.md for the LibriSpeech recipe: published anchors, and what each run used.

  local/results.py run-info --exp exp/NAME --config conf/X.yaml --ngpu 8 --num-nodes 1 \
      --train-set data/train_sp --log exp/NAME/log/train.log
      (stage 6) writes EXP/run_info.yaml: config, parameters, GPUs x nodes, precision,
      training utterances and wall-clock time of the training job
  local/results.py write --results RESULTS.md --exp exp/NAME
      (stage 9) makes sure RESULTS.md has the published anchors, and puts EXP's row into
      its "Runs" table. The WER rows themselves are written by s2s.bin.score --results.

Tables are updated in place (s2s.score.update_results): re-running changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from s2s.errors import S2SError  # noqa: E402

PROG = "local/results.py"

INTRO = """# LibriSpeech results

WER (%) of `egs/librispeech/run.sh`. Tags are `<experiment> <decoding>`: `greedy` (best path),
`beam` (CTC beam search + the n-gram, alpha/beta tuned on dev), `rescore` (beam n-best
rescored with the neural LM). The "Runs" table says what each experiment used.

## Published anchors (test sets, WER %)

| model | source | decoding | test-clean | test-other |
| --- | --- | --- | --- | --- |
| Jasper DR 10x5 | Jasper paper (arXiv 1904.03288) | greedy | 3.86 | 11.95 |
| Jasper DR 10x5 | OpenSeq2Seq docs, speech-recognition models table | beam + 6-gram | 3.19 | 9.03 |
| Wav2Letter+ large | OpenSeq2Seq docs, speech-recognition models table | greedy | 6.58 | 19.61 |

## WER per set and decoding mode
"""

RUNS_HEADER = ["tag", "config", "parameters", "GPUs x nodes", "precision", "train set", "training time"]


def hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def params(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 100_000 else f"{n / 1e3:.1f} k"


def count_params(model_path: Path) -> int:
    import torch

    ck = torch.load(model_path, map_location="cpu", weights_only=False)
    return sum(int(v.numel()) for k, v in ck["model"].items() if torch.is_tensor(v) and "num_batches" not in k)


def gpus_per_node(ngpu: str, log_text: str) -> int:
    """--ngpu, or with auto what utils/torchrun.sh found on the node (its last launch line)."""
    if ngpu != "auto":
        return int(ngpu)
    launches = re.findall(r"torchrun .*--nproc-per-node (\d+).*", log_text)
    lines = re.findall(r"torchrun .*--nproc-per-node .*", log_text)
    if not launches or "--device cpu" in lines[-1]:
        return 0
    return int(launches[-1])


def run_info(args) -> None:
    import yaml

    from s2s.io import atomic_open

    exp = Path(args.exp)
    log = Path(args.log)
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    times = [int(t) for t in re.findall(r"^# Accounting: time=(\d+)", text, re.M)]
    resolved = exp / "config.yaml"
    conf = yaml.safe_load(resolved.read_text()) if resolved.is_file() else {}
    utts = sum(1 for _ in open(Path(args.train_set) / "utt2spk", encoding="utf-8"))
    info = {
        "config": args.config,
        "parameters": count_params(exp / "model.pt"),
        "gpus_per_node": gpus_per_node(args.ngpu, text),
        "nodes": int(args.num_nodes),
        "precision": conf.get("precision", "?"),
        "train_set": args.train_set,
        "train_utterances": utts,
        "train_seconds": max(times) if times else None,  # the job's wall clock (last invocation if resumed)
    }
    with atomic_open(exp / "run_info.yaml") as f:
        yaml.safe_dump(info, f, sort_keys=False)
    print(f"{PROG}: {exp}/run_info.yaml: {info}", file=sys.stderr)


def write(args) -> None:
    import yaml

    from s2s.io import atomic_open
    from s2s.score import update_results

    results = Path(args.results)
    text = results.read_text(encoding="utf-8") if results.is_file() else ""
    if "## Published anchors" not in text:
        with atomic_open(results) as f:
            f.write(INTRO + ("\n" + text if text.strip() else ""))
    exp = Path(args.exp)
    info_file = exp / "run_info.yaml"
    if not info_file.is_file():
        raise S2SError(f"{info_file}: not found; it is written by stage 6 (training)")
    info = yaml.safe_load(info_file.read_text())
    gpus = "CPU" if info["gpus_per_node"] == 0 else f"{info['gpus_per_node']} x {info['nodes']}"
    secs = info.get("train_seconds")
    text = results.read_text(encoding="utf-8")
    if "## Runs" not in text:
        with atomic_open(results) as f:
            f.write(text.rstrip("\n") + "\n\n## Runs\n\n")
    update_results(results, RUNS_HEADER, [
        exp.name, info["config"], params(info["parameters"]), gpus, info["precision"],
        f"{info['train_set']} ({info['train_utterances']} utts)", hms(secs) if secs is not None else "?",
    ], key_columns=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run-info")
    for k in ("--exp", "--config", "--ngpu", "--num-nodes", "--train-set", "--log"):
        r.add_argument(k, required=True)
    w = sub.add_parser("write")
    w.add_argument("--results", required=True)
    w.add_argument("--exp", required=True)
    args = p.parse_args(argv)
    try:
        run_info(args) if args.cmd == "run-info" else write(args)
    except (S2SError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
