#!/usr/bin/env bash
# Usage: subset_data_dir.sh [--first|--last|--shortest] <data-dir> <num-utts> <dest-dir>
#        subset_data_dir.sh --utt-list <file> <data-dir> <dest-dir>
#        subset_data_dir.sh --spk-list <file> <data-dir> <dest-dir>
# Default: <num-utts> utterances spread evenly over the sorted list.
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
