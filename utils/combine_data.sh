#!/usr/bin/env bash
# Usage: combine_data.sh <dest-dir> <src-dir1> <src-dir2> ...
# Concatenates data dirs (utterance ids must be unique across them) and fixes
# the result; a table missing in some sources is left out.
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
