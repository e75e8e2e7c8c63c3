#!/usr/bin/env bash
# egs/mini_lm: word-level language models on 2 CPU cores, offline: an LSTM and the factorized
# (F-LSTM) and group (G-LSTM) cells of Kuchaiev & Ginsburg 2017 at the same layer sizes, trained as
# OpenSeq2Seq trains its WikiText LMs, on the definitions of WordNet 3.0 (Debian wordnet-base).
#
# Stages (numbers are fixed):
#   0  data: data/{train,dev,test}/text, WikiText-style (lower-cased tokens, words rarer than
#      --min-count in train -> <unk>); --max-train training lines
#   1  tokens: the word vocabulary of the training text -> data/lang (token_type word)
#   2  train one LM per config of --lm-configs -> exp/<config name>/model.pt
#   3  perplexity per word on dev and test (</s> counted) and parameter counts -> RESULTS.md
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=3          # last stage to run
max_train=30000       # training lines (0: all ~110k, 1.28M tokens)
min_count=3           # rarer training words become <unk>
lm_configs="conf/lstm.yaml conf/flstm.yaml conf/glstm.yaml"  # one model each (exp/<config name>)
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 3

for c in $lm_configs; do
  [ -f "$c" ] || { echo "$0: $c not found (--lm-configs)" >&2; exit 1; }
done
mkdir -p exp
models=$(for c in $lm_configs; do echo -n "exp/$(basename "${c%.*}")/model.pt "; done)

data() {
  python local/prepare_data.py --out data --max-train "$max_train" --min-count "$min_count"
}
stage 0 data data --args "$max_train $min_count" --out "data/train/text data/dev/text data/test/text"

tokens() {
  python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind word --no-transcript-checks
}
stage 1 tokens tokens --in "data/train/text" --out "data/lang/tokens.txt"

train() {
  local c
  for c in $lm_configs; do
    # shellcheck disable=SC2086
    utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu "exp/$(basename "${c%.*}")" -- --config "$c" \
      --train_data data/train --valid_data data/dev --token_list data/lang $train_args
  done
}
stage 2 train train --args "$lm_configs $train_args" --in "$lm_configs data/train/text data/dev/text data/lang/tokens.txt" \
  --out "$models"

evaluate() {
  local m s
  for m in $models; do
    for s in dev test; do
      $decode_cmd "$(dirname "$m")/log/ppl_$s.log" python -m s2s.bin.evaluate_lm "$m" data/$s \
        --out "$(dirname "$m")/ppl_$s.json"
    done
  done
  python local/results.py --stats data/stats.json --results RESULTS.md $models
}
stage 3 evaluate evaluate --in "$models data/dev/text data/test/text" --out "RESULTS.md"

if stage_selected 3 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
