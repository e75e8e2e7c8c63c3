#!/usr/bin/env bash
# Mix natural and synthetic speech at a ratio (the Jasper paper's natural/synthetic table).
#
# Usage: utils/mix_data.sh [--unit utts|hours] [--total X] [--seed 1] <ratio> <natural-dir> <synthetic-dir> <out-dir>
#  e.g.: utils/mix_data.sh 50:50 data/train data/train_syn data/train_aug
#
# <ratio> is natural:synthetic (66:33, 50:50, 100:0, ...). It counts UTTERANCES by default
# (--unit utts) or HOURS of audio (--unit hours, from utt2dur). Without --total the mix is the
# largest the two sources allow at that ratio (all natural speech kept when there is enough
# synthetic speech); --total X fixes its size in the unit. Utterances are drawn at random
# (--seed). Features (feats.scp, utt2num_frames, frontend.yaml) are kept when both sources
# have them from the same front end, and global CMVN stats of the mix are computed then.
# <out-dir>/mix_info records the requested ratio and the amounts obtained.
# Logic: s2s/recipe/mix.py (standard-library Python).
set -euo pipefail
unit=utts
total=
seed=1
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/parse_options.sh"
if [ $# -ne 4 ]; then
  echo "Usage: $0 [--unit utts|hours] [--total X] [--seed 1] <natural:synthetic> <natural-dir> <synthetic-dir> <out-dir>" >&2
  exit 1
fi
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C
python3 -m s2s.recipe.mix mix --ratio "$1" --unit $unit ${total:+--total $total} --seed $seed "$2" "$3" "$4"
if [ -f "$4/feats.scp" ]; then
  "$root/utils/compute_cmvn_stats.sh" "$4"
fi
