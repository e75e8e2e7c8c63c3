#!/usr/bin/env bash
# Launch s2s.bin.train with torchrun on this node; utils/train.sh runs it once per node through $cmd.
#
#   utils/torchrun.sh [--ngpu N] [--rdzv-id ID] -- TRAIN-ARGS...
#
# --ngpu 0 trains one process on the CPU (Gloo); N > 0 starts N processes (one per GPU, NCCL);
# auto counts the GPUs nvidia-smi lists on this node (the one that trains, not the one that
# submitted the job); when it finds none, it says so and trains on the CPU in fp32.
# The job runner (utils/run.pl, slurm.pl) sets NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT:
#   NNODES=1: a single-node job (torchrun --standalone, a private rendezvous on 127.0.0.1);
#   NNODES>1: every node's torchrun joins a c10d rendezvous at MASTER_ADDR:MASTER_PORT (hosted
#             by whichever agent on that host gets there first) with the same --rdzv-id; ranks
#             are assigned by the rendezvous, so NODE_RANK is not needed.
set -euo pipefail

ngpu=1        # processes (GPUs) per node; 0 = one CPU process; auto = the GPUs of this node
rdzv_id=s2s   # rendezvous id shared by the nodes of one job

. utils/parse_options.sh
[ "${1:-}" = -- ] && shift

nnodes=${NNODES:-1}
device_args=()
if [ "$ngpu" = auto ]; then
  if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then  # the GPUs this job may use (the scheduler's choice)
    ngpu=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c '[^[:space:]]' || true)
  else
    ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  fi
  if [ "$ngpu" -eq 0 ]; then
    echo "$0: WARNING: --ngpu auto found no GPU on $(hostname) (nvidia-smi lists none): training on the CPU in fp32" >&2
    device_args=(--precision fp32)
  fi
fi
case $ngpu in ''|*[!0-9]*) echo "$0: --ngpu takes a whole number or auto, got '$ngpu'" >&2; exit 1 ;; esac
nproc=$ngpu
if [ "$ngpu" -eq 0 ]; then nproc=1; device_args+=(--device cpu); fi
# The job id keeps two runs of the same experiment from joining each other's rendezvous.
rdzv_id="$rdzv_id-${SLURM_JOB_ID:-${JOB_ID:-local}}"

if [ "$nnodes" -le 1 ]; then
  # The processes meet at 127.0.0.1, not at the host's name, which need not resolve (containers,
  # a bare chroot): torchrun would otherwise wait 5 minutes per try for it.
  launch=(--standalone --nnodes 1 --nproc-per-node "$nproc" --local-addr 127.0.0.1)
else
  : "${MASTER_ADDR:?NNODES=$nnodes but no MASTER_ADDR; start multi-node jobs with utils/slurm.pl --num-nodes}"
  : "${MASTER_PORT:?NNODES=$nnodes but no MASTER_PORT; start multi-node jobs with utils/slurm.pl --num-nodes}"
  launch=(--nnodes "$nnodes" --nproc-per-node "$nproc" --rdzv-backend c10d
          --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv-id "$rdzv_id" --max-restarts 0)
fi
echo "$0: node ${NODE_RANK:-0} of $nnodes on $(hostname): torchrun ${launch[*]} -m s2s.bin.train ${device_args[*]}"
exec torchrun "${launch[@]}" -m s2s.bin.train "${device_args[@]}" "$@"
