#!/usr/bin/env bash
# Download and extract WikiText-2 or WikiText-103 (Merity et al. 2016, the tokenized "v1" archives),
# each checked against its MD5 (the sums torchtext's WikiText2/WikiText103 datasets carry). A re-run
# skips what the .done marker shows complete and resumes an interrupted transfer.
#
#   local/download.sh [options] DOWNLOAD_DIR
#     --dataset NAME       wikitext-2 (default) or wikitext-103
#     --base-url URL       mirror root holding the archives
#                          (default https://s3.amazonaws.com/research.metamind.io/wikitext)
#     --md5-file FILE      "archive md5" lines overriding the sums below (another mirror, tests)
#
# Result: DOWNLOAD_DIR/<dataset>/wiki.{train,valid,test}.tokens
set -euo pipefail

dataset=wikitext-2
base_url=https://s3.amazonaws.com/research.metamind.io/wikitext
md5_file=

declare -A md5=(
  [wikitext-2-v1.zip]=542ccefacc6c27f945fb54453812b3cd
  [wikitext-103-v1.zip]=9ddaacaf6af0710eda8c456decff7832
)

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }
die() { echo "$0: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) dataset=${2:?--dataset needs a value}; shift 2 ;;
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
    --md5-file) md5_file=${2:?--md5-file needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 1; }
dir=$1
base_url=${base_url%/}
case "$dataset" in
  wikitext-2|wikitext-103) ;;
  *) die "--dataset must be wikitext-2 or wikitext-103, got '$dataset'" ;;
esac

if [ -n "$md5_file" ]; then
  [ -f "$md5_file" ] || die "--md5-file $md5_file: file not found"
  while read -r name sum _; do
    case "$name" in ''|'#'*) continue ;; esac
    md5[$name]=$sum
  done < "$md5_file"
fi

root=$(cd "$(dirname "$0")/../../.." && pwd)
python=${S2S_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

name=$dataset-v1.zip
mkdir -p "$dir"
"$python" -m s2s.bin.download --url "$base_url/$name" --dest "$dir/$name" --md5 "${md5[$name]}" --extract-to "$dir"
for s in train valid test; do
  [ -f "$dir/$dataset/wiki.$s.tokens" ] || die "$dir/$name did not contain $dataset/wiki.$s.tokens; is --base-url right?"
done
echo "$0: done: $dir/$dataset"
