#!/usr/bin/env bash
# Builds the pjsua2 Python wheel (pjproject's SWIG binding) from pjproject's source, natively:
# on a Raspberry Pi, or inside the arm64 chroot image/pjsua2-arm64.sh makes (`make pjsua2-arm64`),
# which is how the image gets it. No aarch64/armv7 pjsua2 wheel exists anywhere
# (shared reference/pjsua2.md, "The package").
#
#   tools/build-pjsua2.sh OUTDIR PJPROJECT_TARBALL_OR_DIR [VENV]
#       OUTDIR    the wheel is written here (pjsua2-2.15.1-cp311-cp311-linux_aarch64.whl on a Pi)
#       VENV      optional: also pip-install the wheel into it and import it
#   --wheel-only  (first argument, accepted for clarity; the default)
#
# Needs: build-essential swig python3-dev python3-setuptools python3-wheel libasound2-dev
# libssl-dev (installed below when missing and apt is usable).
# What is in it: G.711 (PCMA, PCMU), SRTP (bundled libsrtp), TLS through the system OpenSSL 3,
# ALSA; no video, no optional codecs (the box pins G.711), speex codec and speex AEC both off
# (--disable-speex-codec alone leaves echo_common.o referencing the speex AEC: link failure).
# pjproject's own test and sample programs are not built (`make lib`).
# -g0: without it the single SWIG translation unit takes 949 s and 1.6 GB under qemu-user.
# pjsip's defaults are not changed (PJSIP_MAX_PKT_LEN 4000: sip/door.py relies on it).
set -euo pipefail
[ "${1:-}" = --wheel-only ] && shift
out=${1:?usage: tools/build-pjsua2.sh OUTDIR PJPROJECT_TARBALL_OR_DIR [VENV]}
src=${2:?usage: tools/build-pjsua2.sh OUTDIR PJPROJECT_TARBALL_OR_DIR [VENV]}
venv=${3:-}
mkdir -p "$out"; out=$(cd "$out" && pwd)

pkgs="build-essential swig python3-dev python3-setuptools python3-wheel libasound2-dev libssl-dev"
missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get install -y --no-install-recommends $missing
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -f "$src" ]; then
    tar -xzf "$src" -C "$work"
    src=$(echo "$work"/pjproject-*)
else
    cp -a "$src" "$work/pjproject"; src=$work/pjproject
fi
cd "$src"

cat > pjlib/include/pj/config_site.h <<'H'
#define PJMEDIA_HAS_VIDEO 0
#define PJMEDIA_AUDIO_DEV_HAS_ALSA 1
#define PJMEDIA_HAS_SRTP 1
#define PJ_HAS_SSL_SOCK 1
H
export CFLAGS="-fPIC -O2 -g0" CXXFLAGS="-fPIC -O2 -g0"
t0=$SECONDS
./configure --with-ssl --disable-video --disable-v4l2 --disable-sdl --disable-ffmpeg \
    --disable-openh264 --disable-vpx --disable-libyuv --disable-libwebrtc \
    --disable-speex-codec --disable-speex-aec --disable-ilbc-codec --disable-gsm-codec \
    --disable-g722-codec --disable-g7221-codec --disable-l16-codec --disable-opencore-amr \
    --disable-silk --disable-opus --disable-bcg729 --disable-lyra --disable-upnp
grep -q '^#define PJ_HAS_SSL_SOCK 1\|PJ_SSL_SOCK_IMP_OPENSSL' pjlib/include/pj/compat/os_auto.h \
    || { echo "configure did not find OpenSSL" >&2; exit 1; }
echo "configure: $((SECONDS - t0)) s"
make -j"$(nproc)" lib
echo "pjproject libraries: $((SECONDS - t0)) s"
cd pjsip-apps/src/swig/python
make pjsua2_wrap.cpp
# setup.py appends $CFLAGS after Python's own (-g ... -O2), so -g0 wins.
python3 setup.py bdist_wheel --dist-dir "$out"
echo "pjsua2 wheel: $((SECONDS - t0)) s"
whl=$(ls "$out"/pjsua2-*.whl | head -1)
echo "wheel: $whl"
if [ -n "$venv" ]; then
    "$venv/bin/pip" install --no-deps --force-reinstall "$whl"
    (cd / && "$venv/bin/python" -c "import pjsua2; print('pjsua2 ok')")
fi
