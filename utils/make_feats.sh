#!/usr/bin/env bash
# Compute features for a data directory with N parallel jobs (Kaldi's make_fbank.sh, for s2s front ends).
#
# Usage: utils/make_feats.sh [options] <data-dir> <log-dir> <feat-dir>
#  e.g.: utils/make_feats.sh --nj 8 --cmd "$train_cmd" --conf conf/fbank.yaml data/train exp/make_feats/train fbank
#
# Writes <feat-dir>/feats_<name>.JOB.{ark,scp} (<name>: the data dir's name, so several sets can
# share one <feat-dir>) and <data-dir>/{feats.scp,utt2num_frames,frontend.yaml}.
# The front end (fbank, mfcc, logmel and their options) comes from --conf (YAML); frontend.yaml
# is the fully resolved config, which training stores in the model.
# A re-run with the same config, wav.scp and segments, whose outputs are intact, is skipped.
# A failed or interrupted run leaves no feats.scp behind, so nothing downstream trusts it.
set -euo pipefail

cmd=utils/run.pl       # job runner: utils/run.pl, utils/queue.pl or utils/slurm.pl (with options)
nj=4                   # number of parallel jobs
conf=conf/fbank.yaml   # frontend config (YAML)
compress=false         # store Kaldi-compressed matrices (about 4x smaller, lossy)

. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "Usage: $0 [--cmd CMD] [--nj N] [--conf conf/fbank.yaml] [--compress true] <data-dir> <log-dir> <feat-dir>" >&2
  exit 1
fi
data=$1
logdir=$2
featdir=$3

# The s2s package of this checkout, also when utils/ is a symlink from a recipe.
repo=$(dirname "$(dirname "$(realpath "${BASH_SOURCE[0]}")")")
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C

[ -f "$data/wav.scp" ] || { echo "$0: $data/wav.scp not found; prepare the data directory first" >&2; exit 1; }
[ -f "$conf" ] || { echo "$0: frontend config $conf not found (--conf)" >&2; exit 1; }
mkdir -p "$logdir" "$featdir"
featdir=$(realpath "$featdir")

# Resolved config (this also validates it before any job starts).
python3 -m s2s.bin.compute_feats --conf "$conf" --print-config > "$logdir/frontend.yaml.tmp"

# The stamp covers everything the features depend on, plus the feats.scp it produced
# (so an edited or subset feats.scp is not mistaken for this run's output).
inputs_hash() {
  { cat "$logdir/frontend.yaml.tmp" "$data/wav.scp"; [ ! -f "$data/segments" ] || cat "$data/segments"
    echo "$featdir"; } | md5sum | cut -d' ' -f1
}
stamp="$data/.feats.stamp"
want="$(inputs_hash)"
if [ -f "$stamp" ] && [ -f "$data/feats.scp" ] && [ -f "$data/utt2num_frames" ] && \
   [ "$(cat "$stamp")" = "$want $(md5sum < "$data/feats.scp" | cut -d' ' -f1)" ] && \
   cut -d' ' -f2 "$data/feats.scp" | sed 's/:[0-9]*$//' | sort -u | xargs -r ls > /dev/null 2>&1; then
  echo "$0: features for $data are up to date (same config and audio); skipping"
  rm -f "$logdir/frontend.yaml.tmp"
  exit 0
fi

# From here on, the old outputs are invalid: remove them first so that a crash leaves none.
rm -f "$stamp" "$data/feats.scp" "$data/utt2num_frames" "$data/frontend.yaml"
name=$(basename "$data")
prefix=feats_$name
rm -f "$featdir/$prefix".*.scp "$featdir/$prefix".utt2num_frames.*

opts=""
[ "$compress" = true ] && opts="--compress"
if ! $cmd JOB=1:$nj "$logdir/make_feats_$name.JOB.log" \
    python3 -m s2s.bin.compute_feats --conf "$conf" --data "$data" --out-dir "$featdir" \
      --nj $nj --job JOB --name "$prefix" $opts; then
  echo "$0: feature extraction failed; see $logdir/make_feats_$name.*.log" >&2
  exit 1
fi

for j in $(seq $nj); do
  for f in "$featdir/$prefix.$j.scp" "$featdir/$prefix.utt2num_frames.$j"; do
    [ -f "$f" ] || { echo "$0: job $j left no $f; see $logdir/make_feats_$name.$j.log" >&2; exit 1; }
  done
done
for j in $(seq $nj); do cat "$featdir/$prefix.utt2num_frames.$j"; done | sort > "$data/utt2num_frames.tmp"
for j in $(seq $nj); do cat "$featdir/$prefix.$j.scp"; done | sort > "$data/feats.scp.tmp"

nwav=$(if [ -f "$data/segments" ]; then wc -l < "$data/segments"; else wc -l < "$data/wav.scp"; fi)
nfeat=$(wc -l < "$data/feats.scp.tmp")
if [ "$nfeat" -ne "$nwav" ]; then
  echo "$0: got features for $nfeat of $nwav utterances; see $logdir/make_feats_$name.*.log" >&2
  exit 1
fi
mv "$logdir/frontend.yaml.tmp" "$data/frontend.yaml"
mv "$data/utt2num_frames.tmp" "$data/utt2num_frames"
mv "$data/feats.scp.tmp" "$data/feats.scp"
echo "$want $(md5sum < "$data/feats.scp" | cut -d' ' -f1)" > "$stamp"
echo "$0: $nfeat utterances of $data -> $featdir ($(grep '^type:' "$data/frontend.yaml"))"
