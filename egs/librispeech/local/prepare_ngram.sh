#!/usr/bin/env bash
# The word n-gram for beam search: LM-DIR (stage 0's downloads/lm) -> OUT/ngram.arpa (+ ngram.bin).
#
#   local/prepare_ngram.sh [--ngram openslr|kenlm] [--order 4] [--lm-dir downloads/lm] OUT
#
# openslr: the published 4-gram.arpa.gz of OpenSLR 11 (trained on the LibriSpeech LM corpus).
# kenlm:   an --order n-gram estimated with KenLM's lmplz from librispeech-lm-norm.txt.gz.
# With KenLM's build_binary on PATH (tools/ builds it) a binary copy OUT/ngram.bin is written
# too: it loads in seconds where the 4-gram ARPA takes minutes in every decoding job.
set -euo pipefail

ngram=openslr       # openslr | kenlm
order=4             # n-gram order for --ngram kenlm
lm_dir=downloads/lm # where stage 0 put the OpenSLR 11 files
memory=50%          # lmplz memory budget (-S)

. utils/parse_options.sh
[ $# -eq 1 ] || { echo "Usage: $0 [--ngram openslr|kenlm] [--order N] [--lm-dir DIR] OUT" >&2; exit 1; }
out=$1
mkdir -p "$out"
rm -f "$out/ngram.arpa" "$out/ngram.bin"

case $ngram in
  openslr)
    src=$lm_dir/4-gram.arpa.gz
    [ -f "$src" ] || { echo "$0: $src not found; add 4-gram.arpa.gz to run.sh --lm-files and run stage 0" >&2; exit 1; }
    gunzip -c "$src" > "$out/ngram.arpa.tmp" ;;
  kenlm)
    text=$lm_dir/librispeech-lm-norm.txt.gz
    [ -f "$text" ] || { echo "$0: $text not found; add librispeech-lm-norm.txt.gz to --lm-files and run stage 0" >&2; exit 1; }
    command -v lmplz > /dev/null || { echo "$0: KenLM's lmplz is not on PATH; build it with tools/setup.sh or use --ngram openslr" >&2; exit 1; }
    gunzip -c "$text" | lmplz -o "$order" -S "$memory" -T "$out" --discount_fallback > "$out/ngram.arpa.tmp" ;;
  *)
    echo "$0: --ngram must be openslr or kenlm, got '$ngram'" >&2; exit 1 ;;
esac
if command -v build_binary > /dev/null; then
  build_binary trie "$out/ngram.arpa.tmp" "$out/ngram.bin.tmp" && mv "$out/ngram.bin.tmp" "$out/ngram.bin"
fi
mv "$out/ngram.arpa.tmp" "$out/ngram.arpa"
echo "$0: $out/ngram.arpa ($ngram$([ "$ngram" = kenlm ] && echo ", order $order"))$([ -f "$out/ngram.bin" ] && echo " and ngram.bin")"
