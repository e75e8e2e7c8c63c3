#!/usr/bin/env bash
# Rescore the beam search n-best lists with the neural LM (stage 8).
#
#   local/rescore_nnlm.sh [--lm-weight 0.5] --exp exp/NAME --lm exp/nnlm/model.pt SET...
#
# For each SET: EXP/decode_<SET>/beam/nbest.jsonl -> EXP/decode_<SET>/rescore/text, through
# python -m s2s.bin.rescore (the neural-LM rescoring entry point).
set -euo pipefail

lm_weight=0.5   # weight of the neural LM score added to the beam search score
exp=
lm=exp/nnlm/model.pt

. utils/parse_options.sh
[ $# -ge 1 ] && [ -n "$exp" ] || { echo "Usage: $0 [--lm-weight W] --exp EXP --lm LM SET..." >&2; exit 1; }
python -c "import s2s.bin.rescore" 2>/dev/null || {
  echo "$0: python -m s2s.bin.rescore (neural LM rescoring) is missing in this checkout; run.sh --use-nnlm false skips stage 8" >&2
  exit 1; }
[ -f "$lm" ] || { echo "$0: $lm not found; train the neural LM (run.sh stage 5 with --use-nnlm true)" >&2; exit 1; }
for s in "$@"; do
  nbest=$exp/decode_$s/beam/nbest.jsonl
  [ -f "$nbest" ] || { echo "$0: $nbest not found; run stage 7 with --use-ngram true" >&2; exit 1; }
  python -m s2s.bin.rescore --nbest "$nbest" --lm "$lm" --lm-weight "$lm_weight" --out "$exp/decode_$s/rescore"
  [ -f "$exp/decode_$s/rescore/text" ] || { echo "$0: s2s.bin.rescore wrote no $exp/decode_$s/rescore/text" >&2; exit 1; }
done
