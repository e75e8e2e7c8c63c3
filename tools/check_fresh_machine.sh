#!/usr/bin/env bash
# Check that the README's two commands work on a fresh machine: build a clean Debian root with
# debootstrap (variant minbase, plus only python3, git and make), clone this repository's
# committed HEAD into it, and run `make test`, then `make demo`, inside it. Prints each
# command's exit status and duration and ends with one line `RESULT ...`.
#
#   tools/check_fresh_machine.sh [--suite bookworm] [--mirror URL] [--dir DIR] [--keep true] [--only test|demo|both]
#
# Needs root and debootstrap (apt-get install debootstrap); takes 30-60 minutes on 2 cores.
# The machine's pip configuration (pip.conf files and PIP_* variables, and the local wheel
# directories, index directories and certificate files they name) is carried into the root, so
# a machine that gets its CPU torch wheel from a local directory gets the same wheel inside.
# Nothing else of the host goes in. Logs: DIR/test.log, DIR/demo.log.
set -euo pipefail

suite=bookworm                       # Debian 12; trixie for Debian 13
mirror=http://deb.debian.org/debian  # the standard Debian mirror
dir=/var/tmp/s2s-fresh               # where the root is built (removed first)
keep=false                           # keep the root afterwards
only=both                            # test, demo or both

while [ $# -gt 0 ]; do
  case $1 in
    --suite) suite=$2 ;; --mirror) mirror=$2 ;; --dir) dir=$2 ;; --keep) keep=$2 ;; --only) only=$2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "$0: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
case $only in test|demo|both) ;; *) echo "$0: --only must be test, demo or both" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: debootstrap not found; apt-get install debootstrap" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$dir/root
mounts=()

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  if [ "$keep" != true ]; then rm -rf "$root"; fi
}
trap cleanup EXIT
bind() {  # bind SRC [ro]: mount host path SRC at the same path inside the root
  local src=$1 dst=$root$1
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; : > "$dst"; fi
  mount --bind "$src" "$dst"; mounts+=("$dst")
  if [ "${2:-}" = ro ]; then mount -o remount,bind,ro "$dst"; fi
}

t0=$SECONDS
rm -rf "$root"; mkdir -p "$dir"
echo "$(date '+%F %T') debootstrap --variant=minbase $suite $root $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$dir/debootstrap.log" 2>&1 ||
  { tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
# What the Debian installer writes and debootstrap does not: the machine's name and localhost.
# (torch's c10d rendezvous looks the machine's own name up, as on any installed system.)
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$(hostname)" \
  > "$root/etc/hosts"
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
mount -t sysfs sys "$root/sys"; mounts+=("$root/sys")
bind /dev; bind /dev/pts
mount -t tmpfs shm "$root/dev/shm"; mounts+=("$root/dev/shm")

# The machine's own certificate authorities (a proxy's CA, say) and pip configuration, with the
# local paths it names: directories are mounted read-only, files copied. The certificate bundle
# itself is rebuilt inside by Debian's ca-certificates from those authorities.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
pip_env=()
for f in /etc/pip.conf /etc/xdg/pip/pip.conf; do
  if [ -f "$f" ]; then mkdir -p "$root$(dirname "$f")"; cp "$f" "$root$f"; fi
done
while IFS= read -r v; do pip_env+=("$v"); done < <(env | grep '^PIP_' || true)
paths=$( { cat /etc/pip.conf /etc/xdg/pip/pip.conf 2>/dev/null || true; env | grep '^PIP_' || true; } |
  grep -oE '(file://)?/[^ ,"'"'"']+' | sed 's|^file://||' | sort -u)
for p in $paths; do
  case $p in /|/etc|/etc/ssl/*|/usr|/usr/*|/bin*|/lib*|/proc*|/sys*|/dev*) continue ;; esac
  if [ -d "$p" ] && [ ! -e "$root$p" ]; then bind "$p" ro; echo "mounted into the root: $p"
  elif [ -f "$p" ]; then mkdir -p "$root$(dirname "$p")"; cp "$p" "$root$p"; echo "copied into the root: $p"; fi
done

chroot_run() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${pip_env[@]}" bash -c "$1"
}
echo "$(date '+%F %T') installing python3 git make"
chroot_run "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 git make ca-certificates >/dev/null"
git clone -q "$repo" "$root/root/s2s"
# shellcheck disable=SC2016  # expanded inside the root
echo "fresh root: $(chroot_run 'python3 -V; . /etc/os-release; echo $PRETTY_NAME' | tr '\n' ' ')at commit $(git -C "$repo" rev-parse --short HEAD)"
setup_s=$((SECONDS - t0))

result="RESULT suite=$suite setup_s=$setup_s"
status=0
for target in test demo; do
  [ "$only" = both ] || [ "$only" = "$target" ] || continue
  echo "$(date '+%F %T') make $target (log: $dir/$target.log)"
  t=$SECONDS
  rc=0
  chroot_run "cd /root/s2s && make $target" > "$dir/$target.log" 2>&1 || rc=$?
  secs=$((SECONDS - t))
  echo "make $target: exit $rc after $((secs / 60)) min $((secs % 60)) s; last lines:"
  tail -n 5 "$dir/$target.log" | sed 's/^/  /'
  result+=" ${target}_rc=$rc ${target}_s=$secs"
  [ $rc -eq 0 ] || status=1
done
echo "$result total_s=$((SECONDS - t0))"
exit $status
