#!/usr/bin/env bash
# egs/wikitext: word-level language modelling on WikiText-2 or WikiText-103 (Merity et al. 2016)
# with OpenSeq2Seq's LSTM LM configs (conf/lstm_wkt2.yaml, conf/lstm_wkt103.yaml; the F-LSTM and
# G-LSTM cells are lm_conf options: cell flstm + rank, cell glstm + groups). GPU training; see
# egs/mini_lm for the same path on 2 CPU cores.
#
# Stages (numbers are fixed):
#   0  download --dataset into --download-dir (MD5-checked, resumable): local/download.sh
#   1  data: data/{train,dev,test}/wiki.tokens (the stream) and text (for the vocabulary)
#   2  tokens: the closed word vocabulary of train -> data/lang (token_type word)
#   3  train --train-config -> exp/<tag>/model.pt
#   4  perplexity per word on dev and test (every line's end counted), RESULTS.md
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=4          # last stage to run
dataset=wikitext-2    # wikitext-2 or wikitext-103
download_dir=downloads
base_url=https://s3.amazonaws.com/research.metamind.io/wikitext  # mirror root holding the archives
md5_file=             # "archive md5" lines overriding the published sums (another mirror)
train_config=conf/lstm_wkt2.yaml  # conf/lstm_wkt103.yaml for WikiText-103
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 4

case "$dataset" in
  wikitext-2|wikitext-103) ;;
  *) echo "$0: --dataset must be wikitext-2 or wikitext-103, got '$dataset'" >&2; exit 1 ;;
esac
[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
[ -f "$train_config" ] || { echo "$0: $train_config not found (--train-config)" >&2; exit 1; }
mkdir -p exp

download() {
  local opts=(--dataset "$dataset" --base-url "$base_url")
  [ -n "$md5_file" ] && opts+=(--md5-file "$md5_file")
  local/download.sh "${opts[@]}" "$download_dir"
}
stage 0 download download --args "$dataset" --out "$download_dir/$dataset/wiki.test.tokens"

data() {
  python local/prepare_data.py --corpus "$download_dir/$dataset" --out data
}
stage 1 data data --args "$dataset" --in "$download_dir/$dataset/wiki.train.tokens" \
  --out "data/train/wiki.tokens data/dev/wiki.tokens data/test/wiki.tokens"

tokens() {
  python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang --kind word --no-transcript-checks
}
stage 2 tokens tokens --in "data/train/text" --out "data/lang/tokens.txt"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config \
    --train_data data/train/wiki.tokens --valid_data data/dev/wiki.tokens --token_list data/lang $train_args
}
stage 3 train train --key "$tag" --args "$train_args" \
  --in "$train_config data/train/wiki.tokens data/dev/wiki.tokens data/lang/tokens.txt" --out "$exp/model.pt"

evaluate() {
  local s
  for s in dev test; do
    $decode_cmd "$exp/log/ppl_$s.log" python -m s2s.bin.evaluate_lm "$exp/model.pt" data/$s/wiki.tokens \
      --out "$exp/ppl_$s.json"
  done
  python local/results.py --dataset "$dataset" --results RESULTS.md "$exp/model.pt"
}
stage 4 evaluate evaluate --key "$tag" --in "$exp/model.pt data/dev/wiki.tokens data/test/wiki.tokens" \
  --out "$exp/ppl_test.json"

if stage_selected 4 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
