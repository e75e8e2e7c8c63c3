#!/usr/bin/env bash
# Download and extract the WMT16 English-German data OpenSeq2Seq's en-de models were trained on
# (its scripts/get_en_de.sh): Europarl v7, CommonCrawl and News Commentary v11 for training,
# newstest2013 (dev) and newstest2014 (test, the filtered 2737-sentence set that
# `sacrebleu -t wmt14 -l en-de` scores). Transfers resume; a re-run skips what the .done markers
# show complete.
#
#   local/download.sh [options] DOWNLOAD_DIR
#     --base-url URL    one mirror root holding every file under its path below (tests, a local copy);
#                       default: each file from its statmt.org address
#     --md5-file FILE   "name md5" lines overriding or adding sums (another mirror, tests)
#
# Checksums: the test sets are checked against the MD5 sums sacrebleu publishes for them
# (sacrebleu.dataset: wmt13 test.tgz, wmt14 test-filtered.tgz). statmt.org publishes none for the
# training corpora: their SHA-256 is recorded in the .done marker at the first download and
# checked on every later use.
set -euo pipefail

base_url=
md5_file=

# name -> path under the mirror root, and the default address
declare -A path=(
  [de-en.tgz]=europarl/v7/de-en.tgz
  [training-parallel-commoncrawl.tgz]=wmt13/training-parallel-commoncrawl.tgz
  [training-parallel-nc-v11.tgz]=wmt16/translation-task/training-parallel-nc-v11.tgz
  [test.tgz]=wmt13/test.tgz
  [test-filtered.tgz]=wmt14/test-filtered.tgz
)
declare -A url=(
  [de-en.tgz]=https://www.statmt.org/europarl/v7/de-en.tgz
  [training-parallel-commoncrawl.tgz]=https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz
  [training-parallel-nc-v11.tgz]=https://data.statmt.org/wmt16/translation-task/training-parallel-nc-v11.tgz
  [test.tgz]=https://statmt.org/wmt13/test.tgz
  [test-filtered.tgz]=https://statmt.org/wmt14/test-filtered.tgz
)
# Published MD5 sums (sacrebleu 2.x, sacrebleu/dataset/__init__.py: wmt13 and wmt14).
declare -A md5=(
  [test.tgz]=48eca5d02f637af44e85186847141f67
  [test-filtered.tgz]=84c597844c1542e29c2aff23aaee4310
)
# Where each archive is extracted (two are called test.tgz upstream, so they get their own dirs).
declare -A into=(
  [de-en.tgz]=train [training-parallel-commoncrawl.tgz]=train [training-parallel-nc-v11.tgz]=train
  [test.tgz]=wmt13 [test-filtered.tgz]=wmt14
)

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }
die() { echo "$0: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
    --md5-file) md5_file=${2:?--md5-file needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 1; }
dir=$1
if [ -n "$md5_file" ]; then
  [ -f "$md5_file" ] || die "--md5-file $md5_file: file not found"
  while read -r name sum _; do
    [ -n "$name" ] && md5[$name]=$sum
  done < "$md5_file"
fi
mkdir -p "$dir"
for name in de-en.tgz training-parallel-commoncrawl.tgz training-parallel-nc-v11.tgz test.tgz test-filtered.tgz; do
  src=${url[$name]}
  [ -n "$base_url" ] && src=${base_url%/}/${path[$name]}
  mkdir -p "$dir/${into[$name]}"
  python -m s2s.bin.download --url "$src" --dest "$dir/archives/$name" ${md5[$name]:+--md5 "${md5[$name]}"} \
    --extract-to "$dir/${into[$name]}"
done
echo "$0: WMT16 en-de data in $dir"
