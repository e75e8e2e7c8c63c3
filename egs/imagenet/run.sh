#!/usr/bin/env bash
# egs/imagenet: ImageNet (ILSVRC-2012) classification with ResNet-50: v1.5 with LARC and a cosine
# policy (conf/resnet50_v15_larc.yaml), or v2 as OpenSeq2Seq trained it (conf/resnet50_v2_poly.yaml,
# conf/resnet50_v2_novograd.yaml). GPU training (mixed precision, DDP with --ngpu); egs/mini_image
# runs the same path on 2 CPU cores.
#
# ImageNet needs an account (image-net.org, or Kaggle's imagenet-object-localization-challenge), so
# give the tree you have:
#   --imagenet DIR        an unpacked tree: DIR/train/<wnid>/ and DIR/val/ (class folders, or flat with
#                         DIR/LOC_val_solution.csv), or Kaggle's DIR/ILSVRC/Data/CLS-LOC/...; the class
#                         order comes from DIR/LOC_synset_mapping.txt when present
#   --imagenet-url URL    an archive of such a tree on your mirror (zip or tar), fetched into
#                         --download-dir and unpacked there (stage 0; --md5 SUM checks it)
#
# Stages (numbers are fixed):
#   0  download and unpack --imagenet-url (skipped with --imagenet)
#   1  data: data/{train,val} (images.scp, text), data/labels.txt, data/synsets.txt; every image's
#      header is read once (--check-images false skips it)
#   2  train --train-config -> exp/<tag>/model.pt
#   3  evaluate on val: top-1, top-5, per-class scores, confusion -> RESULTS.md
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=3          # last stage to run
imagenet=""           # an unpacked ImageNet tree (or use --imagenet-url)
imagenet_url=""       # an archive of the tree to fetch and unpack
md5=""                # its MD5 (optional)
download_dir=downloads
check_images=true     # read every image's header in stage 1
train_config=conf/resnet50_v15_larc.yaml
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 3

if [ -z "$imagenet" ] && [ -z "$imagenet_url" ]; then
  echo "$0: give --imagenet DIR (an unpacked ImageNet tree) or --imagenet-url URL (an archive of one)" >&2; exit 1
fi
src=${imagenet:-$download_dir/imagenet}
[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
[ -f "$train_config" ] || { echo "$0: $train_config not found (--train-config)" >&2; exit 1; }
mkdir -p exp

download() {
  if [ -z "$imagenet_url" ]; then
    echo "$0: stage 0: --imagenet $imagenet given; nothing to download"; return 0
  fi
  local opts=(--url "$imagenet_url" --dest "$download_dir/" --extract-to "$download_dir/imagenet")
  [ -n "$md5" ] && opts+=(--md5 "$md5")
  python -m s2s.bin.download "${opts[@]}"
}
stage 0 download download --args "$imagenet_url $md5" --out "$src"

data() {
  [ -d "$src" ] || { echo "$0: $src: no such directory (--imagenet)" >&2; return 1; }
  python -m s2s.recipe.image_folder imagenet "$src" data --check-images "$check_images"
}
stage 1 data data --args "$src" --out "data/train/images.scp data/val/images.scp data/labels.txt"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config \
    --train_data data/train --valid_data data/val $train_args
}
stage 2 train train --key "$tag" --args "$train_args" --in "$train_config data/train/images.scp data/val/images.scp" \
  --out "$exp/model.pt"

evaluate() {
  $decode_cmd "$exp/log/eval_val.log" python -m s2s.bin.evaluate_classifier --model "$exp/model.pt" \
    --data data/val --out "$exp/eval_val" --batch-size 128
  python local/results.py --results RESULTS.md "$exp"
}
stage 3 evaluate evaluate --key "$tag" --in "$exp/model.pt data/val/images.scp" --out "$exp/eval_val/scores.json"

if stage_selected 3 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md =="; cat RESULTS.md
fi
