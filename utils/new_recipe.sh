#!/usr/bin/env bash
# Usage: utils/new_recipe.sh [--from egs/TEMPLATE] egs/NAME
# Starts a recipe for your own corpus: copies egs/TEMPLATE (run.sh, cmd.sh, path.sh, conf/,
# README.md) to egs/NAME and links egs/NAME/utils to the shared utils/. Then
#   cd egs/NAME && ./run.sh --audio-dir /path/to/recordings
# (see egs/TEMPLATE/README.md). A recipe outside egs/ works too: its path.sh and utils are then
# links into this checkout, which must stay where it is.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
from=$root/egs/TEMPLATE
if [ "${1:-}" = --from ]; then from=$(cd "$2" && pwd); shift 2; fi
if [ $# -ne 1 ] || [[ $1 == -* ]]; then
  echo "Usage: $0 [--from RECIPE] egs/NAME" >&2; exit 1
fi
dest=$1
[ -e "$dest" ] && { echo "$0: $dest already exists; choose another name (nothing was changed)" >&2; exit 1; }
[ -f "$from/run.sh" ] || { echo "$0: $from/run.sh not found: --from takes a recipe directory" >&2; exit 1; }
parent=$(mkdir -p "$(dirname "$dest")" && cd "$(dirname "$dest")" && pwd -P)
tmp=$(mktemp -d "$parent/.new_recipe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for f in run.sh cmd.sh README.md; do [ -e "$from/$f" ] && cp -p "$from/$f" "$tmp/"; done
cp -rp "$from/conf" "$tmp/conf"
[ -d "$from/local" ] && cp -rp "$from/local" "$tmp/local"
if [ "$parent" = "$(cd "$root/egs" && pwd -P)" ]; then
  cp -p "$from/path.sh" "$tmp/path.sh"
  ln -s ../../utils "$tmp/utils"
else
  ln -s "$root/egs/TEMPLATE/path.sh" "$tmp/path.sh"
  ln -s "$root/utils" "$tmp/utils"
fi
mv "$tmp" "$parent/$(basename "$dest")"
trap - EXIT
echo "$0: created $dest from $from. Next:"
echo "  cd $dest && ./run.sh --audio-dir /path/to/recordings   # or your data/<set> dirs: ./run.sh --help"
