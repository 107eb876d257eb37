#!/usr/bin/env bash
# Builds the signed RAUC update bundle (README "Field updates") from the same root file system
# that `make image` puts into slot A: build/image/root.ext4 (made by image/build-image.sh img,
# which this runs when it is missing).
#
#   image/build-bundle.sh            (make bundle) -> build/bundle/lawline-<version>.raucb
#
# Format verity: RAUC checks the signature over the manifest and the dm-verity root hash, and
# every block as it reads it (a bundle damaged on its way to the box fails, never half-installs).
# Signed with RAUC_KEY/RAUC_CERT (the vendor's; PEM files or PKCS#11 URLs) or the development key
# in build/rauc-keys/ (image/lib.sh rauc_keys), and checked here against the keyring the image
# trusts (build/image/rootfs/etc/rauc/keyring.pem), so a key that the boxes would refuse is
# caught now. MKSQUASHFS_ARGS: how the payload is compressed (default zstd, level 19).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

BUILD=${BUILD:-$repo/build}
OUT=$BUILD/image
BUNDLES=$BUILD/bundle
MKSQUASHFS_ARGS=${MKSQUASHFS_ARGS:--comp zstd -Xcompression-level 19 -b 1M}
need_root

[ -d "$OUT/rootfs" ] || "$here/build-image.sh" rootfs
if [ ! -f "$OUT/root.ext4" ] || [ "$OUT/rootfs/usr/lib/lawline/version" -nt "$OUT/root.ext4" ]; then
    "$here/build-image.sh" img
fi
host_tools rauc squashfs-tools
rauc_keys "$BUILD/rauc-keys"
version=$(cat "$OUT/root.ext4.version")
compatible=$(sed -n 's/^compatible=//p' "$OUT/rootfs/etc/rauc/system.conf")
keyring=$OUT/rootfs/etc/rauc/keyring.pem
[ -n "$compatible" ] && [ -f "$keyring" ] || die "no RAUC system.conf/keyring in $OUT/rootfs"

t0=$SECONDS
content=$BUNDLES/content
rm -rf "$content"; mkdir -p "$content"
ln "$OUT/root.ext4" "$content/root.ext4" 2>/dev/null || cp "$OUT/root.ext4" "$content/root.ext4"
cat > "$content/manifest.raucm" <<MF
[update]
compatible=$compatible
version=$version
description=lawline box ($compatible)
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=verity

[image.rootfs]
filename=root.ext4
MF
out=$BUNDLES/lawline-$version.raucb
rm -f "$out"
log "bundle: $version for $compatible, signed with $SIGN_CERT"
rauc bundle --cert="$SIGN_CERT" --key="$SIGN_KEY" --signing-keyring="$keyring" \
    --mksquashfs-args="$MKSQUASHFS_ARGS" "$content" "$out" >&2
rm -rf "$content"
rauc info --keyring="$keyring" "$out" >/dev/null 2>&1 \
    || die "the bundle does not verify against the image's keyring $keyring"
ln -sfn "$(basename "$out")" "$BUNDLES/lawline.raucb"
log "bundle: $out $(stat -c %s "$out") bytes in $((SECONDS - t0)) s (root.ext4 $(stat -c %s "$OUT/root.ext4") bytes)"
