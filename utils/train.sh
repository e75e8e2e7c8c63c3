#!/usr/bin/env bash
# Train a model (any task: asr, lm, classify, tts) as one job of $cmd, then average its last
# checkpoints into EXP/model.pt.
#
#   utils/train.sh [--cmd "$cuda_cmd"] [--ngpu auto] [--num-nodes 1] [--avg-num 5 --avg-kind epoch] \
#       EXP -- TRAIN-ARGS...
#   e.g. utils/train.sh --cmd "$cuda_cmd" --ngpu 8 --num-nodes 2 --avg-num 5 exp/jasper -- \
#          --config conf/jasper10x5_dr.yaml --train_data data/train --valid_data data/dev --token_list data/lang
#
# The job is `utils/torchrun.sh` once per node: --ngpu processes per node (one per GPU, NCCL),
# or one CPU process with --ngpu 0; --ngpu auto counts the GPUs nvidia-smi lists on the node that
# trains (local jobs only: a cluster job needs the number when it is submitted). $cmd is asked
# for --gpu N and --num-nodes N (run.pl ignores them; slurm.pl/queue.pl map them to the scheduler).
# The trainer always gets --exp-dir EXP --resume: a re-run after a crash continues from the last
# checkpoint, a finished run returns at once (or trains on when max_epochs was raised), and a
# config that changes the model's shape starts afresh.
# Log: EXP/log/train.log (and EXP/train.log, the trainer's own).
set -euo pipefail

cmd=utils/run.pl  # job runner for training (the recipe's $cuda_cmd)
ngpu=auto         # GPUs per node (auto: all that nvidia-smi lists on the training node; 0: CPU)
num_nodes=1       # nodes; > 1 needs a cluster runner (utils/slurm.pl)
avg_num=1         # checkpoints averaged into EXP/model.pt
avg_kind=last     # last (where training stopped; --avg-num ignored), epoch or step checkpoints

. utils/parse_options.sh

if [ $# -lt 1 ]; then
  echo "Usage: $0 [--cmd CMD] [--ngpu N|auto] [--num-nodes N] [--avg-num N] EXP -- TRAIN-ARGS..." >&2
  exit 1
fi
exp=$1; shift
[ "${1:-}" = -- ] && shift
ngpu_digits=$ngpu; [ "$ngpu" = auto ] && ngpu_digits=0
case $ngpu_digits$num_nodes$avg_num in *[!0-9]*)
  echo "$0: --ngpu (or auto), --num-nodes and --avg-num take whole numbers (got '$ngpu', '$num_nodes', '$avg_num')" >&2
  exit 1 ;;
esac
gpu_request=$ngpu
if [ "$ngpu" = auto ]; then
  # Counted by utils/torchrun.sh on the node that trains. A local job runs here; a cluster
  # job must ask the scheduler for its GPUs when it is submitted, so the number is needed now.
  case $(basename "${cmd%% *}") in
    run.pl) gpu_request=0 ;;
    *) echo "$0: --ngpu auto cannot be resolved before a cluster job starts ($cmd must request the GPUs):" \
            "give the GPUs per node, e.g. --ngpu 8 (or --ngpu 0 for CPU training)" >&2
       exit 1 ;;
  esac
fi
mkdir -p "$exp/log"
# shellcheck disable=SC2086
$cmd --num-nodes "$num_nodes" --gpu "$gpu_request" "$exp/log/train.log" \
  utils/torchrun.sh --ngpu "$ngpu" --rdzv-id "$(basename "$exp")" -- --exp-dir "$exp" --resume "$@"
python -m s2s.bin.average_checkpoints --exp-dir "$exp" --num "$avg_num" --kind "$avg_kind" --out "$exp/model.pt"
last=$(grep -h " validation: " "$exp/train.log" 2>/dev/null | tail -n 1 || true)
[ -n "$last" ] && echo "$exp: ${last##* INFO s2s.train: }; averaged model in $exp/model.pt"
true
