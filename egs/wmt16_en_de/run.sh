#!/usr/bin/env bash
# egs/wmt16_en_de: English -> German translation on WMT16 (OpenSeq2Seq's text2text/en-de recipes).
#
# Stages (numbers are fixed):
#   0  download: Europarl v7, CommonCrawl, News Commentary v11, newstest2013/2014 (local/download.sh;
#      --base-url for a mirror); skipped with --wmt-dir DIR holding the extracted files
#   1  data: data/{train,dev,test} with text (English) and text.de (local/prepare_data.py: Moses-style
#      1-80 words cleaning; dev newstest2013, test newstest2014 as sacrebleu -t wmt14 scores it)
#   2  tokens: one joint SentencePiece BPE of --nbpe pieces over both sides -> data/lang
#   3  train (--train-config; torchrun on every GPU, --num-nodes N through the cluster wrapper) and
#      average the last --avg-num epoch checkpoints -> exp/<tag>/model.pt
#   4  translate dev and test with beam --beam and length penalty --lenpen, score with sacrebleu
#      (cased, detokenised output, the signature printed) into RESULTS.md
#
# Configs (conf/): transformer_base, transformer_big (NovoGrad, the 28.0 row), gnmt_like, convs2s;
# the OpenSeq2Seq figures are in README.md.
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=4          # last stage to run
wmt_dir=""            # extracted WMT16 files already on disk (skips the download)
base_url=""           # a mirror root for stage 0 (default: statmt.org)
md5_file=""           # extra/overriding "name md5" lines for stage 0
nbpe=32000            # joint SentencePiece BPE pieces
train_config=conf/transformer_base.yaml
train_args=""         # extra overrides for s2s.bin.train
ngpu=auto             # GPUs per node (auto: all on the training node; 0: CPU)
num_nodes=1           # nodes (SLURM/SGE through $cuda_cmd)
avg_num=5             # epoch checkpoints averaged into model.pt
beam=4                # beam width (OpenSeq2Seq's Transformer: 4)
lenpen=0.6            # GNMT length penalty alpha (0.6)
nj=4                  # translation jobs
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 4

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
[ -f "$train_config" ] || { echo "$0: $train_config not found (--train-config)" >&2; exit 1; }
src_dir=${wmt_dir:-downloads}
mkdir -p exp

download() {
  local opts=()
  [ -n "$base_url" ] && opts+=(--base-url "$base_url")
  [ -n "$md5_file" ] && opts+=(--md5-file "$md5_file")
  local/download.sh "${opts[@]}" downloads
}
[ -z "$wmt_dir" ] && stage 0 download download --args "$base_url" --out "downloads/wmt14/test/newstest2014-deen-ref.de.sgm"

data() {
  python local/prepare_data.py "$src_dir" data
}
stage 1 data data --args "$src_dir" --out "data/train/text data/dev/text data/test/text"

tokens() {
  python -m s2s.bin.prepare_tokens --text data/train/text data/train/text.de --out data/lang --kind bpe --no-transcript-checks \
    --vocab-size "$nbpe"
}
stage 2 tokens tokens --args "$nbpe" --in "data/train/text data/train/text.de" --out "data/lang/tokens.txt"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu --num-nodes $num_nodes --avg-num $avg_num --avg-kind epoch $exp -- \
    --config $train_config --train_data data/train --valid_data data/dev --token_list data/lang $train_args
}
stage 3 train train --key "$tag" --args "$train_args $avg_num" \
  --in "$train_config data/train/text.de data/dev/text.de data/lang/tokens.txt" --out "$exp/model.pt"

translate() {
  local s dir j
  for s in dev test; do
    dir=$exp/translate_$s/beam$beam
    mkdir -p "$dir/split"
    # $nj jobs over contiguous shares of the sentences, merged in order.
    python - "data/$s/text" "$dir/split" "$nj" <<'PY'
import sys
from pathlib import Path
lines = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines(keepends=True)
out, nj = Path(sys.argv[2]), int(sys.argv[3])
for j in range(nj):
    (out / f"text.{j + 1}").write_text("".join(lines[j * len(lines) // nj:(j + 1) * len(lines) // nj]), encoding="utf-8")
PY
    $decode_cmd JOB=1:"$nj" "$dir/log/translate.JOB.log" python -m s2s.bin.translate $exp/model.pt \
      "$dir/split/text.JOB" --table --beam "$beam" --lenpen "$lenpen" --output "$dir/split/hyp.JOB"
    for j in $(seq "$nj"); do cat "$dir/split/hyp.$j"; done > "$dir/text.tmp"
    mv "$dir/text.tmp" "$dir/text"
    python -m s2s.bin.score --task mt --ref data/$s/text.de --hyp "$dir/text" --results RESULTS.md \
      --tag "$tag (beam $beam, lenpen $lenpen)" --set "$s"
  done
}
stage 4 translate translate --key "$tag" --args "$beam $lenpen $nj" --in "$exp/model.pt" \
  --out "$exp/translate_test/beam$beam/text"

if stage_selected 4 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md (every run recorded in this directory) =="; cat RESULTS.md
fi
