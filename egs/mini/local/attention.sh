#!/usr/bin/env bash
# Attention models on egs/mini: LAS (conf/train_las.yaml) and joint CTC-attention
# (conf/train_jca.yaml) trained on the default recipe's data and tokens, decoded with beam search
# (s2s.bin.decode --decoder attention; joint CTC prefix scores for models with a CTC head), their
# WERs next to the CTC model's (exp/train, run.sh stage 5) as rows of a table in RESULTS.md between
# "<!-- attention: begin -->" and "<!-- attention: end -->" (a row per config, replaced when run again).
#
# Usage (from egs/mini, after ./run.sh --stop-stage 5; --lm data/lm/ngram.bin after stage 6):
#   local/attention.sh --train-config conf/train_jca.yaml
#   local/attention.sh --train-config conf/train_las.yaml --ctc-weight 0
#   local/attention.sh --train-config conf/train_jca_ft.yaml --ctc-weight 0.5  # from exp/train's CTC model
#   local/attention.sh --train-config conf/train_jca_ft.yaml --skip-train true --ctc-weight 0.5 \
#     --lm data/lm/ngram.bin --lm-weight 1.5 --word-score 3
set -euo pipefail

train_config=conf/train_jca.yaml
train_args=""      # extra overrides for s2s.bin.train, e.g. "--max_steps 100"
beam=10            # attention beam width
ctc_weight=""      # joint decoding weight (default: 0.3 with a CTC head, else 0)
lenpen=0           # GNMT length penalty
lm=""              # shallow fusion: a word n-gram (data/lm/ngram.bin, run.sh stage 6) or an LM checkpoint
lm_weight=0.5
word_score=0
tag=""             # name of the decoding (default: attention, or attention_lm with --lm)
skip_train=false   # decode an already trained model again (another --ctc-weight, --lm, ...)
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
[ -z "$lm" ] || [ -f "$lm" ] || { echo "$0: --lm $lm not found (data/lm/ngram.bin: ./run.sh --stop-stage 6)" >&2; exit 1; }
name=$(basename "${train_config%.*}")
exp=exp/$name
[ -n "$tag" ] || tag=attention${lm:+_lm}
minutes=-
if ! $skip_train; then
  start=$SECONDS
  # shellcheck disable=SC2086
  utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" $exp -- --config "$train_config" --train_data data/train \
    --valid_data data/dev --token_list data/lang $train_args
  minutes=$(( (SECONDS - start + 30) / 60 ))
fi
[ -f $exp/model.pt ] || { echo "$0: $exp/model.pt not found; run without --skip-train first" >&2; exit 1; }
decoding="attention beam $beam, ctc_weight ${ctc_weight:-default}"
[ "$lenpen" = 0 ] || decoding="$decoding, lenpen $lenpen"
case "$lm" in
  "") ;;
  *.pt) decoding="$decoding, $lm weight $lm_weight" ;;
  *) decoding="$decoding, $lm weight $lm_weight word score $word_score" ;;
esac
for s in dev test; do
  utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/$tag --model $exp/model.pt --data data/$s \
    --decoder attention --att-beam $beam ${ctc_weight:+--ctc-weight $ctc_weight} --lenpen $lenpen \
    ${lm:+--lm $lm --lm-weight $lm_weight --word-score $word_score}
  python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_$s/$tag/text \
    --out-dir $exp/decode_$s/$tag/scoring > /dev/null
done

python - "$name" "$train_config" "$decoding" "$minutes" "$tag" <<'PY'
import re
import sys
from pathlib import Path

name, config, decoding, minutes, tag = sys.argv[1:]
label = name if tag == "attention" else f"{name} ({tag})"


def wer(path):
    return re.search(r"%WER ([\d.]+)", Path(path).read_text()).group(1)


head = ("| model | config | decoding | training (min) | test WER % | dev WER % |\n"
        "| --- | --- | --- | --- | --- | --- |")
base = (f"| train (CTC) | conf/train.yaml | greedy | - | {wer('exp/train/decode_test/greedy/scoring/wer.txt')} | "
        f"{wer('exp/train/decode_dev/greedy/scoring/wer.txt')} |")
row = (f"| {label} | {config} | {decoding} | {minutes} | "
       f"{wer(f'exp/{name}/decode_test/{tag}/scoring/wer.txt')} | "
       f"{wer(f'exp/{name}/decode_dev/{tag}/scoring/wer.txt')} |")
path = Path("RESULTS.md")
text = path.read_text()
m = re.search(r"<!-- attention: begin -->\n(.*?)<!-- attention: end -->", text, flags=re.S)
redone = ("| model |", "| --- |", "| train (CTC) |", f"| {label} |")  # header, CTC row, this row: written anew
rows = [r for r in (m.group(1).splitlines() if m else []) if r.startswith("| ") and not r.startswith(redone)]
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
