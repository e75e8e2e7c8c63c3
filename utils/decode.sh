#!/usr/bin/env bash
# Decode with N parallel jobs of s2s.bin.decode and merge their shares into OUT.
#
#   utils/decode.sh [--cmd utils/run.pl] [--nj 4] OUT DECODE-ARGS...
#   e.g. utils/decode.sh --nj 4 exp/x/decode_dev/greedy --model exp/x/model.pt --data data/dev --dump-logprobs
#        utils/decode.sh exp/x/decode_dev/beam --logprobs exp/x/decode_dev/greedy/logprobs.scp \
#          --tokens data/lang/tokens.txt --settings exp/x/decode.yaml --nbest 16
#
# DECODE-ARGS are s2s.bin.decode's (python -m s2s.bin.decode --help); --settings FILE takes the
# decoder, LM, lexicon, weights and pruning from a decode.yaml (utils/tune_lm.sh writes one).
#
# Writes OUT/text, and OUT/logprobs.scp and OUT/nbest.jsonl when the jobs wrote shares of them.
# OUT/text appears last, so a crash never leaves a text that looks complete.
set -euo pipefail

cmd=utils/run.pl   # job runner
nj=4               # parallel jobs

. utils/parse_options.sh

if [ $# -lt 2 ]; then
  echo "Usage: $0 [--cmd CMD] [--nj N] OUT DECODE-ARGS..." >&2
  exit 1
fi
out=$1; shift
mkdir -p "$out/log"
rm -f "$out/text"
# shellcheck disable=SC2086
$cmd JOB=1:$nj "$out/log/decode.JOB.log" python -m s2s.bin.decode --out "$out" --nj $nj --job JOB "$@"

for j in $(seq $nj); do
  [ -f "$out/text.$j" ] || { echo "$0: job $j left no $out/text.$j; see $out/log/decode.$j.log" >&2; exit 1; }
done
if [ -f "$out/logprobs.1.scp" ]; then
  for j in $(seq $nj); do cat "$out/logprobs.$j.scp"; done | sort > "$out/logprobs.scp"
fi
if [ -f "$out/nbest.1.jsonl" ]; then
  for j in $(seq $nj); do cat "$out/nbest.$j.jsonl"; done > "$out/nbest.jsonl"
fi
for j in $(seq $nj); do cat "$out/text.$j"; done | sort > "$out/text.tmp"
rm -f "$out"/text.[0-9]* "$out"/nbest.[0-9]*.jsonl
mv "$out/text.tmp" "$out/text"
echo "$0: $(wc -l < "$out/text") utterances decoded into $out/text"
