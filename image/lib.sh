# Shared helpers for the image/ scripts (sourced, not run). Host: Debian 12 x86-64 or arm64, root.
# shellcheck shell=bash

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
# sfdisk, mkfs.*, mke2fs, losetup, chroot live in sbin, which a plain `env -i` PATH lacks
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap root mode, chroot)"; }

# Install the host tools that are missing (Debian package names).
host_tools() {
    local missing=() p
    for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2; }
}

# arm64 binaries through qemu-user: nothing of this persists across a reboot or a new machine, and
# the binfmt-support service does not start by itself in a container, so do it here every time.
arm64_binfmt() {
    [ "$(uname -m)" = aarch64 ] && return 0
    host_tools qemu-user-static binfmt-support
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
        || die "qemu-aarch64 binfmt handler not enabled"
}

mmdebstrap_sources() {
    printf '%s\n' "deb $MIRROR $SUITE main non-free-firmware" \
        "deb $MIRROR $SUITE-updates main non-free-firmware" \
        "deb $SECURITY_MIRROR $SUITE-security main non-free-firmware"
}

# Run a command inside an arm64 chroot with /proc, /sys, /dev mounted for the call only, and a
# clean environment (host PIP_*, proxies' CA etc. must not leak in unless passed on purpose).
#   in_chroot DIR [VAR=value ...] -- command args...
in_chroot() {
    local root=$1; shift
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    local m mounted=()
    for m in proc sys dev dev/pts; do mountpoint -q "$root/$m" && continue
        case $m in
            proc) mount -t proc proc "$root/proc" ;;
            sys) mount -t sysfs sys "$root/sys" ;;
            dev) mount --bind /dev "$root/dev" ;;
            dev/pts) mount --bind /dev/pts "$root/dev/pts" ;;
        esac
        mounted=("$root/$m" "${mounted[@]}")
    done
    local rc=0
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        "${envs[@]}" chroot "$root" "$@" || rc=$?
    for m in "${mounted[@]}"; do umount -l "$m" || true; done
    return $rc
}

# The host's CA bundle, copied into a chroot for pip only (this sandbox's HTTPS is intercepted by a
# proxy whose CA only the host trusts). Removed again by chroot_ca_remove; never left in an image.
chroot_ca_copy() { install -m 0644 /etc/ssl/certs/ca-certificates.crt "$1/tmp/host-ca.crt"; }
chroot_ca_remove() { rm -f "$1/tmp/host-ca.crt"; }

# The key that signs update bundles, and the keyring the image trusts (README "Field updates").
# A vendor's own: RAUC_KEY, RAUC_CERT (PEM files or PKCS#11 URLs) and RAUC_KEYRING (the CA the
# image trusts; default RAUC_CERT). Without them a development key is made once into
# build/rauc-keys/ (never committed, never for the field: its subject says so).
rauc_keys() {
    local dir=$1
    if [ -n "${RAUC_KEY:-}" ] || [ -n "${RAUC_CERT:-}" ]; then
        [ -n "${RAUC_KEY:-}" ] && [ -n "${RAUC_CERT:-}" ] || die "set both RAUC_KEY and RAUC_CERT"
        SIGN_KEY=$RAUC_KEY SIGN_CERT=$RAUC_CERT KEYRING=${RAUC_KEYRING:-$RAUC_CERT}
        return 0
    fi
    SIGN_KEY=$dir/dev.key.pem SIGN_CERT=$dir/dev.cert.pem KEYRING=${RAUC_KEYRING:-$dir/dev.cert.pem}
    [ -f "$SIGN_KEY" ] && [ -f "$SIGN_CERT" ] && return 0
    host_tools openssl
    mkdir -p "$dir"; chmod 0700 "$dir"
    log "making a development signing key: $SIGN_KEY (for tests; a vendor sets RAUC_KEY/RAUC_CERT)"
    openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -keyout "$SIGN_KEY" -out "$SIGN_CERT" \
        -subj "/O=lawline development/CN=lawline update signing DEVELOPMENT KEY not for the field" \
        2>/dev/null || die "openssl could not make the development key"
    chmod 0600 "$SIGN_KEY"
}
