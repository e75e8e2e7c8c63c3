#!/usr/bin/env bash
# Set up everything s2s needs on a fresh Debian machine; fast and idempotent when done.
#   tools/setup.sh            Debian packages, .venv with torch + s2s + test/LM extras, KenLM binaries
# Environment: S2S_SKIP_APT=1 skips apt-get (no root), S2S_TORCH overrides the torch requirement.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=$root/.venv
stamp=$root/tools/setup.done
# The stamp records the inputs of the set-up; a change in them re-runs it.
want=$(cat setup.py tools/setup.sh tools/install_kenlm.sh 2>/dev/null | sha1sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

# Everything a minimal Debian 12/13 with only python3 lacks, named explicitly (not through
# Recommends): the venv module and headers for packages that compile (kenlm), a C++
# toolchain and cmake + boost for KenLM's lmplz/build_binary, sox, the speech engines and
# festival's voice and lexicon, Apertium (en-es) and WordNet for egs/mini_mt, shellcheck for the lint test.
apt_pkgs="python3-venv python3-dev g++ make cmake pkg-config sox libsox-fmt-all flite espeak-ng festival festvox-kallpc16k festlex-cmu apertium apertium-en-es wordnet-base shellcheck libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"
missing=""
for p in $apt_pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ] && [ "${S2S_SKIP_APT:-0}" != 1 ]; then
  echo "tools/setup.sh: installing Debian packages:$missing"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

python3 - <<'PY' || { echo "tools/setup.sh: s2s needs Python >= 3.10 (python3 is $(python3 -V 2>&1)); install a newer python3" >&2; exit 1; }
import sys
sys.exit(sys.version_info < (3, 10))
PY
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { echo "tools/setup.sh: python3 -m venv failed; install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
fi
pip="$venv/bin/python -m pip --disable-pip-version-check -q"
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if [ -n "${S2S_TORCH:-}" ]; then
    $pip install "$S2S_TORCH"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    $pip install torch
  else
    # A CPU machine: the CPU wheel (a local one where the machine has it, else PyTorch's CPU index).
    $pip install torch==2.13.0 2>/dev/null || $pip install torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
$pip install -e ".[lm,test,export,mt,images]"
bash tools/install_kenlm.sh
echo "$want" > "$stamp"
echo "tools/setup.sh: done ($venv)"
