#!/usr/bin/env bash
# Download and extract LibriSpeech (OpenSLR 12) and its LM resources (OpenSLR 11), each file
# checked against its published MD5. A re-run skips what its .done markers show complete and
# resumes an interrupted transfer.
#
#   local/download.sh [options] DOWNLOAD_DIR
#     --base-url URL       mirror root holding 12/ and 11/ (default https://www.openslr.org/resources)
#     --parts "P ..."      OpenSLR 12 parts (default: all seven)
#     --lm-files "F ..."   OpenSLR 11 files, saved in DOWNLOAD_DIR/lm ("" for none; default: all six)
#     --md5-file FILE      "name md5" lines overriding the sums below (another mirror, tests)
#     --remove-archive     delete each part's .tar.gz once extracted (its marker stays)
#
# Result: DOWNLOAD_DIR/LibriSpeech/<part>/<speaker>/<chapter>/... and DOWNLOAD_DIR/lm/<file>.
set -euo pipefail

base_url=https://www.openslr.org/resources
parts="dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
lm_files="librispeech-lm-norm.txt.gz librispeech-vocab.txt librispeech-lexicon.txt 4-gram.arpa.gz 3-gram.pruned.1e-7.arpa.gz 3-gram.pruned.3e-7.arpa.gz"
md5_file=
remove_archive=

# Published MD5 sums (openslr.org/resources/12/md5sum.txt and resources/11/md5sum.txt).
declare -A md5=(
  [dev-clean.tar.gz]=42e2234ba48799c1f50f24a7926300a1
  [dev-other.tar.gz]=c8d0bcc9cca99d4f8b62fcc847357931
  [test-clean.tar.gz]=32fa31d27d2e1cad72775fee3f4849a9
  [test-other.tar.gz]=fb5a50374b501bb3bac4815ee91d3135
  [train-clean-100.tar.gz]=2a93770f6d5c6c964bc36631d331a522
  [train-clean-360.tar.gz]=c0e676e450a7ff2f54aeade5171606fa
  [train-other-500.tar.gz]=d1a0fd59409feb2c614ce4d30c387708
  [librispeech-lm-norm.txt.gz]=c83c64c726a1aedfe65f80aa311de402
  [librispeech-vocab.txt]=bf3cc7a50112831ed8b0afa40cae96a5
  [librispeech-lexicon.txt]=28f72663f6bfed7cd346283c064c315b
  [4-gram.arpa.gz]=6abdcd5b055bd482e4f9defe91d40408
  [3-gram.pruned.1e-7.arpa.gz]=9a0f1325bcaf3a0f7b7be4be10823c2a
  [3-gram.pruned.3e-7.arpa.gz]=8f67ec741827742eee05799ab7605b50
)

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
die() { echo "$0: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
    --parts) parts=${2?--parts needs a value}; shift 2 ;;
    --lm-files) lm_files=${2?--lm-files needs a value}; shift 2 ;;
    --md5-file) md5_file=${2:?--md5-file needs a value}; shift 2 ;;
    --remove-archive) remove_archive=--remove-archive; shift ;;
    -h|--help) usage; exit 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 1; }
dir=$1
base_url=${base_url%/}

if [ -n "$md5_file" ]; then
  [ -f "$md5_file" ] || die "--md5-file $md5_file: file not found"
  while read -r name sum _; do
    case "$name" in ''|'#'*) continue ;; esac
    md5[$name]=$sum
  done < "$md5_file"
fi

# The downloader is stdlib-only Python in the s2s package: use the project's venv when it
# exists (path.sh may already have put it first on PATH), else any python3.
root=$(cd "$(dirname "$0")/../../.." && pwd)
python=${S2S_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

mkdir -p "$dir"
for part in $parts; do
  name=$part.tar.gz
  [ -n "${md5[$name]:-}" ] || die "unknown LibriSpeech part '$part' (no MD5 for $name); known parts: dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
  "$python" -m s2s.bin.download --url "$base_url/12/$name" --dest "$dir/$name" \
    --md5 "${md5[$name]}" --extract-to "$dir" $remove_archive
  [ -d "$dir/LibriSpeech/$part" ] || die "$dir/$name did not contain LibriSpeech/$part/; is --base-url right?"
done

for name in $lm_files; do
  [ -n "${md5[$name]:-}" ] || die "unknown LibriSpeech LM resource '$name'; known: librispeech-lm-norm.txt.gz librispeech-vocab.txt librispeech-lexicon.txt 4-gram.arpa.gz 3-gram.pruned.1e-7.arpa.gz 3-gram.pruned.3e-7.arpa.gz"
  "$python" -m s2s.bin.download --url "$base_url/11/$name" --dest "$dir/lm/$name" --md5 "${md5[$name]}"
done
echo "$0: done: parts [$parts] in $dir/LibriSpeech, LM files [$lm_files] in $dir/lm"
