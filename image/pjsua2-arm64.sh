#!/usr/bin/env bash
# Builds the pjsua2 wheel for aarch64 (Raspberry Pi 4/5, Debian bookworm, Python 3.11) from the
# vendored pjproject 2.15.1 tarball, inside an arm64 bookworm chroot run through qemu-user, then
# proves it there: the wheel installs into a venv, `import pjsua2` works, and a call between two
# arm64 pjsua2 processes carries a tone (image/pjsua2-proof.py).
#
#   image/pjsua2-arm64.sh [chroot|wheel|proof|all]     (default: all; `make pjsua2-arm64`)
#
# Cached: the chroot in build/arm64-build/, the wheel in build/wheels/. Re-runs are instant;
# delete those to rebuild. Environment: PJPROJECT_TARBALL (default ../shared/vendor/...);
# on a machine with internet, the tarball of upstream's tag 2.15.1 made with `git archive
# --prefix=pjproject-2.15.1/ 2.15.1` has the same tree; whichever is used must match PJ_SHA256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

PJ_VERSION=2.15.1
PJ_SHA256=380bb718c991a662a15288210d580861ab4ce25222f50043313159ad3f267b8e
PJPROJECT_TARBALL=${PJPROJECT_TARBALL:-$repo/../shared/vendor/pjproject-$PJ_VERSION.tar.gz}
BUILD=${BUILD:-$repo/build}
CHROOT=$BUILD/arm64-build
WHEELS=$BUILD/wheels
# Build + proof packages. Keep in step with what tools/build-pjsua2.sh needs on a Pi.
PACKAGES=build-essential,swig,python3-dev,python3-venv,python3-pip,python3-setuptools,python3-wheel,libasound2-dev,libssl-dev,pkg-config,ca-certificates
stage=${1:-all}

need_root

make_chroot() {
    local stamp="$CHROOT/.lawline-chroot"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$PACKAGES" ]; then
        log "chroot cached: $CHROOT"; return 0
    fi
    host_tools mmdebstrap arch-test
    arm64_binfmt
    rm -rf "$CHROOT" "$CHROOT.tmp"
    # mmdebstrap resolves the target's parent: a fresh clone has no build/ yet
    mkdir -p "$BUILD"
    log "mmdebstrap arm64 $SUITE build chroot -> $CHROOT"
    local t0=$SECONDS
    mmdebstrap --arch=arm64 --variant=apt --include="$PACKAGES" \
        "$SUITE" "$CHROOT.tmp" - < <(mmdebstrap_sources | sed 's/ non-free-firmware//')
    echo "$PACKAGES" > "$CHROOT.tmp/.lawline-chroot"
    mv "$CHROOT.tmp" "$CHROOT"
    log "chroot made in $((SECONDS - t0)) s"
}

wheel_path() { ls "$WHEELS"/pjsua2-"$PJ_VERSION"-*-linux_aarch64.whl 2>/dev/null | head -1; }

build_wheel() {
    if [ -n "$(wheel_path)" ]; then log "wheel cached: $(wheel_path)"; return 0; fi
    [ -f "$PJPROJECT_TARBALL" ] || die "no pjproject tarball at $PJPROJECT_TARBALL"
    echo "$PJ_SHA256  $PJPROJECT_TARBALL" | sha256sum -c --quiet - \
        || die "$PJPROJECT_TARBALL does not match the pinned sha256 $PJ_SHA256"
    log "sha256 ok: $PJPROJECT_TARBALL"
    make_chroot
    arm64_binfmt
    rm -rf "$CHROOT/build"
    mkdir -p "$CHROOT/build/out" "$WHEELS"
    cp "$PJPROJECT_TARBALL" "$CHROOT/build/pjproject.tar.gz"
    install -m 0755 "$repo/tools/build-pjsua2.sh" "$CHROOT/build/build-pjsua2.sh"
    log "building pjproject + pjsua2 wheel for aarch64 (qemu-user; ~40 min on 2 x86 cores)"
    local t0=$SECONDS
    in_chroot "$CHROOT" MAKEFLAGS="-j$(nproc)" -- \
        /build/build-pjsua2.sh --wheel-only /build/out /build/pjproject.tar.gz
    cp "$CHROOT"/build/out/pjsua2-*.whl "$WHEELS/"
    echo "$(( SECONDS - t0 ))" > "$WHEELS/build-seconds.txt"
    log "wheel built in $((SECONDS - t0)) s: $(wheel_path)"
    rm -rf "$CHROOT/build"
}

proof() {
    local whl; whl=$(wheel_path)
    [ -n "$whl" ] || die "no wheel in $WHEELS (run: $0 wheel)"
    make_chroot
    arm64_binfmt
    mkdir -p "$CHROOT/proof"
    cp "$whl" "$CHROOT/proof/"
    install -m 0644 "$here/pjsua2-proof.py" "$CHROOT/proof/pjsua2-proof.py"
    # a throw-away self-signed certificate for the TLS leg (made on the host: no openssl CLI in the chroot)
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -keyout "$CHROOT/proof/key.pem" -out "$CHROOT/proof/cert.pem" 2>/dev/null
    log "proof: venv + wheel install + import + two-process call, in the arm64 chroot"
    in_chroot "$CHROOT" -- sh -ec '
        rm -rf /proof/venv
        python3 -m venv /proof/venv
        /proof/venv/bin/pip install --no-index --no-deps /proof/'"$(basename "$whl")"'
        cd /tmp
        /proof/venv/bin/python -c "import platform, pjsua2; print(\"import pjsua2 ok on\", platform.machine())"
        /proof/venv/bin/python /proof/pjsua2-proof.py --transport udp --port 5371 --wav /proof/udp.wav
        /proof/venv/bin/python /proof/pjsua2-proof.py --transport tls --port 5381 --wav /proof/tls.wav \
            --cert /proof/cert.pem --key /proof/key.pem'
    rm -rf "$CHROOT/proof"
    log "proof passed"
}

case $stage in
    chroot) make_chroot ;;
    wheel) build_wheel ;;
    proof) proof ;;
    all) build_wheel; proof ;;
    *) die "unknown stage $stage (chroot|wheel|proof|all)" ;;
esac
