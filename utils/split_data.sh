#!/usr/bin/env bash
# Usage: split_data.sh [--per-utt] <data-dir> <num-splits>
# Writes <data-dir>/split<N>/{1..N} (or split<N>utt with --per-utt), each a
# valid data dir. By default a speaker stays within one split.
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
