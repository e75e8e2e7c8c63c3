#!/usr/bin/env bash
# Global CMVN statistics over <data-dir>/feats.scp, written to <data-dir>/cmvn.ark (Kaldi stats format:
# a 2 x (dim+1) matrix of sums, sums of squares and the frame count).
#
# Usage: utils/compute_cmvn_stats.sh <data-dir>
# Skipped when cmvn.ark exists and feats.scp is unchanged since it was computed.
set -euo pipefail

. utils/parse_options.sh

if [ $# -ne 1 ]; then
  echo "Usage: $0 <data-dir>" >&2
  exit 1
fi
data=$1
repo=$(dirname "$(dirname "$(realpath "${BASH_SOURCE[0]}")")")
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

[ -f "$data/feats.scp" ] || { echo "$0: $data/feats.scp not found; run utils/make_feats.sh first" >&2; exit 1; }
stamp="$data/.cmvn.stamp"
want=$(md5sum < "$data/feats.scp" | cut -d' ' -f1)
if [ -f "$data/cmvn.ark" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$0: $data/cmvn.ark is up to date; skipping"
  exit 0
fi
rm -f "$stamp"
python3 -m s2s.bin.compute_cmvn --data "$data"
echo "$want" > "$stamp"
