#!/usr/bin/env bash
# A minimal Debian bookworm root for the systemd test (tests/systemd): systemd as PID 1 in a
# systemd-nspawn container, with the shared libraries the host's Python, pjsua2, numpy and
# PortAudio load (the venv and the repo are bind-mounted read-only; nothing of lawline is
# installed here). Built once per package list and cached: build/ is not in git.
#   tests/systemd/rootfs.sh [DIR]     prints the root's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pkgs=(systemd systemd-sysv dbus python3 libssl3 libffi8 libsqlite3-0 libuuid1 zlib1g libbz2-1.0
      liblzma5 libexpat1 libreadline8 libncursesw6 libtirpc3 libstdc++6 libportaudio2 libasound2
      ca-certificates)
key=$(printf '%s\n' bookworm "${pkgs[@]}" | sha256sum | cut -c1-12)
root=${1:-$repo/build/systemd-test/rootfs-$key}
if [ -e "$root/.complete" ]; then echo "$root"; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "rootfs.sh: mmdebstrap needs root" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "rootfs.sh: apt-get install mmdebstrap" >&2; exit 1; }
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"     # one build at a time; a second run waits and takes the result
flock 9
if [ -e "$root/.complete" ]; then echo "$root"; exit 0; fi
rm -rf "$root" "$root.tmp"
include=$(IFS=,; echo "${pkgs[*]}")
start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include="$include" \
    --customize-hook='rm -f "$1"/etc/machine-id; : > "$1"/etc/machine-id' \
    bookworm "$root.tmp" >&2
mv "$root.tmp" "$root"
touch "$root/.complete"
echo "rootfs.sh: built $root in $(( $(date +%s) - start )) s" >&2
echo "$root"
