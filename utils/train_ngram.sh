#!/usr/bin/env bash
# Train a KenLM n-gram for beam search on text normalised to the acoustic model's tokens.
#
# Usage: utils/train_ngram.sh [--order 4] [--prune "0 0 1"] [--unit word|token] [--oov drop|skip]
#            [--corpus FILE] <text> <lang-dir> <out-dir>
#   <text>      Kaldi text table (utt words...), e.g. data/train/text
#   <lang-dir>  holds tokens.txt (and bpe.model), e.g. data/lang
#   <out-dir>   gets ngram.arpa, ngram.bin (+ .vocab) and lexicon.txt, e.g. data/lm
# --corpus adds a plain-text corpus (one sentence a line, .gz ok). Skipped when the outputs exist
# and the inputs and options are unchanged. Needs KenLM's lmplz (bash tools/install_kenlm.sh).
set -euo pipefail

order=4
prune=
unit=word
oov=drop
corpus=

. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "Usage: $0 [--order N] [--prune \"0 0 1\"] [--unit word|token] [--oov drop|skip] [--corpus FILE] <text> <lang-dir> <out-dir>" >&2
  exit 1
fi
text=$1; lang=$2; out=$3
repo=$(dirname "$(dirname "$(realpath "${BASH_SOURCE[0]}")")")
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
python=python3; [ -x "$repo/.venv/bin/python" ] && python=$repo/.venv/bin/python

[ -f "$text" ] || { echo "$0: $text not found" >&2; exit 1; }
[ -f "$lang/tokens.txt" ] || { echo "$0: $lang/tokens.txt not found; run python -m s2s.bin.prepare_tokens first" >&2; exit 1; }

stamp=$out/.ngram.stamp
want=$({ echo "$order|$prune|$unit|$oov|$corpus"; md5sum < "$text"; md5sum < "$lang/tokens.txt";
         [ -z "$corpus" ] || md5sum < "$corpus"; } | md5sum | cut -d' ' -f1)
if [ -f "$out/ngram.arpa" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$0: $out/ngram.arpa is up to date; skipping"
  exit 0
fi
rm -f "$stamp"
args=(--text "$text" --tokens "$lang/tokens.txt" --order "$order" --unit "$unit" --oov "$oov" --out "$out")
[ -z "$corpus" ] || args+=(--corpus "$corpus")
# shellcheck disable=SC2206
[ -z "$prune" ] || args+=(--prune $prune)
"$python" -m s2s.bin.train_ngram "${args[@]}"
echo "$want" > "$stamp"
