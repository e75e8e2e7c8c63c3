#!/usr/bin/env bash
# Download and extract Google's Speech Commands (v0.01 or v0.02), checked against its SHA-256.
# A re-run skips what its .done markers show complete and resumes an interrupted transfer.
#
#   local/download.sh [options] DOWNLOAD_DIR
#     --version 1|2        dataset version (default 1: 30 words, 64,727 clips; 2: 35 words)
#     --base-url URL       where the archives are (default http://download.tensorflow.org/data)
#     --sha256-file FILE   "name sha256" lines overriding the sums below (another mirror, tests)
#     --remove-archive     delete the .tar.gz once extracted (its marker stays)
#
# Result: DOWNLOAD_DIR/speech_commands_v0.0<version>/<word>/*.wav, _background_noise_/,
# validation_list.txt, testing_list.txt (the archive has no top-level folder of its own).
set -euo pipefail

version=1
base_url=http://download.tensorflow.org/data
sha256_file=
remove_archive=

declare -A sha256=(
  [speech_commands_v0.01.tar.gz]=743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d
  [speech_commands_v0.02.tar.gz]=af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58
)

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }
die() { echo "$0: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
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
case "$version" in
  1|2) ;;
  *) die "--version $version: must be 1 (v0.01) or 2 (v0.02)" ;;
esac

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

name=speech_commands_v0.0$version.tar.gz
target=$dir/speech_commands_v0.0$version
mkdir -p "$target"
"$python" -m s2s.bin.download --url "$base_url/$name" --dest "$dir/$name" \
  --sha256 "${sha256[$name]}" --extract-to "$target" $remove_archive
for f in validation_list.txt testing_list.txt; do
  [ -f "$target/$f" ] || die "$target/$f missing after extraction; is --base-url right?"
done
echo "$0: done: $target"
