#!/usr/bin/env bash
# Download and extract LibriTTS (OpenSLR 60), each archive checked against its SHA-256 (the sums
# torchaudio's LIBRITTS dataset carries; OpenSLR publishes none for resource 60). A re-run skips
# what its .done markers show complete and resumes an interrupted transfer.
#
#   local/download.sh [options] DOWNLOAD_DIR
#     --base-url URL       mirror root holding 60/ (default https://www.openslr.org/resources)
#     --parts "P ..."      parts (default: dev-clean test-clean train-clean-100 train-clean-360)
#     --sha256-file FILE   "name sha256" lines overriding the sums below (another mirror, tests)
#     --remove-archive     delete each archive once extracted (its marker stays)
#
# Result: DOWNLOAD_DIR/LibriTTS/<part>/<speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav
# (24 kHz) with .normalized.txt and .original.txt beside each, plus the corpus's top-level files.
set -euo pipefail

base_url=https://www.openslr.org/resources
parts="dev-clean test-clean train-clean-100 train-clean-360"
sha256_file=
remove_archive=

declare -A sha256=(
  [dev-clean.tar.gz]=da0864e1bd26debed35da8a869dd5c04dfc27682921936de7cff9c8a254dbe1a
  [dev-other.tar.gz]=d413eda26f3a152ac7c9cf3658ef85504dfb1b625296e5fa83727f5186cca79c
  [test-clean.tar.gz]=234ea5b25859102a87024a4b9b86641f5b5aaaf1197335c95090cde04fe9a4f5
  [test-other.tar.gz]=33a5342094f3bba7ccc2e0500b9e72d558f72eb99328ac8debe1d9080402f10d
  [train-clean-100.tar.gz]=c5608bf1ef74bb621935382b8399c5cdd51cd3ee47cec51f00f885a64c6c7f6b
  [train-clean-360.tar.gz]=ce7cff44dcac46009d18379f37ef36551123a1dc4e5c8e4eb73ae57260de4886
  [train-other-500.tar.gz]=e35f7e34deeb2e2bdfe4403d88c8fdd5fbf64865cae41f027a185a6965f0a5df
)

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
die() { echo "$0: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
    --parts) parts=${2?--parts needs a value}; shift 2 ;;
    --sha256-file) sha256_file=${2:?--sha256-file needs a value}; shift 2 ;;
    --remove-archive) remove_archive=--remove-archive; shift ;;
    -h|--help) usage; exit 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 1; }
dir=$1
base_url=${base_url%/}

if [ -n "$sha256_file" ]; then
  [ -f "$sha256_file" ] || die "--sha256-file $sha256_file: file not found"
  while read -r name sum _; do
    case "$name" in ''|'#'*) continue ;; esac
    sha256[$name]=$sum
  done < "$sha256_file"
fi

root=$(cd "$(dirname "$0")/../../.." && pwd)
python=${S2S_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

mkdir -p "$dir"
for part in $parts; do
  name=$part.tar.gz
  [ -n "${sha256[$name]:-}" ] || die "unknown LibriTTS part '$part'; known parts: dev-clean dev-other test-clean test-other train-clean-100 train-clean-360 train-other-500"
  "$python" -m s2s.bin.download --url "$base_url/60/$name" --dest "$dir/$name" \
    --sha256 "${sha256[$name]}" --extract-to "$dir" $remove_archive
  [ -d "$dir/LibriTTS/$part" ] || die "$dir/$name did not contain LibriTTS/$part/; is --base-url right?"
done
echo "$0: done: parts [$parts] in $dir/LibriTTS"
