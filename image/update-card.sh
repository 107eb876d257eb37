#!/usr/bin/env bash
# Reflashes a lawline SD card from a PC without touching its data partition (LAWDATA: the
# spool, databases, /etc/lawline, the journal, ssh keys): writes only partitions 1 (boot, with
# U-Boot's environment: slot A first) and 2 (root slot A) of the image onto the card, after
# checking that both have the same layout. Slot B and LAWDATA are left as they are. A box in
# the field is updated without this: signed bundles and RAUC (README "Field updates").
#
#   image/update-card.sh build/image/lawline-arm64.img[.xz] /dev/sdX
set -euo pipefail
img=${1:?usage: update-card.sh IMAGE[.xz] DEVICE}
dev=${2:?usage: update-card.sh IMAGE[.xz] DEVICE}
[ -b "$dev" ] || { echo "$dev is not a block device" >&2; exit 1; }
if [[ $img == *.xz ]]; then
    tmp=$(mktemp --suffix=.img); trap 'rm -f "$tmp"' EXIT
    xz -dc "$img" > "$tmp"; img=$tmp
fi
layout() { sfdisk -d "$1" | grep -E '^[^ ]+[0-9] :' | sed -n '1,2p' | sed 's/^[^:]*://'; }
if [ "$(layout "$img")" != "$(layout "$dev")" ]; then
    echo "partitions 1-2 of $dev differ from the image's: flash the whole image instead" >&2
    exit 1
fi
grep -q "^$dev" /proc/mounts && { echo "$dev has mounted partitions: unmount them first" >&2; exit 1; }
for n in 1 2; do
    read -r start size < <(sfdisk -d "$img" | grep -E "^[^ ]+$n :" | sed -E 's/.*start= *([0-9]+), *size= *([0-9]+).*/\1 \2/')
    echo "writing partition $n ($((size / 2048)) MiB)"
    dd if="$img" of="$dev" bs=512 skip="$start" seek="$start" count="$size" conv=fsync status=progress
done
echo "done: partitions 3 (slot B) and 4 (LAWDATA) untouched; the box starts slot A"
