#!/usr/bin/env bash
# Usage: fix_data_dir.sh <data-dir>
# Sorts every table, keeps only the utterances present in all of them (and with
# a non-empty transcript), rebuilds spk2utt. Originals are copied to
# <data-dir>/.backup; reports how many utterances were removed and why.
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
