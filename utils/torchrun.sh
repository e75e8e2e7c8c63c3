#!/usr/bin/env bash
# Launch s2s.bin.train with torchrun on this node; utils/train.sh runs it once per node through $cmd.
#
#   utils/torchrun.sh [--ngpu N] [--rdzv-id ID] -- TRAIN-ARGS...
#
# --ngpu 0 trains one process on the CPU (Gloo); N > 0 starts N processes (one per GPU, NCCL).
# The job runner (utils/run.pl, slurm.pl) sets NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT:
#   NNODES=1: a single-node job (torchrun --standalone, a private rendezvous on this host);
#   NNODES>1: every node's torchrun joins a c10d rendezvous at MASTER_ADDR:MASTER_PORT (hosted
#             by whichever agent on that host gets there first) with the same --rdzv-id; ranks
#             are assigned by the rendezvous, so NODE_RANK is not needed.
set -euo pipefail

ngpu=1        # processes (GPUs) per node; 0 = one CPU process
rdzv_id=s2s   # rendezvous id shared by the nodes of one job

. utils/parse_options.sh
[ "${1:-}" = -- ] && shift

nnodes=${NNODES:-1}
nproc=$ngpu
device_args=()
if [ "$ngpu" -eq 0 ]; then nproc=1; device_args=(--device cpu); fi
# The job id keeps two runs of the same experiment from joining each other's rendezvous.
rdzv_id="$rdzv_id-${SLURM_JOB_ID:-${JOB_ID:-local}}"

if [ "$nnodes" -le 1 ]; then
  launch=(--standalone --nnodes 1 --nproc-per-node "$nproc")
else
  : "${MASTER_ADDR:?NNODES=$nnodes but no MASTER_ADDR; start multi-node jobs with utils/slurm.pl --num-nodes}"
  : "${MASTER_PORT:?NNODES=$nnodes but no MASTER_PORT; start multi-node jobs with utils/slurm.pl --num-nodes}"
  launch=(--nnodes "$nnodes" --nproc-per-node "$nproc" --rdzv-backend c10d
          --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv-id "$rdzv_id" --max-restarts 0)
fi
echo "$0: node ${NODE_RANK:-0} of $nnodes on $(hostname): torchrun ${launch[*]}"
exec torchrun "${launch[@]}" -m s2s.bin.train "${device_args[@]}" "$@"
