#!/usr/bin/env bash
# Rescore the beam search n-best lists with the neural LM (stage 8), its weight tuned on dev.
#
#   local/rescore_nnlm.sh [--weights 0:1.5:0.1] --exp exp/NAME --lm exp/nnlm/model.pt --dev-sets "dev_clean ..." SET...
#
# The LM weight (lambda) is searched on the dev sets' n-best lists together
# (s2s.bin.rescore --tune, EXP/decode_rescore_tune/best_weights), then every SET's
# EXP/decode_<SET>/beam/nbest.jsonl is rescored with it into EXP/decode_<SET>/rescore/text.
set -euo pipefail

weights=0:1.5:0.1   # lambda grid (start:stop:step or a list)
exp=
lm=exp/nnlm/model.pt
dev_sets=

. utils/parse_options.sh
if [ $# -lt 1 ] || [ -z "$exp" ] || [ -z "$dev_sets" ]; then
  echo "Usage: $0 [--weights GRID] --exp EXP --lm LM --dev-sets SETS SET..." >&2; exit 1
fi
[ -f "$lm" ] || { echo "$0: $lm not found; train the neural LM (run.sh stage 5 with --use-nnlm true)" >&2; exit 1; }
for s in $dev_sets "$@"; do
  [ -f "$exp/decode_$s/beam/nbest.jsonl" ] || {
    echo "$0: $exp/decode_$s/beam/nbest.jsonl not found; run stage 7 with --use-ngram true" >&2; exit 1; }
done

tune=$exp/decode_rescore_tune
mkdir -p "$tune"
for s in $dev_sets; do cat data/$s/text; done | sort > "$tune/ref.txt"
# shellcheck disable=SC2046
python -m s2s.bin.rescore --nbest $(for s in $dev_sets; do echo "$exp/decode_$s/beam/nbest.jsonl"; done) \
  --lm-model "$lm" --out "$tune" --tune --ref "$tune/ref.txt" --weights "$weights"
lambda=$(awk '$1 == "lm_weight" { print $2 }' "$tune/best_weights")
bonus=$(awk '$1 == "length_bonus" { print $2 }' "$tune/best_weights")
echo "$0: lm_weight $lambda, length_bonus ${bonus:-0} (tuned on $dev_sets)"
for s in "$@"; do
  python -m s2s.bin.rescore --nbest "$exp/decode_$s/beam/nbest.jsonl" --lm-model "$lm" \
    --lm-weight "$lambda" --length-bonus "${bonus:-0}" --out "$exp/decode_$s/rescore"
done
