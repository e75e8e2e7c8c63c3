#!/usr/bin/env bash
# Augmentation on egs/mini: the default model (conf/train.yaml) trained again with other on-the-fly
# waveform augmentation (--noise-conf) and SpecAugment (--specaug-conf) settings ("null": off), greedy
# WER on dev and test next to the default run's (exp/train, run.sh stage 5), as rows of a table in
# RESULTS.md between "<!-- augment: begin -->" and "<!-- augment: end -->" (a row per --name,
# replaced when run again).
#
# Usage (from egs/mini, after ./run.sh --stop-stage 5):
#   local/augment.sh --name none                      # no augmentation at all
#   local/augment.sh --name speed --noise-conf "[{type: speed, factors: [0.9, 1.0, 1.1]}]"
#   local/augment.sh --name speed_specaug --noise-conf "[{type: speed, factors: [0.9, 1.0, 1.1]}]" \
#     --specaug-conf "{freq_masks: 2, freq_width: 6, time_masks: 2, time_width: 6}"   # the default
set -euo pipefail

name=""
noise_conf="null"
specaug_conf="null"
train_config=conf/train.yaml
train_args=""      # extra overrides for s2s.bin.train, e.g. "--max_steps 100"
nj=2
ngpu=auto

# shellcheck source=../cmd.sh
. ./cmd.sh
# shellcheck source=../path.sh
. ./path.sh
. utils/parse_options.sh

[ -n "$name" ] || { echo "$0: give --name (the experiment's tag: exp/train_<name>)" >&2; exit 1; }
for f in data/train/feats.scp data/train/wav.scp data/dev/feats.scp data/test/feats.scp \
         exp/train/decode_test/greedy/scoring/wer.txt; do
  [ -f "$f" ] || { echo "$0: $f not found; run ./run.sh --stop-stage 5 first" >&2; exit 1; }
done
exp=exp/train_$name
start=$SECONDS
# shellcheck disable=SC2086
utils/train.sh --cmd "$cuda_cmd" --ngpu "$ngpu" $exp -- --config $train_config --train_data data/train \
  --valid_data data/dev --token_list data/lang --noise_conf "$noise_conf" --specaug_conf "$specaug_conf" $train_args
minutes=$(( (SECONDS - start + 30) / 60 ))
for s in dev test; do
  utils/decode.sh --cmd "$decode_cmd" --nj $nj $exp/decode_$s/greedy --model $exp/model.pt --data data/$s
  python -m s2s.bin.score --ref data/$s/text --hyp $exp/decode_$s/greedy/text \
    --out-dir $exp/decode_$s/greedy/scoring > /dev/null
done

python - "$name" "$noise_conf" "$specaug_conf" "$minutes" <<'PY'
import re
import sys
from pathlib import Path

name, noise, specaug, minutes = sys.argv[1:]


def wer(exp, s):
    text = Path(f"{exp}/decode_{s}/greedy/scoring/wer.txt").read_text()
    return re.search(r"%WER ([\d.]+)", text).group(1)


head = ("| model (conf/train.yaml) | noise_conf | specaug_conf | training (min) | test greedy WER % | "
        "dev greedy WER % |\n| --- | --- | --- | --- | --- | --- |")
base = (f"| train (the default: conf/train.yaml, run.sh stage 5) | as in conf/train.yaml | as in conf/train.yaml | - | "
        f"{wer('exp/train', 'test')} | {wer('exp/train', 'dev')} |")
row = f"| train_{name} | `{noise}` | `{specaug}` | {minutes} | {wer(f'exp/train_{name}', 'test')} | " \
      f"{wer(f'exp/train_{name}', 'dev')} |"
path = Path("RESULTS.md")
text = path.read_text()
m = re.search(r"<!-- augment: begin -->\n(.*?)<!-- augment: end -->", text, flags=re.S)
rows = [r for r in (m.group(1).splitlines() if m else []) if r.startswith("| train_") and
        not r.startswith(f"| train_{name} |")]
table = "<!-- augment: begin -->\n" + "\n".join([head, base, *rows, row]) + "\n<!-- augment: end -->"
if m:
    text = text[:m.start()] + table + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n## Augmentation (local/augment.sh)\n\n" + table + "\n"
tmp = path.with_suffix(".md.tmp")
tmp.write_text(text)
tmp.replace(path)
print(table)
PY
