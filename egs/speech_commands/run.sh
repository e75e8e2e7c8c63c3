#!/usr/bin/env bash
# Keyword spotting on Google Speech Commands (v0.01: v1-12, v1-30; v0.02: v2-35).
#
#   ./run.sh [--stage N] [--stop-stage M] [--task v1-12|v1-30|v2-35] [--version 1|2] [--train-config conf/X.yaml]
#
# Stages (numbers are fixed):
#   0 download  downloads/speech_commands_v0.0<version>: checksum, resumable, safe extraction
#   1 data      data/<task>/{train,dev,test} (official lists: dev = validation_list.txt,
#               test = testing_list.txt), data/<task>/labels.txt; data/noise (the training
#               stretch of _background_noise_, for noise mixing)
#   2 features  log-mel dumps (--feats-config) in data/<task>/<feats>/{train,dev,test}, global CMVN
#   3 train     exp/<tag>/model.pt: utils/train.sh (task classify, model from --train-config)
#   4 evaluate  dev and test: accuracy, per-class precision/recall, confusion matrix (text and PNG)
#               in exp/<tag>/eval_<set>/; a row per set in RESULTS.md
# A stage whose outputs exist and whose inputs and arguments are unchanged is skipped.
# The published models need their own features: see the header of each conf/*.yaml.
set -euo pipefail

# The recipe's files (cmd.sh, path.sh, conf/, local/) are relative to its directory.
if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0
stop_stage=4
force=false                       # re-run the selected stages even when up to date
version=1                         # dataset release: 1 (v0.01) or 2 (v0.02)
task=v1-12                        # v1-12 (10 words + _unknown_ + _silence_), v1-30, v2-35
base_url=http://download.tensorflow.org/data  # where the .tar.gz archives are
sha256_file=                      # "name sha256" lines replacing the built-in sums (mirrors, tests)
downloads=downloads               # archives and the extracted corpus
nj=2                              # parallel feature jobs
feats_config=conf/logmel64.yaml   # frontend of stage 2
train_config=conf/train_matchboxnet_small.yaml  # model + training (task: classify)
train_args=                       # extra overrides for s2s.bin.train, e.g. "--max_epochs 5"
tag=                              # experiment name (default: <task>_<train config name>)
ngpu=auto                         # GPUs for training (auto: all visible; 0: CPU)

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 4

case "$task:$version" in
  v1-12:1|v1-12:2|v1-30:1|v2-35:2) ;;
  *) echo "$0: --task $task does not go with --version $version (v1-30 needs 1, v2-35 needs 2)" >&2; exit 1 ;;
esac
for f in "$feats_config" "$train_config"; do
  [ -f "$f" ] || { echo "$0: $f not found" >&2; exit 1; }
done
corpus=$downloads/speech_commands_v0.0$version
feats_name=$(basename "$feats_config" .yaml)
fdata=data/$task/$feats_name
tag=${tag:-${task}_$(basename "$train_config" .yaml)}
exp=exp/$tag

download() {
  local/download.sh --version "$version" --base-url "$base_url" ${sha256_file:+--sha256-file "$sha256_file"} \
    "$downloads"
}
stage 0 download download --args "$version $base_url" \
  --out "$corpus/validation_list.txt $corpus/testing_list.txt"

data_prep() {
  local/data_prep.py --task "$task" "$corpus" "data/$task"
  # Noise mixing draws from the same first 80 % of each recording that the train
  # split's _silence_ clips come from, so no dev/test silence audio is trained on.
  mkdir -p data/noise
  local f
  for f in "$corpus"/_background_noise_/*.wav; do
    echo "$(basename "$f" .wav) sox $(realpath "$f") -t wav - trim 0 $(soxi -D "$f" | awk '{print $1 * 0.8}') |"
  done | sort > data/noise/wav.scp
  [ -s data/noise/wav.scp ] || { echo "$0: no recordings in $corpus/_background_noise_" >&2; return 1; }
}
stage 1 data data_prep --args "$task" --in "$corpus/validation_list.txt $corpus/testing_list.txt" \
  --out "data/$task/labels.txt data/noise/wav.scp"

features() {
  local s f
  for s in train dev test; do
    mkdir -p "$fdata/$s"
    for f in wav.scp text utt2spk spk2utt utt2dur; do cp "data/$task/$s/$f" "$fdata/$s/$f"; done
    utils/make_feats.sh --cmd "$train_cmd" --nj "$nj" --conf "$feats_config" \
      "$fdata/$s" "exp/make_feats/$task/$feats_name/$s" "feats/$task/$feats_name/$s"
  done
  cp "data/$task/labels.txt" "$fdata/labels.txt"
  utils/compute_cmvn_stats.sh "$fdata/train"
}
stage 2 features features --args "$task" --in "$feats_config data/$task/labels.txt data/$task/train/wav.scp" \
  --out "$fdata/train/feats.scp $fdata/dev/feats.scp $fdata/test/feats.scp $fdata/train/cmvn.ark"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" "$exp" -- --config "$train_config" \
    --train_data "$fdata/train" --valid_data "$fdata/dev" --labels "$fdata/labels.txt" $train_args
}
stage 3 train train --key "$tag" --args "$task $tag $train_args" --in "$train_config $fdata/train/feats.scp" \
  --out "$exp/model.pt"

evaluate() {
  local s
  for s in dev test; do
    $decode_cmd "$exp/log/eval_$s.log" \
      python -m s2s.bin.evaluate_classifier --model "$exp/model.pt" --data "$fdata/$s" \
        --out "$exp/eval_$s" --results RESULTS.md --tag "$tag" --set "$task/$s"
    echo "$tag $task/$s: $(head -n 1 "$exp/eval_$s/classification.txt")"
  done
}
stage 4 evaluate evaluate --key "$tag" --args "$task $tag" --in "$exp/model.pt" \
  --out "$exp/eval_dev/confusion.png $exp/eval_test/confusion.png"
