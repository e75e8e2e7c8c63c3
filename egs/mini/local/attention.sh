#!/usr/bin/env bash
# Attention models on egs/mini: LAS (conf/train_las.yaml) and joint CTC-attention
# (conf/train_jca.yaml) trained on the default recipe's data and tokens, decoded with beam search
# (s2s.bin.decode --decoder attention; joint CTC prefix scores for models with a CTC head), their
# WERs next to the CTC model's (exp/train, run.sh stage 5) as rows of a table in RESULTS.md between
# "<!-- attention: begin -->" and "<!-- attention: end -->" (a row per config, replaced when run again).
#
# Usage (from egs/mini, after ./run.sh --stop-stage 5):
#   local/attention.sh --train-config conf/train_jca.yaml
#   local/attention.sh --train-config conf/train_las.yaml --ctc-weight 0
set -euo pipefail

train_config=conf/train_jca.yaml
train_args=""      # extra overrides for s2s.bin.train, e.g. "--max_steps 100"
beam=10            # attention beam width
ctc_weight=""      # joint decoding weight (default: 0.3 with a CTC head, else 0)
nj=2
ngpu=auto

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

for f in "$train_config" data/train/feats.scp data/dev/feats.scp data/test/feats.scp exp/train/decode_test/greedy/scoring/wer.txt; do
  [ -f "$f" ] || { echo "$0: $f not found; run ./run.sh --stop-stage 5 first (or check --train-config)" >&2; exit 1; }
done
name=$(basename "${train_config%.*}")
exp=exp/$name
start=$SECONDS
# shellcheck disable=SC2086
utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" $exp -- --config "$train_config" --train_data data/train \
  --valid_data data/dev --token_list data/lang $train_args
minutes=$(( (SECONDS - start + 30) / 60 ))
for s in dev test; do
  utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/attention --model $exp/model.pt --data data/$s \
    --decoder attention --att-beam $beam ${ctc_weight:+--ctc-weight $ctc_weight}
  python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_$s/attention/text \
    --out-dir $exp/decode_$s/attention/scoring > /dev/null
done

python - "$name" "$train_config" "$beam" "${ctc_weight:-default}" "$minutes" <<'PY'
import re
import sys
from pathlib import Path

name, config, beam, ctc_weight, minutes = sys.argv[1:]


def wer(path):
    return re.search(r"%WER ([\d.]+)", Path(path).read_text()).group(1)


head = ("| model | config | decoding | training (min) | test WER % | dev WER % |\n"
        "| --- | --- | --- | --- | --- | --- |")
base = (f"| train (CTC) | conf/train.yaml | greedy | - | {wer('exp/train/decode_test/greedy/scoring/wer.txt')} | "
        f"{wer('exp/train/decode_dev/greedy/scoring/wer.txt')} |")
row = (f"| {name} | {config} | attention beam {beam}, ctc_weight {ctc_weight} | {minutes} | "
       f"{wer(f'exp/{name}/decode_test/attention/scoring/wer.txt')} | "
       f"{wer(f'exp/{name}/decode_dev/attention/scoring/wer.txt')} |")
path = Path("RESULTS.md")
text = path.read_text()
m = re.search(r"<!-- attention: begin -->\n(.*?)<!-- attention: end -->", text, flags=re.S)
rows = [r for r in (m.group(1).splitlines() if m else []) if r.startswith("| train_") and
        not r.startswith(f"| {name} |")]
table = "<!-- attention: begin -->\n" + "\n".join([head, base, *rows, row]) + "\n<!-- attention: end -->"
if m:
    text = text[:m.start()] + table + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n## Attention models (local/attention.sh)\n\n" + table + "\n"
tmp = path.with_suffix(".md.tmp")
tmp.write_text(text)
tmp.replace(path)
print(table)
PY
