# shellcheck shell=bash
# Job wrappers used by run.sh. Local by default; on a cluster pick one of the others:
#   SGE:   export train_cmd="utils/queue.pl --mem 4G"  cuda_cmd="utils/queue.pl --gpu 1"
#   SLURM: export train_cmd="utils/slurm.pl --mem 4G"  cuda_cmd="utils/slurm.pl --gpu 1"
# (options are mapped to qsub/sbatch flags by conf/queue.conf / conf/slurm.conf).
export train_cmd="utils/run.pl"
export decode_cmd="utils/run.pl"
export cuda_cmd="utils/run.pl"
