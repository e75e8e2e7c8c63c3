#!/usr/bin/env bash
# Usage: perturb_data_dir_speed.sh <factor> <src-dir> <dest-dir>
# Kaldi-style speed perturbation: utterance and speaker ids get the prefix
# sp<factor>-, wav.scp entries become sox pipes (sox -R <in> -t wav - speed <factor> |,
# chained after an existing pipe), utt2dur and segments are divided by the factor.
# Features are not copied: compute them again for <dest-dir>.
# Logic: s2s/recipe/datadir_tools.py (standard-library Python; runs before the venv exists).
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.datadir_tools "$(basename "$0")" "$@"
