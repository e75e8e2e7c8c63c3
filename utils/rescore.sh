#!/usr/bin/env bash
# Rescore beam-search n-best lists with a neural LM; its weight lambda (and a length bonus) tuned
# on the dev sets.
#
#   utils/rescore.sh [--cmd "$decode_cmd"] [--weights 0:1.5:0.1] [--length-bonuses 0] \
#       --lm LM-MODEL --dev "DEV-DATA-DIR..." EXP DATA-DIR...
#   e.g. utils/rescore.sh --lm exp/lm_transformer/model.pt --dev "data/dev" exp/jasper data/dev data/test
#
# For each data dir data/<set>, reads EXP/decode_<set>/beam/nbest.jsonl (utils/decode.sh --nbest N
# writes it) and writes EXP/decode_<set>/rescore/{text,nbest.jsonl}. Each hypothesis scores
# am + alpha*ngram + lambda*nlm + (beta + bonus)*words, with alpha and beta from
# EXP/tune_lm/best.yaml (utils/tune_lm.sh); lambda and the bonus are searched on the dev sets'
# lists pooled (EXP/rescore_tune/{tune.txt,best_weights}), then applied to every set.
# The bonus matters: the neural LM's log-probability falls with every word, which shifts the
# length balance alpha/beta were tuned for. Logs: EXP/rescore_tune/log/, EXP/decode_<set>/rescore/log/.
set -euo pipefail

cmd=utils/run.pl    # job runner (the recipe's $decode_cmd)
weights=0:1.5:0.1   # lambda grid (start:stop:step or a,b,c)
length_bonuses=0    # extra per-word bonus grid tuned with lambda, e.g. -1:2:0.5
lm=                 # neural LM checkpoint (task lm)
dev=                # dev data dirs (space-separated) for tuning
device=cpu          # where the LM runs (cuda on a GPU node)

. utils/parse_options.sh

if [ $# -lt 2 ] || [ -z "$lm" ] || [ -z "$dev" ]; then
  echo "Usage: $0 [--weights GRID] [--length-bonuses GRID] --lm LM-MODEL --dev \"DEV-DATA-DIR...\" EXP DATA-DIR..." >&2
  exit 1
fi
exp=$1; shift
[ -f "$lm" ] || { echo "$0: $lm not found; train the neural LM first (utils/train.sh with an lm config)" >&2; exit 1; }
best=$exp/tune_lm/best.yaml
[ -f "$best" ] || { echo "$0: $best not found; tune alpha/beta first (utils/tune_lm.sh)" >&2; exit 1; }
nbest() { echo "$exp/decode_$(basename "$1")/beam/nbest.jsonl"; }
# shellcheck disable=SC2086
for d in $dev "$@"; do
  [ -f "$(nbest "$d")" ] || { echo "$0: $(nbest "$d") not found; beam-decode $d with --nbest N first" >&2; exit 1; }
done
value() { awk -v k="$1" '{ sub(/:/, "") } $1 == k { print $2; exit }' "$2"; }
alpha=$(value lm_weight "$best"); beta=$(value word_score "$best")

tune=$exp/rescore_tune
mkdir -p "$tune/log"
# shellcheck disable=SC2086
for d in $dev; do cat "$d/text"; done | sort > "$tune/ref.txt"
# shellcheck disable=SC2046,SC2086
$cmd "$tune/log/rescore.log" \
  python -m s2s.bin.rescore --nbest $(for d in $dev; do nbest "$d"; done) --lm-model "$lm" --out "$tune" \
    --ngram-weight="$alpha" --word-score="$beta" --tune --ref "$tune/ref.txt" --weights="$weights" \
    --length-bonuses="$length_bonuses" --device "$device"
lambda=$(value lm_weight "$tune/best_weights"); bonus=$(value length_bonus "$tune/best_weights")
echo "$0: lambda $lambda, length bonus $bonus (tuned on $dev; dev WER $(value wer "$tune/best_weights"))"
for d in "$@"; do
  out=$exp/decode_$(basename "$d")/rescore
  mkdir -p "$out/log"
  $cmd "$out/log/rescore.log" \
    python -m s2s.bin.rescore --nbest "$(nbest "$d")" --lm-model "$lm" --out "$out" --ngram-weight="$alpha" \
      --word-score="$beta" --lm-weight="$lambda" --length-bonus="$bonus" --device "$device"
done
