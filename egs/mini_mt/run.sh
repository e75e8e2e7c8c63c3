#!/usr/bin/env bash
# egs/mini_mt: English -> Spanish translation on 2 CPU cores, offline, in under 20 minutes.
# English: WordNet 3.0's usage examples (Debian wordnet-base); Spanish: Apertium's translation of
# them (Debian apertium-en-es), the teacher a small Transformer learns to imitate. Dev and test
# sentences are never in training.
#
# Stages (numbers are fixed):
#   0  data: data/{train,dev,test}/text (English) and text.es (Apertium's Spanish)
#   1  tokens: one joint SentencePiece BPE over both sides (--nbpe) -> data/lang
#   2  train the model (--train-config) -> exp/<tag>/model.pt (last checkpoints averaged)
#   3  translate dev and test greedily and with beam search (--beam, --lenpen), score BLEU/chrF with
#      sacrebleu against Apertium's references, rows in RESULTS.md
#
# Then: echo "the children played in the garden" | s2s-translate exp/<tag>/model.pt
set -euo pipefail

if [ ! -f run.sh ] || [ "$(cd "$(dirname "$0")" && pwd -P)" != "$(pwd -P)" ]; then
  echo "$0: run the recipe from its directory: cd $(dirname "$0") && ./$(basename "$0") ..." >&2; exit 1
fi

stage=0               # first stage to run
stop_stage=3          # last stage to run
nbpe=4000             # joint SentencePiece BPE pieces
max_train=0           # use at most this many training pairs (0: all, about 33700)
train_config=conf/transformer.yaml  # model and training (conf/transformer_gpu.yaml: fp16 on a GPU)
train_args=""         # extra overrides for s2s.bin.train, e.g. "--max_epochs 2"
ngpu=auto             # GPUs for training (auto: all visible; 0: CPU)
beam=4                # beam width of the beam-search rows
lenpen=0.6            # GNMT length penalty alpha
tag=""                # experiment name (default: the train config's name)
force=false           # re-run selected stages even when up to date

. ./cmd.sh
. ./path.sh
. utils/parse_options.sh
. utils/stage.sh
check_stages 0 3

[ -z "$tag" ] && tag=$(basename "${train_config%.*}")
exp=exp/$tag
[ -f "$train_config" ] || { echo "$0: $train_config not found (--train-config)" >&2; exit 1; }
mkdir -p exp

data() {
  python local/prepare_data.py --out data --max-train "$max_train"
}
stage 0 data data --args "$max_train" --out "data/train/text.es data/dev/text.es data/test/text.es"

tokens() {
  python -m s2s.bin.prepare_tokens --text data/train/text data/train/text.es --out data/lang --kind bpe --no-transcript-checks \
    --vocab-size "$nbpe"
}
stage 1 tokens tokens --args "$nbpe" --in "data/train/text data/train/text.es" --out "data/lang/tokens.txt"

train() {
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu $ngpu $exp -- --config $train_config \
    --train_data data/train --valid_data data/dev --token_list data/lang $train_args
}
stage 2 train train --key "$tag" --args "$train_args" \
  --in "$train_config data/train/text.es data/dev/text.es data/lang/tokens.txt" --out "$exp/model.pt"

translate() {
  local s mode dir
  for s in dev test; do
    for mode in greedy beam; do
      dir=$exp/translate_$s/$mode
      mkdir -p "$dir"
      $decode_cmd "$dir/log/translate.log" python -m s2s.bin.translate $exp/model.pt data/$s/text --table \
        --beam "$([ $mode = greedy ] && echo 1 || echo "$beam")" --lenpen "$lenpen" --output "$dir/text"
      python -m s2s.bin.score --task mt --ref data/$s/text.es --hyp "$dir/text" --results RESULTS.md \
        --tag "$tag ($mode$([ $mode = beam ] && echo " $beam, lenpen $lenpen"))" --set "$s"
    done
  done
}
stage 3 translate translate --key "$tag" --args "$beam $lenpen" --in "$exp/model.pt" \
  --out "$exp/translate_dev/beam/text $exp/translate_test/beam/text"

if stage_selected 3 && [ -f RESULTS.md ]; then
  echo; echo "== RESULTS.md (every run recorded in this directory) =="; cat RESULTS.md
fi
