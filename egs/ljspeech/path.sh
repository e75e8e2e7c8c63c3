# shellcheck shell=bash
# Environment of the recipe: the project's venv, utils/ on PATH, C sorting.
# The root is found through symlinks, so a directory that links to these files works too.
S2S_ROOT=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -f "$S2S_ROOT/.venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$S2S_ROOT/.venv/bin/activate"
fi
export PATH=$S2S_ROOT/utils:$PATH
export PYTHONPATH=$S2S_ROOT${PYTHONPATH:+:$PYTHONPATH}
export LC_ALL=C
export PYTHONUNBUFFERED=1
