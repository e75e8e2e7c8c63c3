#!/usr/bin/env bash
# Grid search of the n-gram weight alpha (--lm-weight) and word bonus beta (--word-score) on dev.
#
#   local/tune_lm_weights.sh [--cmd CMD] [--nj N] [--alphas "0.5 1 1.5 2"] [--betas "0 1 2"] [--beam 64] \
#       --lm data/lm/ngram.arpa --tokens data/lang/tokens.txt --exp exp/NAME DEV-SET...
#
# Beam-decodes each dev set's dumped log-probabilities (EXP/decode_<set>/greedy/logprobs.scp, from
# stage 7's greedy pass, so the network runs once) for every (alpha, beta), scores all dev sets
# together, and writes EXP/decode_tune/grid.txt ("alpha beta WER" per line) and
# EXP/decode_tune/best ("alpha beta" with the lowest pooled WER).
set -euo pipefail

cmd=utils/run.pl
nj=4
alphas="0.5 1.0 1.5 2.0"
betas="0.0 1.0 2.0"
beam=64
lm=
tokens=data/lang/tokens.txt
exp=

. utils/parse_options.sh
if [ $# -lt 1 ] || [ -z "$lm" ] || [ -z "$exp" ]; then
  echo "Usage: $0 [options] --lm LM --tokens TOKENS --exp EXP DEV-SET..." >&2; exit 1
fi
dir=$exp/decode_tune
mkdir -p "$dir"
rm -f "$dir/best" "$dir/grid.txt.tmp"
for s in "$@"; do cat data/$s/text; done | sort > "$dir/ref.txt"
for a in $alphas; do
  for b in $betas; do
    point=$dir/a${a}_b${b}
    for s in "$@"; do
      local/decode.sh --cmd "$cmd" --nj $nj "$point/$s" --logprobs "$exp/decode_$s/greedy/logprobs.scp" \
        --tokens "$tokens" --decoder beam --lm "$lm" --beam $beam --lm-weight $a --word-score $b > /dev/null
    done
    for s in "$@"; do cat "$point/$s/text"; done | sort > "$point/text"
    wer=$(python -m s2s.bin.score --ref "$dir/ref.txt" --hyp "$point/text" | awk '/^%WER/ {print $2}')
    echo "$a $b $wer" | tee -a "$dir/grid.txt.tmp"
  done
done
mv "$dir/grid.txt.tmp" "$dir/grid.txt"
sort -g -k3,3 "$dir/grid.txt" | head -n 1 | awk '{print $1, $2}' > "$dir/best.tmp"
mv "$dir/best.tmp" "$dir/best"
echo "$0: best on $*: alpha beta = $(cat "$dir/best") (WER $(sort -g -k3,3 "$dir/grid.txt" | head -n 1 | cut -d' ' -f3))"
