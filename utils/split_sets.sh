#!/usr/bin/env bash
# Usage: split_sets.sh [--seed 1] DATA OUT-ROOT NAME:PERCENT...
#   e.g. split_sets.sh data/all data train:90 dev:5 test:5
# Splits DATA into OUT-ROOT/NAME data dirs holding about those shares of its utterances: whole
# speakers per set (held-out speakers) when there are enough speakers, else random utterances.
# Details: s2s/recipe/folder.py.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
seed=1
if [ "${1:-}" = --seed ]; then seed=$2; shift 2; fi
[ $# -ge 3 ] || { echo "Usage: $0 [--seed N] DATA OUT-ROOT NAME:PERCENT..." >&2; exit 1; }
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m s2s.recipe.folder split --seed "$seed" "$@"
