#!/usr/bin/env bash
# Tune the n-gram weight alpha and the word bonus beta for beam search on dev sets, over the
# log-probabilities their greedy decoding dumped (the network does not run again), with
# s2s.bin.tune_lm: the LM is loaded once and the points are decoded by --nj processes.
#
#   utils/tune_lm.sh [--cmd "$decode_cmd"] [--nj 4] [--alphas 0:2:0.25] [--betas -1:3:0.5] [--beam 64] \
#       [--search grid] [--lexicon LEX] --lm LM [--tokens data/lang/tokens.txt] EXP DEV-DATA-DIR...
#   e.g. utils/tune_lm.sh --lm data/lm/ngram.bin exp/jasper data/dev_clean data/dev_other
#
# Reads EXP/decode_<set>/greedy/logprobs.scp for each dev data dir data/<set> (utils/decode.sh
# --dump-logprobs writes it) and pools the sets (one WER over all of them). Writes
# EXP/tune_lm/grid.txt ("alpha beta WER" per point), EXP/tune_lm/best.yaml (lm_weight,
# word_score, wer, ...) and EXP/decode.yaml beside EXP/model.pt: beam search with this LM, the
# best weights and the pruning, which `utils/decode.sh ... --settings EXP/decode.yaml` and
# `s2s-transcribe EXP/model.pt` then use.
# Pruning (--beam-threshold, --token-beam) keeps s2s.bin.decode's defaults unless given in
# --extra, so the tuned WER is the decoded one. Log: OUT/log/tune_lm.log.
set -euo pipefail

cmd=utils/run.pl       # job runner (the recipe's $decode_cmd)
nj=4                   # decoding processes for the grid
alphas=0:2:0.25        # n-gram weights tried: start:stop:step or a,b,c
betas=-1:3:0.5         # word insertion bonuses tried
beam=64                # beam width
search=grid            # grid (every point) or coordinate (line searches, fewer points)
lm=                    # KenLM model (ARPA or binary)
lexicon=               # lexicon (default: the LM's words spelled in the tokens)
tokens=data/lang/tokens.txt  # the model's tokens
extra=                 # more s2s.bin.tune_lm options, e.g. "--beam-threshold 15"

. utils/parse_options.sh

if [ $# -lt 2 ] || [ -z "$lm" ]; then
  echo "Usage: $0 [options] --lm LM [--tokens TOKENS] EXP DEV-DATA-DIR..." >&2
  exit 1
fi
exp=$1; shift
out=$exp/tune_lm
mkdir -p "$out/log"
args=()
for d in "$@"; do
  scp=$exp/decode_$(basename "$d")/greedy/logprobs.scp
  [ -f "$d/text" ] || { echo "$0: $d/text not found: a dev set needs its reference transcripts" >&2; exit 1; }
  [ -f "$scp" ] || { echo "$0: $scp not found; decode $d with --dump-logprobs first (utils/decode.sh)" >&2; exit 1; }
  args+=(--logprobs "$scp")
done
for d in "$@"; do cat "$d/text"; done | sort > "$out/ref.txt"
[ -n "$lexicon" ] && args+=(--lexicon "$lexicon")
[ -f "$exp/model.pt" ] && args+=(--decoding-for "$exp/model.pt")
# shellcheck disable=SC2086
$cmd --num-threads "$nj" "$out/log/tune_lm.log" \
  python -m s2s.bin.tune_lm "${args[@]}" --ref "$out/ref.txt" --tokens "$tokens" --lm "$lm" --beam "$beam" \
    --alpha="$alphas" --beta="$betas" --search "$search" --nj "$nj" --grid-out "$out/grid.txt" \
    --out "$out/best.yaml" $extra
grep "^best:" "$out/log/tune_lm.log" | sed "s|^|$0: $*: |"
