#!/usr/bin/env bash
# Fine-tuning example (init_from): a model trained on one set of voices, fine-tuned on another.
#
# Base: conf/train.yaml trained for --base-steps on the flite voices of data/train only. Then, for
# --ft-steps each on the espeak-ng voices of data/train (the engine of the held-out dev/test
# voices): the base fine-tuned (init_from: every tensor copied, same vocabulary), and the same
# model trained from scratch for comparison. Greedy WER on data/test for all three, as a table in
# RESULTS.md between "<!-- finetune: begin -->" and "<!-- finetune: end -->".
#
# Needs run.sh stages 1-3 (data/train, data/test with features, data/lang).
# Usage (from egs/mini): local/finetune.sh [--base-steps 400] [--ft-steps 150] [--nj 2] [--ngpu auto]
set -euo pipefail

base_steps=400
ft_steps=150
nj=2
ngpu=auto
train_config=conf/train.yaml

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

for f in data/train/feats.scp data/test/feats.scp data/lang/tokens.txt "$train_config"; do
  [ -f "$f" ] || { echo "$0: $f not found; run ./run.sh --stop-stage 3 first" >&2; exit 1; }
done
for engine in flite espeak-ng; do
  awk '{print $1}' data/train/spk2utt | grep "^${engine}_" > "data/.ft_$engine.spk" || true
  [ -s "data/.ft_$engine.spk" ] || { echo "$0: no $engine speakers in data/train" >&2; exit 1; }
  utils/subset_data_dir.sh --spk-list "data/.ft_$engine.spk" data/train "data/train_$engine"
  cp data/train/frontend.yaml data/train/cmvn.ark "data/train_$engine/"
done

train() {  # exp data steps [overrides...]
  local exp=$1 data=$2 steps=$3; shift 3
  utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" "$exp" -- --config $train_config --train_data "$data" \
    --valid_data data/dev --token_list data/lang --max_epochs 1000 --max_steps "$steps" "$@"
  utils/decode.sh --cmd "$decode_cmd" --nj $nj "$exp/decode_test/greedy" --model "$exp/model.pt" --data data/test
  python -m s2s.bin.score --ref data/test/text --hyp "$exp/decode_test/greedy/text" \
    --out-dir "$exp/decode_test/greedy/scoring" > /dev/null
  awk '/^%WER/ {print $2}' "$exp/decode_test/greedy/scoring/wer.txt"
}
# Every run keeps the global CMVN statistics of the whole training set, so the three models
# see identically normalised features.
base=$(train exp/ft_base data/train_flite $base_steps --cmvn_file data/train/cmvn.ark | tail -n 1)
tuned=$(train exp/ft_tuned data/train_espeak-ng $ft_steps --cmvn_file data/train/cmvn.ark \
  --init_from exp/ft_base/model.pt | tail -n 1)
scratch=$(train exp/ft_scratch data/train_espeak-ng $ft_steps --cmvn_file data/train/cmvn.ark | tail -n 1)

python - "$base_steps" "$ft_steps" "$base" "$tuned" "$scratch" <<'PY'
import re
import sys
from pathlib import Path

base_steps, ft_steps, base, tuned, scratch = sys.argv[1:]
table = f"""<!-- finetune: begin -->
| model (conf/train.yaml) | training data | steps | test greedy WER % |
| --- | --- | --- | --- |
| base | flite voices of data/train | {base_steps} | {base} |
| base fine-tuned (init_from) | espeak-ng voices of data/train | {base_steps} + {ft_steps} | {tuned} |
| from scratch | espeak-ng voices of data/train | {ft_steps} | {scratch} |
<!-- finetune: end -->"""
path = Path("RESULTS.md")
text = path.read_text() if path.exists() else ""
if "<!-- finetune: begin -->" in text:
    text = re.sub(r"<!-- finetune: begin -->.*?<!-- finetune: end -->", lambda m: table, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n## Fine-tuning (local/finetune.sh)\n\n" + table + "\n"
tmp = path.with_suffix(".md.tmp")
tmp.write_text(text)
tmp.replace(path)
print(table)
PY
