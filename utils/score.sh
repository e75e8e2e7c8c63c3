#!/usr/bin/env bash
# Score every decoding of an experiment into RESULTS.md: WER/CER per set and decoding mode.
#
#   utils/score.sh [--results RESULTS.md] [--tag NAME] [--modes "greedy beam rescore"] EXP DATA-DIR...
#   e.g. utils/score.sh --tag jasper exp/jasper data/dev_clean data/test_clean
#
# For each data dir data/<set> and each mode whose EXP/decode_<set>/<mode>/text exists, scores
# it against data/<set>/text (s2s.bin.score: EXP/decode_<set>/<mode>/scoring/{wer.txt,per_utt.txt})
# and adds or replaces the row "<tag> <mode>" for <set> in --results. Prints one line per scoring.
set -euo pipefail

results=RESULTS.md          # the recipe's results table
tag=                        # experiment name in RESULTS.md (default: EXP's name)
modes="greedy beam rescore" # decodings scored when present

. utils/parse_options.sh

if [ $# -lt 2 ]; then
  echo "Usage: $0 [--results RESULTS.md] [--tag NAME] EXP DATA-DIR..." >&2; exit 1
fi
exp=$1; shift
tag=${tag:-$(basename "$exp")}
n=0
for d in "$@"; do
  s=$(basename "$d")
  for mode in $modes; do
    hyp=$exp/decode_$s/$mode/text
    [ -f "$hyp" ] || continue
    echo "$s $mode: $(python -m s2s.bin.score --ref "$d/text" --hyp "$hyp" --out-dir "$exp/decode_$s/$mode/scoring" --results "$results" --tag "$tag $mode" \
      --set "$s" | head -n 1)"
    n=$((n + 1))
  done
done
[ $n -gt 0 ] || { echo "$0: nothing to score: no $exp/decode_<set>/{${modes// /,}}/text for $*" >&2; exit 1; }
