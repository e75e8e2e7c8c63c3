# shellcheck shell=bash
# Environment of a recipe (the same file in every egs/*/): the project's venv, utils/ and KenLM
# on PATH, the project on PYTHONPATH, C sorting, unbuffered Python output. The project root is
# found from this file's real location, so a directory of links to a recipe (and a cluster job
# that sources ./path.sh) gets the same environment.
S2S_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -f "$S2S_ROOT/.venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$S2S_ROOT/.venv/bin/activate"
fi
export PATH=$S2S_ROOT/utils:$S2S_ROOT/tools/kenlm/bin:$PATH
export PYTHONPATH=$S2S_ROOT${PYTHONPATH:+:$PYTHONPATH}
export LC_ALL=C
export PYTHONUNBUFFERED=1
