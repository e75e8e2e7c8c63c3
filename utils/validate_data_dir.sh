#!/usr/bin/env bash
# Usage: validate_data_dir.sh [--no-feats] [--no-text] [--no-wav] <data-dir>
# Checks a Kaldi data dir: required files, LC_ALL=C sorting, no duplicate keys,
# utt2spk/spk2utt agreement, the same utterances in every table, non-empty
# transcripts. Errors name the file, the line and the fix; exit 1.
# feats.scp is required unless --no-feats (as in Kaldi).
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
