"""Multi-node training through the cluster wrappers: egs/librispeech/run.sh stage 6 with
``--num-nodes 2`` under utils/slurm.pl, with stand-ins for sbatch and srun that run the job on
this machine. Two "nodes" are two torchrun agents on 127.0.0.1 (one CPU process each, Gloo)
meeting at a c10d rendezvous, exactly as on a cluster.

The stand-ins are for the scheduler only (not our code): sbatch runs the job script in the
background, srun starts its command once per node with SLURM_NODEID set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from toy_asr import make_toy_corpus, toy_config

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "librispeech"

FAKE_SBATCH = r"""#!/usr/bin/env bash
# sbatch stand-in: log the flags, run the job script in the background, print the job id.
echo "sbatch $*" >> "$FAKE_SLURM_LOG"
script="${@: -1}"; out=/dev/null
while [ $# -gt 1 ]; do
  case $1 in --output) out=$2; shift 2 ;; --output=*) out=${1#*=}; shift ;; *) shift ;; esac
done
id=$(( 100000 + RANDOM ))
SLURM_JOB_ID=$id SLURM_NNODES=2 nohup bash "$script" > "$out" 2>&1 < /dev/null &
echo "Submitted batch job $id"
"""

FAKE_SRUN = r"""#!/usr/bin/env bash
# srun stand-in: start the command once per node (--nodes=N) with SLURM_NODEID, wait for all.
echo "srun $*" >> "$FAKE_SLURM_LOG"
n=1
while [[ ${1:-} == --* ]]; do
  case $1 in --nodes=*) n=${1#*=} ;; --nodes) n=$2; shift ;; esac
  shift
done
pids=()
for ((i = 0; i < n; i++)); do SLURM_NODEID=$i SLURM_PROCID=$i "$@" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
"""


def fake_slurm(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "fake_slurm"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "slurm_calls.log"
    # path.sh puts the venv and utils/ first on PATH in the job: keep the stand-ins ahead via
    # the inherited PATH (path.sh prepends, so they must not shadow anything of ours).
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_SLURM_LOG=str(log),
                S2S_BACKEND="slurm", OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")


def recipe_copy(tmp_path: Path) -> Path:
    work = tmp_path / "recipe"
    work.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
        (work / name).symlink_to(RECIPE / name)
    return work


def model_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_two_node_training_through_slurm_matches_one_process_with_the_global_batch(tmp_path):
    corpus = make_toy_corpus(tmp_path / "toy")
    work = recipe_copy(tmp_path)
    (work / "data").mkdir()
    shutil.copytree(corpus["train"], work / "data" / "train")
    shutil.copytree(corpus["valid"], work / "data" / "dev_clean")
    shutil.copytree(corpus["lang"], work / "data" / "lang")
    cfg = toy_config(tmp_path / "toy", corpus, max_epochs=1, max_steps=4, cmvn="none")
    env = fake_slurm(tmp_path)
    dumps = tmp_path / "final_states"
    env["S2S_DUMP_FINAL_STATE"] = str(dumps)  # every rank writes its final parameters here

    proc = subprocess.run(
        ["bash", "run.sh", "--stage", "6", "--stop-stage", "6", "--parts", "dev-clean train-clean-100",
         "--speed-perturb", "false", "--syn-ratio", "0", "--train-config", str(cfg), "--tag", "two_nodes", "--ngpu", "0",
         "--num-nodes", "2", "--avg-num", "1", "--train-args", "--batch_frames 400 --max_batch_size 256"],
        cwd=work, env=env, capture_output=True, text=True)
    log = work / "exp" / "two_nodes" / "log" / "train.log"
    log_text = log.read_text() if log.is_file() else "(no train.log)"
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{log_text[-4000:]}"

    calls = (tmp_path / "slurm_calls.log").read_text()
    assert "--nodes 2" in calls, calls              # sbatch asked for two nodes (conf/slurm.conf mapping)
    assert "srun --nodes=2" in calls, calls          # the job started one task per node
    # Each node ran its own torchrun agent, and both joined one c10d rendezvous of world size 2.
    assert "node 0 of 2" in log_text and "node 1 of 2" in log_text, log_text[-3000:]
    assert "--rdzv-backend c10d" in log_text

    # Reference: one process with both ranks' batches (twice the per-rank budget).
    ref = subprocess.run(
        [sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir", str(tmp_path / "one"),
         "--batch_frames", "800", "--max_batch_size", "512"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1"),
        capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr[-3000:]
    a = model_state(tmp_path / "one" / "checkpoints" / "last.pt")
    b = model_state(work / "exp" / "two_nodes" / "checkpoints" / "last.pt")
    # Data parallelism over the two nodes reproduced the single-process update: rank 1's
    # gradients were averaged into every step. (DDP keeps the ranks' parameters identical;
    # only rank 0 writes checkpoints, so rank 1's copy is checked through this equivalence.)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k
    assert (work / "exp" / "two_nodes" / "model.pt").is_file()
    # both ranks (one per "node") end with identical parameters
    r0, r1 = model_state(dumps / "rank0.pt"), model_state(dumps / "rank1.pt")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    assert (work / "exp" / "two_nodes" / "run_info.yaml").read_text().count("nodes: 2") == 1
