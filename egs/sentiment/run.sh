#!/usr/bin/env bash
# egs/sentiment: sentiment analysis by transfer from a word-level LM (OpenSeq2Seq's
# example_configs/transfer): the classifier is the LSTM LM with a 2-class head, its embedding and LSTM
# layers initialised from the LM (init_from), on IMDB (Maas et al. 2011) or binary SST (Socher et al.
# 2013). GPU training.
#
# The LM, --lm-model:
#   PATH   a trained LSTM LM checkpoint, e.g. ../wikitext/exp/lstm_wkt2/model.pt (OpenSeq2Seq's
#          WKT2-CPT); its vocabulary and sizes are used, and --lm-lang (its lang dir, e.g.
#          ../wikitext/data/lang) lower-cases words it only knows in lower case
#   ""     (default) stage 2 trains one on the corpus's own text (conf/lm.yaml; IMDB: the training
#          and 50,000 unlabelled reviews)
#   none   no LM: the classifier trains from scratch (OpenSeq2Seq's imdb-from-scratch), on the
#          vocabulary of stage 2
#
# Stages (numbers are fixed):
#   0  download --dataset into --download-dir (IMDB: aclImdb_v1.tar.gz, MD5-checked; SST: the three CSVs)
#   1  data: data/{train,dev,test} (text, utt2label), data/labels.txt, data/lm (the LM text)
#   2  LM: the word vocabulary of data/lm (data/lang, --vocab-size words) and, without --lm-model,
#      an LM trained on data/lm -> exp/lm/model.pt
#   3  train the classifier (--train-config; init_from the LM) -> exp/<tag>/model.pt
#   4  evaluate on dev and test (accuracy, per-class scores, confusion) -> RESULTS.md
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=4          # last stage to run
dataset=imdb          # imdb or sst2
download_dir=downloads
imdb_url=http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
imdb_md5=7c2ac02c03563afcf9b574c7e56c153a  # as torchtext's IMDB dataset checks it
sst_url=https://raw.githubusercontent.com/NVIDIA/sentiment-discovery/master/data/binary_sst
dev_reviews=1000      # IMDB: training reviews held out as dev (OpenSeq2Seq: 1000)
lm_model=""           # PATH of a trained LSTM LM, "" to train one on the corpus (stage 2), none for no LM
lm_lang=""            # the lang dir of --lm-model (optional: lower-case fallback in stage 1)
lm_config=conf/lm.yaml
vocab_size=50000      # stage 2: most frequent words of data/lm kept (+ <unk>)
train_config=""       # default: conf/imdb_wkt2.yaml or conf/sst2_wkt2.yaml
train_args=""         # extra overrides for the classifier's s2s.bin.train, e.g. "--max_epochs 2"
lm_args=""            # extra overrides for the LM's s2s.bin.train
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
tag=""                # experiment name (default: <dataset>_<train config name>)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 4

case "$dataset" in
  imdb) src=$download_dir/aclImdb; [ -z "$train_config" ] && train_config=conf/imdb_wkt2.yaml ;;
  sst2) src=$download_dir/sst2; [ -z "$train_config" ] && train_config=conf/sst2_wkt2.yaml ;;
  *) echo "$0: --dataset must be imdb or sst2, got '$dataset'" >&2; exit 1 ;;
esac
for c in "$train_config" "$lm_config"; do
  [ -f "$c" ] || { echo "$0: $c not found" >&2; exit 1; }
done
case "$lm_model" in
  "") lm=exp/lm/model.pt; lm_outs="data/lang/tokens.txt exp/lm/model.pt" ;;
  none) lm=""; lm_outs="data/lang/tokens.txt" ;;
  *) [ -f "$lm_model" ] || { echo "$0: --lm-model $lm_model: file not found" >&2; exit 1; }
     lm=$lm_model; lm_outs="" ;;
esac
[ -z "$tag" ] && tag=${dataset}_$(basename "${train_config%.*}")
exp=exp/$tag
mkdir -p exp

download() {
  if [ "$dataset" = imdb ]; then
    python -m s2s.bin.download --url "$imdb_url" --dest "$download_dir/" --md5 "$imdb_md5" \
      --extract-to "$download_dir"
  else
    local f
    for f in train val test; do
      python -m s2s.bin.download --url "$sst_url/$f.csv" --dest "$src/$f.csv"
    done
  fi
}
stage 0 download download --args "$dataset" --out "$src"

data() {
  local opts=(--dataset "$dataset" --src "$src" --out data --dev "$dev_reviews")
  [ -n "$lm_lang" ] && opts+=(--lm-lang "$lm_lang")
  python local/prepare_data.py "${opts[@]}"
}
stage 1 data data --args "$dataset $dev_reviews $lm_lang" --in "$src" \
  --out "data/train/text data/dev/text data/test/text data/lm/text data/labels.txt"

lm_stage() {
  if [ -n "$lm_model" ] && [ "$lm_model" != none ]; then
    echo "$0: stage 2: --lm-model $lm_model given; no LM to train"; return 0
  fi
  python -m s2s.bin.prepare_tokens --text data/lm/text --out data/lang --kind word --vocab-size "$vocab_size" \
    --no-transcript-checks
  [ "$lm_model" = none ] && return 0
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu exp/lm -- --config $lm_config \
    --train_data data/lm --valid_data data/dev --token_list data/lang $lm_args
}
stage 2 lm lm_stage --args "$lm_model $vocab_size $lm_args" --in "$lm_config data/lm/text" \
  --out "$lm_outs"

train() {
  local init=()
  if [ -n "$lm" ]; then init=(--init_from "$lm"); else init=(--token_list data/lang); fi
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config "${init[@]}" \
    --train_data data/train --valid_data data/dev $train_args
}
stage 3 train train --key "$tag" --args "$lm_model $train_args" \
  --in "$train_config data/train/text data/dev/text $lm" --out "$exp/model.pt"

evaluate() {
  local s
  for s in dev test; do
    $decode_cmd "$exp/log/eval_$s.log" python -m s2s.bin.evaluate_classifier --model "$exp/model.pt" \
      --data data/$s --out "$exp/eval_$s"
  done
  python local/results.py --dataset "$dataset" --stats data/stats.json --lm "${lm:-none}" --results RESULTS.md "$exp"
}
stage 4 evaluate evaluate --key "$tag" --in "$exp/model.pt data/dev/text data/test/text" --out "$exp/eval_test/scores.json"

if stage_selected 4 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
