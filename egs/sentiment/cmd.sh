# shellcheck shell=bash
# Job runners of a recipe (the same file in every egs/*/): $train_cmd (CPU jobs: features,
# synthesis, data preparation), $decode_cmd (decoding, tuning, rescoring) and $cuda_cmd
# (training; utils/train.sh adds --gpu N and --num-nodes N).
# The backend is local (utils/run.pl) unless S2S_BACKEND says otherwise:
#   S2S_BACKEND=slurm ./run.sh ...   sbatch/srun; flags mapped by conf/slurm.conf (else defaults)
#   S2S_BACKEND=sge ./run.sh ...     qsub; flags mapped by conf/queue.conf (else defaults)
# Edit the resource options below to suit your cluster.
case ${S2S_BACKEND:-local} in
  local)
    export train_cmd="utils/run.pl" decode_cmd="utils/run.pl" cuda_cmd="utils/run.pl" ;;
  slurm)
    export train_cmd="utils/slurm.pl --mem 4G --time 4:00:00"
    export decode_cmd="utils/slurm.pl --mem 8G --time 4:00:00"
    export cuda_cmd="utils/slurm.pl --mem 64G --num-threads 8 --time 7-00:00:00" ;;
  sge)
    export train_cmd="utils/queue.pl --mem 4G"
    export decode_cmd="utils/queue.pl --mem 8G"
    export cuda_cmd="utils/queue.pl --mem 64G --num-threads 8" ;;
  *)
    echo "cmd.sh: S2S_BACKEND must be local, slurm or sge, got '$S2S_BACKEND'" >&2; exit 1 ;;
esac
