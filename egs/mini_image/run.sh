#!/usr/bin/env bash
# egs/mini_image: image classification on 2 CPU cores, offline: small ResNets (v1.5, and v2 as
# OpenSeq2Seq's) on the UCI handwritten digits scikit-learn ships, through the same path as
# egs/imagenet: an ImageNet-style folder tree, image data dirs, the image task with LARC and a
# cosine policy, top-1/top-5 evaluation with the confusion matrix.
#
# Stages (numbers are fixed):
#   0  images: the digits as PNG files in images/{train,val,test}/<digit>/ (60/20/20 per class)
#   1  data: data/{train,val,test} (images.scp, text) from the folders, data/labels.txt
#   2  train one model per config of --configs -> exp/<config name>/model.pt
#   3  evaluate on val and test (top-1, top-5, per-class scores, confusion plot) -> RESULTS.md, next to
#      a scikit-learn SVM on the same split
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=3          # last stage to run
configs="conf/resnet_v15.yaml conf/resnet_v2.yaml"  # one model each (exp/<config name>)
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 5"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 3

for c in $configs; do
  [ -f "$c" ] || { echo "$0: $c not found (--configs)" >&2; exit 1; }
done
mkdir -p exp
models=$(for c in $configs; do echo -n "exp/$(basename "${c%.*}")/model.pt "; done)

images() {
  python local/prepare_digits.py --out images
}
stage 0 images images --out "images/labels.txt images/stats.json"

data() {
  local s
  for s in train val test; do
    python -m s2s.recipe.image_folder folder images/$s data/$s --labels images/labels.txt
  done
  cp images/labels.txt data/labels.txt
}
stage 1 data data --in "images/labels.txt images/stats.json" \
  --out "data/train/images.scp data/val/images.scp data/test/images.scp data/labels.txt"

train() {
  local c
  for c in $configs; do
    # shellcheck disable=SC2086
    utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu "exp/$(basename "${c%.*}")" -- --config "$c" \
      --train_data data/train --valid_data data/val $train_args
  done
}
stage 2 train train --args "$configs $train_args" --in "$configs data/train/images.scp data/val/images.scp" \
  --out "$models"

evaluate() {
  local m s
  for m in $models; do
    for s in val test; do
      $decode_cmd "$(dirname "$m")/log/eval_$s.log" python -m s2s.bin.evaluate_classifier --model "$m" \
        --data data/$s --out "$(dirname "$m")/eval_$s"
    done
  done
  python local/results.py --data data --results RESULTS.md $models
}
stage 3 evaluate evaluate --in "$models data/val/images.scp data/test/images.scp" --out "RESULTS.md"

if stage_selected 3 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
