#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary into tools/kenlm/bin/ (git-ignored).
#   bash tools/install_kenlm.sh            skip when the binaries are there and run
#   KENLM_MAX_ORDER=8 bash tools/install_kenlm.sh   highest n-gram order build_binary accepts (default 6)
# Needs cmake, g++, Boost (program_options, system, thread), zlib, bz2, lzma dev packages
# (tools/setup.sh installs them) and .venv/bin/python (to fetch the kenlm sdist from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/tools/kenlm
bin=$dest/bin
cache=$root/tools/kenlm/cache
python=${PYTHON:-$root/.venv/bin/python}
max_order=${KENLM_MAX_ORDER:-6}
jobs=$(nproc 2>/dev/null || echo 2)

die() { echo "tools/install_kenlm.sh: error: $*" >&2; exit 1; }

# Idempotence: the binaries must exist *and* work (a half-copied or foreign-arch binary does
# not). Both print their usage with exit status 1, so estimate a real 2-gram instead.
works() {
  [ -x "$bin/lmplz" ] && [ -x "$bin/build_binary" ] || return 1
  local arpa
  arpa=$(echo "a b a" | "$bin/lmplz" -o 2 --discount_fallback -S 100M 2>/dev/null) || return 1
  case $arpa in *"\\end\\"*) ;; *) return 1 ;; esac
  local usage
  usage=$("$bin/build_binary" 2>&1 || true)
  case $usage in *Usage*) ;; *) return 1 ;; esac
}
if works; then
  exit 0
fi

start=$(date +%s)
command -v cmake >/dev/null || die "cmake not found; install it (apt-get install cmake) or run tools/setup.sh"
command -v g++ >/dev/null || die "g++ not found; install it (apt-get install g++) or run tools/setup.sh"
[ -x "$python" ] || die "$python not found; create the venv first (tools/setup.sh does)"
for h in /usr/include/boost/program_options.hpp /usr/include/zlib.h /usr/include/bzlib.h /usr/include/lzma.h; do
  [ -f "$h" ] || die "$h missing; install libboost-program-options-dev libboost-system-dev libboost-thread-dev zlib1g-dev libbz2-dev liblzma-dev (tools/setup.sh does)"
done

# Source: the kenlm sdist from PyPI (the same code as the kenlm Python module). Only kenlm
# itself is taken from source; its build requirements may come as wheels (building cmake
# from source would take an hour).
mkdir -p "$cache"
sdist=$(find "$cache" -maxdepth 1 -name 'kenlm-*.tar.gz' | head -n1)
if [ -z "$sdist" ]; then
  "$python" -m pip download --disable-pip-version-check -q --no-deps --no-binary kenlm \
      --no-build-isolation kenlm -d "$cache" >"$cache/download.log" 2>&1 \
    || die "could not download the kenlm sdist from PyPI; see $cache/download.log"
  sdist=$(find "$cache" -maxdepth 1 -name 'kenlm-*.tar.gz' | head -n1)
  [ -n "$sdist" ] || die "pip did not leave a kenlm-*.tar.gz in $cache; see $cache/download.log"
fi

src=$dest/src
build=$dest/build
rm -rf "$src" "$build"
mkdir -p "$src" "$build" "$bin"
tar xzf "$sdist" -C "$src" --strip-components=1 || die "could not unpack $sdist; delete it and re-run"

log=$dest/build.log
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER="$max_order" \
         -DCOMPILE_TESTS=OFF -DBUILD_TESTING=OFF \
       && cmake --build "$build" --parallel "$jobs" --target lmplz build_binary; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "KenLM build failed; full log in $log"
fi
for b in lmplz build_binary; do
  f=$(find "$build" -type f -name "$b" -perm -u+x | head -n1)
  [ -n "$f" ] || die "build finished but $b was not produced; see $log"
  cp "$f" "$bin/$b.tmp" && mv "$bin/$b.tmp" "$bin/$b"
done
works || die "$bin/lmplz or build_binary was built but does not run; see $log"
rm -rf "$src" "$build"
echo "tools/install_kenlm.sh: built lmplz and build_binary (max order $max_order) in $bin in $(( $(date +%s) - start )) s"
